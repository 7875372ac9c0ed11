import type { FastifyInstance } from 'fastify';
import { buildOpenApiDocument } from './openapi.js';
import type { LeaderRouting } from './leader-routing.js';
import type { RouteContext } from './route-context.js';
import { clusterRangesOf } from './route-context.js';

/** The server itself: version and the OpenAPI document. */
export function registerMetaRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get('/v1/version', async () => {
    const self = ctx.store.listNodes().find((n) => n.name === ctx.node);
    const dockerApi = ctx.dockerApi();
    return {
      version: ctx.version,
      apiVersion: 'v1',
      node: ctx.node,
      ...(ctx.dnsAddress ? { dns: ctx.dnsAddress } : {}),
      ...(dockerApi.length > 0 ? { dockerApi } : {}),
      ...(ctx.leaderRouting ? { controlPlane: controlPlaneOf(ctx.leaderRouting) } : {}),
      ...clusterRangesOf(ctx),
      ...(self ? { drivers: self.drivers, ...(self.unavailableDrivers && Object.keys(self.unavailableDrivers).length > 0 ? { unavailableDrivers: self.unavailableDrivers } : {}) } : {}),
      ...(self?.containerNetwork?.problems?.length ? { containerProblems: self.containerNetwork.problems } : {}),
    };
  });

  let document: Record<string, unknown> | undefined;
  app.get('/v1/openapi.json', async () => {
    document ??= buildOpenApiDocument({ version: ctx.version });
    return document;
  });
}

function controlPlaneOf(routing: LeaderRouting): { role: 'leader' | 'follower' | 'electing'; leader?: string; servers: { id: string; url: string; leader: boolean }[] } {
  const leader = routing.leaderUrl();
  const servers = routing.servers().map((s) => ({ id: s.id, url: s.url, leader: s.url === leader }));
  return { role: routing.role(), ...(leader !== undefined ? { leader } : {}), servers };
}
