import type { FastifyInstance } from 'fastify';
import type { GridParams, RouteContext } from './route-context.js';
import { VolumesQuery, parseRequest } from './request-schemas.js';

/**
 * The per-slot data directories of a grid's stateful services as the nodes hold them — also those a
 * service removed without `volumes=true` left behind (what `service rm` lists as kept).
 */
export function registerVolumeRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get<{ Params: GridParams }>('/v1/grids/:grid/volumes', async (request) => {
    const query = parseRequest(VolumesQuery, request.query, 'query');
    return { items: ctx.volumes?.list(request.params.grid, query.service) ?? [] };
  });
}
