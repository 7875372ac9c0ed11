import type { Instance, NewServiceEvent, Service, ServiceSpec } from '../model/index.js';
import {
  GridNotFoundError,
  InstanceNotFoundError,
  RequestInvalidError,
  ServiceExistsError,
  ServiceNotDeployedError,
  ServiceNotFoundError,
  ServiceRemovingError,
  VersionConflictError,
  isTerminal,
} from '../model/index.js';
import type { AccessTables } from './access-tables.js';
import type { ChangeLog } from './change-log.js';
import { deepFreeze, stableStringify } from './deep-freeze.js';
import type { EventTable } from './event-table.js';
import type { HostPortTable } from './host-port-table.js';
import type { ObjectRows } from './object-rows.js';
import type { SpecHistory } from './spec-history.js';
import type { ServiceIntentChange } from './store.js';

/** The desiredReason of an instance a user removed (`removeInstance`). */
export const REMOVED_BY_USER = 'removed by user';

/** An intent change as the store applies it: an automatic rollback also says so in the deployment. */
export type AppliedIntentChange = ServiceIntentChange & { readonly deploymentCause?: 'deploy' | 'rollback' | 'auto-rollback' };

/**
 * The API writer of the SQLite store (swarmkit's Spec writer, docs/store.md "Three writers"): a
 * service's intent — spec, deployment, desired — with its version, generation, spec history and
 * host-listener claims, and the user's one instance write, `removeInstance`. Every method runs inside
 * the store's write transaction (SqliteStore.write): one that throws leaves nothing written.
 */
export class ServiceIntentWriter {
  constructor(
    private readonly deps: {
      readonly rows: ObjectRows;
      readonly log: ChangeLog;
      readonly access: AccessTables;
      readonly hostPorts: HostPortTable;
      readonly history: SpecHistory;
      readonly events: EventTable;
      /** Ids of new services. */
      readonly newId: () => string;
      /** Now, as an RFC 3339 time. */
      readonly now: () => string;
    },
  ) {}

  /**
   * A new service at generation 1, deployed when `input.deploy`; its listeners claimed, its spec the
   * first of its history.
   * @throws GridNotFoundError, ServiceExistsError, HostPortAllocatedError
   */
  create(input: { readonly grid: string; readonly spec: ServiceSpec; readonly deploy: boolean; readonly events?: readonly NewServiceEvent[] }): Service {
    const { rows, log, history } = this.deps;
    const { grid, spec } = input;
    if (!this.deps.access.getGrid(grid)) throw new GridNotFoundError(grid);
    if (rows.service(grid, spec.name)) throw new ServiceExistsError(grid, spec.name);
    this.deps.hostPorts.claim(grid, spec.name, spec);
    const revision = log.next();
    const now = this.deps.now();
    const service: Service = {
      id: this.deps.newId(),
      grid,
      name: spec.name,
      version: revision,
      generation: 1,
      createdAt: now,
      updatedAt: now,
      spec,
      deployment: input.deploy ? { generation: 1, spec, requestedAt: now, restartGeneration: 0 } : null,
      desired: 'running',
      status: { phase: 'initialized', desiredInstances: 0, runningInstances: 0, observedGeneration: 0, message: 'created', updatedAt: now },
    };
    const stored = rows.putService(service, revision);
    history.record(grid, spec.name, { generation: 1, spec, createdAt: now, cause: 'create', ...(input.deploy ? { deployedAt: now } : {}) });
    this.deps.events.append(input.events ?? []);
    return stored;
  }

  /**
   * Changes the intent of `grid/name` (compare-and-set on `ifVersion` when given). Once `desired` is
   * `removing`, any change but `desired: 'removing'` is refused.
   * @throws ServiceNotFoundError, VersionConflictError, ServiceRemovingError, and what `apply` throws
   */
  update(grid: string, name: string, change: ServiceIntentChange, ifVersion: number | undefined): Service {
    const current = this.deps.rows.service(grid, name);
    if (!current) throw new ServiceNotFoundError(grid, name);
    if (ifVersion !== undefined && ifVersion !== current.version) {
      throw new VersionConflictError(`service "${name}" in grid "${grid}"`, ifVersion, current.version);
    }
    if (current.desired === 'removing') {
      const onlyRemoving = change.spec === undefined && !change.deploy && !change.restart && (change.desired ?? 'removing') === 'removing';
      if (!onlyRemoving) throw new ServiceRemovingError(grid, name);
    }
    return this.apply(current, change);
  }

  /**
   * The body of an intent change: new version, history, deployment, events. A change that alters
   * nothing (same spec, no deploy or restart, same desired) writes nothing and returns `current`.
   * @throws RequestInvalidError (spec.name differs), HostPortAllocatedError, ServiceNotDeployedError (restart)
   */
  apply(current: Service, change: AppliedIntentChange): Service {
    const { rows, log, history } = this.deps;
    const { grid, name } = current;
    if (change.spec && change.spec.name !== name) {
      throw new RequestInvalidError(`spec.name "${change.spec.name}" does not match service "${name}"`, { field: 'spec.name' });
    }
    const specChanged = change.spec !== undefined && stableStringify(change.spec) !== stableStringify(current.spec);
    const spec = specChanged ? (change.spec as ServiceSpec) : current.spec;
    const generation = current.generation + (specChanged ? 1 : 0);
    const desired = change.desired ?? current.desired;
    const deleteVolumes = change.deleteVolumes === true && current.deleteVolumes !== true;
    if (!specChanged && !change.deploy && !change.restart && desired === current.desired && !deleteVolumes) return deepFreeze(current);

    if (specChanged) this.deps.hostPorts.claim(grid, name, spec, current.spec);
    const now = this.deps.now();
    let deployment = current.deployment;
    if (change.deploy) {
      const cause = change.deploymentCause ?? (change.rollbackTo !== undefined ? 'rollback' : 'deploy');
      deployment = {
        generation, spec, requestedAt: now, restartGeneration: deployment?.restartGeneration ?? 0,
        ...(cause !== 'deploy' ? { cause } : {}),
        ...(change.rollbackTo !== undefined ? { rollbackTo: change.rollbackTo } : {}),
        ...(spreadChanges(current, spec) ? { spreadChanged: true as const } : {}),
      };
    }
    if (change.restart) {
      if (!deployment) throw new ServiceNotDeployedError(grid, name);
      deployment = { ...deployment, requestedAt: now, restartGeneration: deployment.restartGeneration + 1 };
    }
    const revision = log.next();
    const stored = rows.putService({ ...current, version: revision, generation, updatedAt: now, spec, deployment, desired, ...(deleteVolumes ? { deleteVolumes: true } : {}) }, revision);
    if (specChanged) history.record(grid, name, { generation, spec, createdAt: now, cause: change.cause ?? 'update', ...(change.deploy ? { deployedAt: now } : {}) });
    else if (change.deploy) history.markDeployed(grid, name, generation, spec, now, change.cause ?? 'deploy');
    this.deps.events.append(change.events ?? []);
    return stored;
  }

  /**
   * The user's removal of one instance (Kubernetes' pod delete): `desiredState: shutdown` with
   * REMOVED_BY_USER; an instance that has ended or is already stopping is returned unchanged.
   * @throws InstanceNotFoundError when `id` is not an instance of `grid/service`
   */
  removeInstance(grid: string, service: string, id: string, events: readonly NewServiceEvent[]): Instance {
    const { rows } = this.deps;
    const current = rows.instance(id);
    if (!current || current.grid !== grid || current.service !== service) throw new InstanceNotFoundError(id);
    if (current.desiredState === 'shutdown' || isTerminal(current.status.state)) return deepFreeze(current);
    const stored = rows.putInstance({ ...current, desiredState: 'shutdown', desiredReason: REMOVED_BY_USER });
    this.deps.events.append(events);
    return stored;
  }
}

/**
 * Whether deploying `spec` changes the spread the service's rollout evens out (ServiceDeployment.spreadChanged):
 * its spread preferences differ from the deployed ones, or the deployed ones changed too and their
 * rollout has not completed (a deploy on top of it carries the rebalancing on). Never for a first deploy.
 */
function spreadChanges(current: Service, spec: ServiceSpec): boolean {
  const before = current.deployment;
  if (!before) return false;
  if (stableStringify(before.spec.placement?.preferences ?? []) !== stableStringify(spec.placement?.preferences ?? [])) return true;
  const update = current.status.update;
  const done = update?.requestedAt === before.requestedAt && (update.state === 'completed' || update.state === 'rollback_completed');
  return before.spreadChanged === true && !done;
}
