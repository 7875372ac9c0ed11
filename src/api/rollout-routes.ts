import type { FastifyInstance } from 'fastify';
import type { SpecHistory } from '../model/index.js';
import { identityOf } from './access-control.js';
import { explain } from './explain.js';
import { RollbackBody, parseRequest } from './request-schemas.js';
import type { RouteContext, ServiceParams } from './route-context.js';
import { requireService } from './route-context.js';
import { rollbackService } from './service-operations.js';

export { rollbackTarget } from './rollback-target.js';

/** Spec history, rollback, and the `why` explanation of a service. */
export function registerRolloutRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { store } = ctx;

  app.get<{ Params: ServiceParams }>('/v1/grids/:grid/services/:name/history', async (request): Promise<SpecHistory> => {
    const { grid, name } = request.params;
    const service = requireService(store, grid, name);
    return { items: store.listSpecHistory(grid, name), generation: service.generation, deployedGeneration: service.deployment?.generation ?? null };
  });

  app.post<{ Params: ServiceParams }>('/v1/grids/:grid/services/:name/rollback', async (request) => {
    const body = parseRequest(RollbackBody, request.body, 'body');
    return rollbackService(ctx, identityOf(request), request.params, { version: body.version, to: body.to });
  });

  app.get<{ Params: ServiceParams }>('/v1/grids/:grid/services/:name/why', async (request) => {
    const { grid, name } = request.params;
    return explain(ctx, requireService(store, grid, name), { logLines: true });
  });
}
