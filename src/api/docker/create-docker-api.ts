import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { LIMITS } from '../../model/index.js';
import type { ApiDeps } from '../create-api.js';
import { buildRouteContext } from '../create-api.js';
import type { DockerContext } from './docker-context.js';
import { DockerApiError } from './docker-errors.js';
import { registerServiceRoutes } from './service-routes.js';
import { registerTaskRoutes } from './task-routes.js';
import { registerLogRoutes } from './log-routes.js';

/** The oldest Docker API version served: 1.24 brought services (docker-py's services API needs it). */
export const MIN_API_VERSION = '1.24';
/** The newest: what the docker 28 CLI sends. */
export const MAX_API_VERSION = '1.50';

export interface DockerApiDeps extends ApiDeps {
  /** The grid the face shows (Swarm has no namespaces). Default `default`. */
  readonly grid?: string;
  /** berth's own API address once it listens (no service may ask for it). */
  readonly apiAddress?: () => string | AddressInfo | null;
}

/**
 * Builds the Docker Engine API face (docs/docker-api.md) without listening: the Swarm services API
 * over berth's engine. Paths may carry a version prefix (`/v1.41/services`), which is checked and
 * stripped before routing; errors leave as the engine's `{"message": "…"}`.
 */
export function createDockerApi(deps: DockerApiDeps): FastifyInstance {
  const app: FastifyInstance = Fastify({
    logger: false,
    bodyLimit: LIMITS.bodyBytes,
    forceCloseConnections: true,
    return503OnClosing: true,
    rewriteUrl: (request) => stripVersion(request.url ?? '/'),
  });
  const ctx: DockerContext = {
    berth: buildRouteContext(deps, deps.apiAddress ?? (() => null)),
    grid: deps.grid ?? 'default',
    engine: { version: deps.version, minApiVersion: MIN_API_VERSION, maxApiVersion: MAX_API_VERSION },
  };
  app.setErrorHandler((error, _request, reply) => {
    const status = error instanceof DockerApiError ? error.status : 500;
    return reply.status(status).send({ message: error instanceof Error ? error.message : String(error) });
  });
  app.setNotFoundHandler((request, reply) => reply.status(404).send({ message: `page not found: ${request.method} ${request.url}` }));
  registerServiceRoutes(app, ctx);
  registerTaskRoutes(app, ctx);
  registerLogRoutes(app, ctx);
  return app;
}

/** `/v1.41/services?x` → `/services?x`; an unversioned path is left as it is. */
function stripVersion(url: string): string {
  const match = /^\/v(\d+\.\d+)(\/.*)?$/.exec(url.split('?')[0] ?? '');
  if (!match) return url;
  return url.slice(match[1]!.length + 2) || '/';
}
