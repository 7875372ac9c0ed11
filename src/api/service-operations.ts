import type { Identity, Service, ServiceSpec } from '../model/index.js';
import { DriverUnavailableError, MAX_REPLICAS_HINT, RequestInvalidError, SpecInvalidError, parseServiceSpec, specLimitErrors } from '../model/index.js';
import { checkInstanceAddresses } from './address-capacity.js';
import { allocateNetwork } from './network-allocation.js';
import { checkPlacement } from './placement-check.js';
import type { RouteContext, ServiceParams } from './route-context.js';
import { allocationOptions, mutateService } from './route-context.js';
import { rollbackTarget } from './rollback-target.js';
import { checkSecretRefs } from './secret-routes.js';
import { changedSpecFields, deployedReplicas, describeScale, serviceEvent } from './service-events.js';
import { checkSpecAccess } from './spec-access.js';

/*
 * The writes of a service, one function each, shared by every face of the engine: berth's own routes
 * (service-routes.ts, rollout-routes.ts) and the Docker face (docker/service-routes.ts) call these and
 * nothing else, so a spec is validated, checked against who asks, allocated, counted against the
 * instance range and recorded with its events the same way whichever door it came through. Each
 * function either stores its whole change in one store write or throws before anything is stored.
 */

/** Kubernetes' dryRun=All: validate and allocate as the real write does, return what would be stored, store nothing. */
export interface DryRunOption {
  readonly dryRun?: boolean;
}

/**
 * Creates a service (POST /v1/grids/{grid}/services): parses `input.spec` with the server's limits,
 * checks what it asks for against `identity` (checkSpecAccess), its secret references and its placement
 * against the nodes (checkPlacement), allocates
 * its virtual IP and node ports, and with `deploy` also checks that its instances fit the instance
 * range and that a node can run its images.
 * @returns the stored service (or the one that would be, with dryRun).
 * @throws SpecInvalidError (400), ForbiddenError (403), SecretNotFoundError (404), ServiceExistsError
 *   (409), AllocationError / PORT_ALLOCATED / ADDRESS_EXHAUSTED / DriverUnavailableError (422).
 */
export function createService(
  ctx: RouteContext,
  identity: Identity,
  grid: string,
  input: { readonly spec: unknown; readonly deploy?: boolean },
  options: DryRunOption = {},
): Service {
  const dryRun = options.dryRun === true;
  const parsed = parseServiceSpec(input.spec, { limits: ctx.limits });
  checkSpecAccess(identity, grid, parsed, ctx.instancePolicy);
  checkSecretRefs(ctx.store, grid, parsed);
  checkPlacement(ctx.store, parsed);
  const spec = allocateNetwork(parsed, allocationOptions(ctx));
  const deploy = input.deploy ?? false;
  if (deploy) checkDeployable(ctx, { grid, name: spec.name }, spec, { dryRun });
  const events = [serviceEvent(grid, spec.name, 'service.created', `created at generation 1 with ${describeScale(spec)}`, { generation: 1 })];
  if (deploy) events.push(serviceEvent(grid, spec.name, 'service.deploy', 'deploy of generation 1 requested', { generation: 1 }));
  return ctx.store.createService({ grid, spec, deploy, events }, { dryRun });
}

/**
 * Replaces a service's spec (PUT /v1/grids/{grid}/services/{name}); the generation goes up when the
 * spec changed. With `version`, a stale one is refused (409 VERSION_CONFLICT); without, the write is
 * retried on conflicts with other writers. With `deploy`, the new spec is deployed in the same write;
 * with `force` too (the Docker face's ForceUpdate), every instance is replaced even when nothing changed.
 * @throws SpecInvalidError (400; also for a spec whose name is not the service's: no renames),
 *   ForbiddenError (403), ServiceNotFoundError (404), VersionConflictError / ServiceRemovingError (409), 422 as createService.
 */
export function updateService(
  ctx: RouteContext,
  identity: Identity,
  params: ServiceParams,
  input: { readonly spec: unknown; readonly version?: number; readonly deploy?: boolean; readonly force?: boolean },
  options: DryRunOption = {},
): Service {
  const { grid, name } = params;
  const dryRun = options.dryRun === true;
  const spec = parseServiceSpec(input.spec, { limits: ctx.limits });
  if (spec.name !== name) {
    throw new SpecInvalidError('Service', spec.name, [
      { field: 'spec.name', type: 'Invalid value', value: spec.name, detail: `must equal the service name in the path ("${name}"); a service cannot be renamed` },
    ]);
  }
  checkSpecAccess(identity, grid, spec, ctx.instancePolicy);
  checkSecretRefs(ctx.store, grid, spec);
  checkPlacement(ctx.store, spec);
  const deploy = input.deploy ?? false;
  const force = deploy && input.force === true;
  return mutateService(ctx, params, input.version, (current) => {
    const allocated = allocateNetwork(spec, allocationOptions(ctx, current));
    if (deploy) checkDeployable(ctx, params, allocated, { dryRun });
    const changed = changedSpecFields(current.spec, allocated);
    const generation = current.generation + (changed.length > 0 ? 1 : 0);
    const events = [];
    if (changed.length > 0) {
      events.push(serviceEvent(grid, name, 'service.updated', `spec updated to generation ${generation}: ${changed.join(', ')} changed`, { generation, changed }));
    }
    if (deploy) {
      const forced = force ? ' (forced: every instance is replaced)' : '';
      events.push(serviceEvent(grid, name, 'service.deploy', `deploy of generation ${generation} requested${forced}`, force ? { generation, force } : { generation }));
    }
    return { spec: allocated, deploy, ...(force ? { restart: true } : {}), events };
  }, { dryRun });
}

/**
 * Asks for a service's removal (DELETE /v1/grids/{grid}/services/{name}): desired `removing`; the
 * controller stops its instances, then deletes it. With `volumes`, a stateful service's data
 * directories go with it.
 * @throws ServiceNotFoundError (404), VersionConflictError (409)
 */
export function removeService(
  ctx: RouteContext,
  _identity: Identity,
  params: ServiceParams,
  input: { readonly version?: number; readonly volumes?: boolean } = {},
): Service {
  const volumes = input.volumes === true;
  return mutateService(ctx, params, input.version, () => ({
    desired: 'removing',
    ...(volumes ? { deleteVolumes: true } : {}),
    events: [
      serviceEvent(
        params.grid,
        params.name,
        'service.removing',
        `removal requested: instances are stopped, then the service is deleted${volumes ? ', and its data directories with it' : ''}`,
        volumes ? { volumes: true } : undefined,
      ),
    ],
  }));
}

/**
 * Deploys the current spec (POST …/deploy); `force` also replaces every instance.
 * @throws SpecInvalidError (400) for a stored spec past a limit lowered since; 404, 409, 422 as updateService.
 */
export function deployService(
  ctx: RouteContext,
  _identity: Identity,
  params: ServiceParams,
  input: { readonly version?: number; readonly force?: boolean } = {},
  options: DryRunOption = {},
): Service {
  const { grid, name } = params;
  const force = input.force ?? false;
  const dryRun = options.dryRun === true;
  return mutateService(ctx, params, input.version, (current) => {
    // A spec stored before a limit was lowered is not deployed again as it is.
    const overLimit = specLimitErrors(current.spec, ctx.limits);
    if (overLimit.length > 0) throw new SpecInvalidError('Service', name, overLimit);
    checkDeployable(ctx, params, current.spec, { dryRun });
    return {
      deploy: true,
      restart: force,
      events: [
        serviceEvent(grid, name, 'service.deploy', `deploy of generation ${current.generation} requested${force ? ' (forced: every instance is replaced)' : ''}`, {
          generation: current.generation,
          force,
        }),
      ],
    };
  }, { dryRun });
}

/**
 * Sets the replicas and deploys at once, as Kontena's scale (with any other spec change not yet deployed).
 * @throws RequestInvalidError (400) for a global service or past the server's replica limit; 404, 409, 422 as updateService.
 */
export function scaleService(ctx: RouteContext, _identity: Identity, params: ServiceParams, input: { readonly replicas: number; readonly version?: number }): Service {
  const { grid, name } = params;
  const { replicas } = input;
  return mutateService(ctx, params, input.version, (current) => {
    if (current.spec.mode === 'global') {
      const message = `service "${name}" runs in global mode (one instance on every node) and cannot be scaled; only replicated services have a replica count`;
      throw new RequestInvalidError(message, { causes: [{ field: 'replicas', message }] });
    }
    if (replicas > ctx.limits.maxReplicas) {
      const message = `must be no more than ${ctx.limits.maxReplicas} (${MAX_REPLICAS_HINT})`;
      throw new RequestInvalidError(`replicas: ${message}`, { causes: [{ field: 'replicas', message }], limit: ctx.limits.maxReplicas });
    }
    checkPlacement(ctx.store, { ...current.spec, replicas });
    checkDeployable(ctx, params, { ...current.spec, replicas }, { field: 'replicas' });
    const was = deployedReplicas(current);
    return {
      spec: { ...current.spec, replicas },
      deploy: true,
      events: [serviceEvent(grid, name, 'service.scaled', `scaled to ${replicas} ${replicas === 1 ? 'replica' : 'replicas'} (was ${was})`, { replicas, previousReplicas: was })],
    };
  });
}

/**
 * Deploys an earlier spec again (POST …/rollback): generation `to`, or by default the one deployed
 * before the current deployment (rollbackTarget: Swarm's PreviousSpec). Its virtual IP and node ports
 * are allocated again, and it must still fit the server's limits and the instance range.
 * @throws NothingToRollBackError (409), RevisionNotFoundError (404), SpecInvalidError (400) for an old
 *   spec past a limit lowered since; 404, 409, 422 as updateService.
 */
export function rollbackService(ctx: RouteContext, _identity: Identity, params: ServiceParams, input: { readonly version?: number; readonly to?: number } = {}): Service {
  const { grid, name } = params;
  return mutateService(ctx, params, input.version, (current) => {
    const target = rollbackTarget(current, ctx.store.listSpecHistory(grid, name), input.to);
    // The old spec's virtual IP and node ports may have been taken since: the same checks as create and update (422).
    const spec = allocateNetwork(target.spec, allocationOptions(ctx, current));
    // An old spec may be past a limit lowered since, or no longer fit the instance range.
    const overLimit = specLimitErrors(spec, ctx.limits);
    if (overLimit.length > 0) {
      throw new SpecInvalidError('Service', name, overLimit.map((e) => ({ ...e, detail: `${e.detail ?? ''} — in the spec of generation ${target.generation}, which cannot be deployed again as it is` })));
    }
    checkPlacement(ctx.store, spec);
    checkInstanceAddresses(ctx.store, { grid, name, spec }, { range: ctx.instanceRange, field: 'spec.replicas', limits: ctx.limits });
    const generation = current.generation + (changedSpecFields(current.spec, spec).length > 0 ? 1 : 0);
    const message = `rollback to generation ${target.generation} requested: its spec is deployed as generation ${generation}`;
    return {
      spec,
      deploy: true,
      rollbackTo: target.generation,
      cause: `rollback to ${target.generation}`,
      events: [serviceEvent(grid, name, 'service.deploy', message, { generation, rollbackTo: target.generation, cause: 'rollback' })],
    };
  });
}

/**
 * What a deploy needs beyond a valid spec: a node that can run its images (422 DRIVER_UNAVAILABLE,
 * each node's reason in the message), and room for its instances in the instance range (422, with how
 * many addresses are left). A dry run skips the driver check: it says what the store would hold, as
 * Kubernetes' dry run admits a pod without scheduling it (so `berth diff` works without an engine).
 * `field` names the field a capacity refusal points at (default `spec.replicas`).
 */
export function checkDeployable(
  ctx: RouteContext,
  params: ServiceParams,
  spec: ServiceSpec,
  options: { readonly field?: string; readonly dryRun?: boolean } = {},
): void {
  if (options.dryRun !== true) checkImageDriver(ctx.store, params.grid, params.name, spec);
  checkInstanceAddresses(ctx.store, { grid: params.grid, name: params.name, spec }, { range: ctx.instanceRange, field: options.field ?? 'spec.replicas', limits: ctx.limits });
}

/** @throws DriverUnavailableError when `spec` runs images and no node has the docker driver (each node's reason in the message). */
function checkImageDriver(store: RouteContext['store'], grid: string, name: string, spec: ServiceSpec): void {
  if (!spec.containers.some((c) => c.image !== undefined)) return;
  const nodes = store.listNodes();
  if (nodes.length === 0 || nodes.some((n) => n.drivers.includes('docker'))) return;
  throw new DriverUnavailableError(grid, name, 'docker', nodes.map((n) => `node ${n.name}: ${n.unavailableDrivers?.docker ?? 'no Docker driver'}`));
}
