import type { Logger } from '../lib/index.js';
import { CodedError } from '../lib/index.js';
import type { Instance } from '../model/index.js';
import { HostPortAllocatedError, formatFieldError, serviceKey } from '../model/index.js';
import type { ChangeLog } from './change-log.js';
import { stableStringify } from './deep-freeze.js';
import type { EventTable } from './event-table.js';
import type { HostPortTable } from './host-port-table.js';
import type { InstanceCache } from './instance-cache.js';
import type { ObjectRows } from './object-rows.js';
import type { ServiceIntentWriter } from './service-intent-writer.js';
import type { SpecHistory } from './spec-history.js';
import type { JsonRow } from './sqlite-statements.js';
import type { ControllerWrites } from './store.js';

/**
 * The controllers' writer of the SQLite store (swarmkit's DesiredState writer, docs/store.md "Three
 * writers"): instances created, their desired state, instances deleted, services' status, an automatic
 * rollback, and service records deleted once no instance is left. `apply` runs inside the store's write
 * transaction (SqliteStore.write): all of a ControllerWrites is written, or nothing.
 */
export class ControllerWriter {
  constructor(
    private readonly deps: {
      readonly rows: ObjectRows;
      readonly log: ChangeLog;
      readonly instances: InstanceCache;
      readonly hostPorts: HostPortTable;
      readonly history: SpecHistory;
      readonly events: EventTable;
      /** An automatic rollback is an intent change made for the controller. */
      readonly intent: ServiceIntentWriter;
      readonly logger: Logger;
      /** Now, as an RFC 3339 time. */
      readonly now: () => string;
    },
  ) {}

  /**
   * Writes `writes` in this order: created instances, desired states, deleted instances, service
   * statuses, the rollback, deleted services, events. An unchanged desired state or status (apart from
   * `updatedAt`, and the data plane's conditions, kept as stored) writes nothing; unknown ids are skipped.
   * @throws CodedError INTERNAL when a created instance's id exists (ids are never reused)
   */
  apply(writes: ControllerWrites): void {
    const { rows, log } = this.deps;
    const { stmt } = rows;
    const now = this.deps.now();
    for (const n of writes.createInstances ?? []) {
      if (stmt.getInstance.get(n.id)) throw new CodedError('INTERNAL', `instance "${n.id}" already exists; instance ids are never reused`, { id: n.id });
      const revision = log.next();
      const instance: Instance = { ...n, version: revision, createdAt: now, status: { state: 'new', timestamp: now, message: 'created' } };
      const json = JSON.stringify(instance);
      rows.insertInstance(n, json, revision);
      this.deps.instances.remember(n.id, revision, log.record('instance', 'put', n.id, json, revision) as Instance);
    }
    for (const d of writes.setDesired ?? []) {
      const current = rows.instance(d.id);
      if (!current || (current.desiredState === d.desiredState && current.desiredReason === d.reason)) continue;
      rows.putInstance({ ...current, desiredState: d.desiredState, desiredReason: d.reason });
    }
    for (const id of writes.deleteInstances ?? []) {
      const row = stmt.getInstance.get(id) as JsonRow | undefined;
      if (!row) continue;
      rows.deleteInstance(id);
      log.record('instance', 'delete', id, row.json, log.next());
    }
    for (const { grid, name, status } of writes.serviceStatus ?? []) {
      const current = rows.service(grid, name);
      if (!current) continue;
      // The data plane's conditions are not the controllers' to write: they are kept as they are.
      const next = current.status.conditions === undefined ? status : { ...status, conditions: current.status.conditions };
      if (sameIgnoring(current.status, next, 'updatedAt')) continue;
      // Status is the controllers' field: version (the API's compare-and-set token) stays.
      rows.putService({ ...current, status: next }, log.next());
    }
    if (writes.rollback) this.autoRollback(writes.rollback);
    for (const { grid, name } of writes.deleteServices ?? []) {
      const row = stmt.getService.get(grid, name) as JsonRow | undefined;
      if (!row) continue;
      const left = (stmt.countInstancesOfService.get(grid, name) as { n: number }).n;
      if (left > 0) {
        this.deps.logger.warn({ grid, service: name, instances: left }, 'service record kept: it still has instances');
        continue;
      }
      stmt.deleteService.run(grid, name);
      this.deps.history.remove(grid, name);
      this.deps.hostPorts.release(grid, name);
      log.record('service', 'delete', serviceKey(grid, name), row.json, log.next());
    }
    this.deps.events.append(writes.events ?? []);
  }

  /**
   * Redeploys the spec of `r.toGeneration` when the deployment is still the one that failed
   * (`ifRequestedAt`). A rollback whose old spec asks for a listener taken since is refused: the rollout
   * pauses with the reason, and a `service.update_paused` event says so.
   */
  private autoRollback(r: NonNullable<ControllerWrites['rollback']>): void {
    const { rows, log } = this.deps;
    const current = rows.service(r.grid, r.name);
    if (!current || current.desired === 'removing' || current.deployment?.requestedAt !== r.ifRequestedAt) return;
    const target = this.deps.history.read(r.grid, r.name, r.toGeneration);
    if (!target) {
      this.deps.logger.warn({ grid: r.grid, service: r.name, generation: r.toGeneration }, 'rollback target is no longer in the history');
      return;
    }
    try {
      this.deps.intent.apply(current, { spec: target.spec, deploy: true, rollbackTo: r.toGeneration, deploymentCause: 'auto-rollback', cause: `automatic rollback to ${r.toGeneration}` });
    } catch (error) {
      if (!(error instanceof HostPortAllocatedError)) throw error;
      // The old spec asks for a listener another service took since: the rollback is refused and the
      // rollout pauses (as failureAction pause), saying why; nothing of the rollback is written.
      const message = `update to generation ${current.deployment?.generation ?? '?'} failed, and the automatic rollback to generation ${r.toGeneration} is refused: ${error.causes.map(formatFieldError).join('; ')}`;
      const update = current.status.update;
      if (update) rows.putService({ ...current, status: { ...current.status, update: { ...update, state: 'paused', message } } }, log.next());
      this.deps.events.append([{ grid: r.grid, service: r.name, type: 'service.update_paused', severity: 'warning', message, data: { rollbackTo: r.toGeneration } }]);
    }
  }
}

/** True when `a` and `b` are equal apart from `ignored` (so a controller rewriting the same status does not wake itself). */
function sameIgnoring<T extends object>(a: T, b: T, ignored: keyof T): boolean {
  return stableStringify({ ...a, [ignored]: undefined }) === stableStringify({ ...b, [ignored]: undefined });
}
