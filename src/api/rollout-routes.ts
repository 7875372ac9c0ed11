import type { FastifyInstance } from 'fastify';
import type { Service, SpecHistory, SpecRevision } from '../model/index.js';
import { NothingToRollBackError, RevisionNotFoundError, SpecInvalidError, specLimitErrors } from '../model/index.js';
import { checkInstanceAddresses } from './address-capacity.js';
import { explain } from './explain.js';
import { allocateNetwork } from './network-allocation.js';
import { RollbackBody, parseRequest } from './request-schemas.js';
import type { RouteContext, ServiceParams } from './route-context.js';
import { allocationOptions, mutateService, requireService } from './route-context.js';
import { changedSpecFields, serviceEvent } from './service-events.js';

/** Spec history, rollback, and the `why` explanation of a service. */
export function registerRolloutRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { store } = ctx;

  app.get<{ Params: ServiceParams }>('/v1/grids/:grid/services/:name/history', async (request): Promise<SpecHistory> => {
    const { grid, name } = request.params;
    const service = requireService(store, grid, name);
    return { items: store.listSpecHistory(grid, name), generation: service.generation, deployedGeneration: service.deployment?.generation ?? null };
  });

  app.post<{ Params: ServiceParams }>('/v1/grids/:grid/services/:name/rollback', async (request) => {
    const { grid, name } = request.params;
    const body = parseRequest(RollbackBody, request.body, 'body');
    return mutateService(ctx, request.params, body.version, (current) => {
      const target = rollbackTarget(current, store.listSpecHistory(grid, name), body.to);
      // The old spec's virtual IP and node ports may have been taken since: the same checks as create and update (422).
      const spec = allocateNetwork(target.spec, allocationOptions(ctx, current));
      // An old spec may be past a limit lowered since, or no longer fit the instance range.
      const overLimit = specLimitErrors(spec, ctx.limits);
      if (overLimit.length > 0) {
        throw new SpecInvalidError('Service', name, overLimit.map((e) => ({ ...e, detail: `${e.detail ?? ''} — in the spec of generation ${target.generation}, which cannot be deployed again as it is` })));
      }
      checkInstanceAddresses(store, { grid, name, spec }, { range: ctx.instanceRange, field: 'spec.replicas', limits: ctx.limits });
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
  });

  app.get<{ Params: ServiceParams }>('/v1/grids/:grid/services/:name/why', async (request) => {
    const { grid, name } = request.params;
    return explain(ctx, requireService(store, grid, name), { logLines: true });
  });
}

/**
 * The version a rollback deploys: generation `to`, or by default the generation deployed most recently
 * before the current deployment whose spec differs from it. After a rollback that is the version rolled
 * back from, so a second rollback toggles back (Swarm's PreviousSpec).
 * @throws NothingToRollBackError (409) without a deployment, without an earlier deployed version, or
 *   when `to` names the spec that runs now; RevisionNotFoundError (404) for a `to` not in the history.
 */
export function rollbackTarget(service: Service, history: readonly SpecRevision[], to: number | undefined): SpecRevision {
  const { grid, name, deployment } = service;
  if (!deployment) throw new NothingToRollBackError(grid, name, `it has never been deployed; \`berth service deploy ${name}\` deploys it`);
  const same = (r: SpecRevision): boolean => changedSpecFields(deployment.spec, r.spec).length === 0;
  if (to !== undefined) {
    const target = history.find((r) => r.generation === to);
    if (!target) throw new RevisionNotFoundError(grid, name, to, history.map((r) => r.generation));
    if (same(target)) throw new NothingToRollBackError(grid, name, `generation ${to} has the spec that is deployed now (generation ${deployment.generation})`);
    return target;
  }
  const earlier = history
    .filter((r) => r.generation !== deployment.generation && r.deployedAt !== undefined && !same(r))
    .sort((a, b) => ((a.deployedAt as string) === b.deployedAt ? a.generation - b.generation : (a.deployedAt as string) < (b.deployedAt as string) ? -1 : 1));
  const target = earlier[earlier.length - 1];
  if (!target) {
    throw new NothingToRollBackError(grid, name, `no other version of it was deployed before generation ${deployment.generation}; \`berth service history ${name}\` lists its versions, and --to N picks one`);
  }
  return target;
}
