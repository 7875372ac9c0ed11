import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AccessScope, Identity, Permission } from '../model/index.js';
import { ForbiddenError, GridNotFoundError, authorize } from '../model/index.js';
import type { Store } from '../store/index.js';
import type { Authenticator } from './authenticator.js';
import { checkGrid } from './request-schemas.js';

/**
 * What a route needs:
 * - `public`: nothing (version and API document, as Kubernetes' /version);
 * - `authenticated`: a valid token; the handler filters what it shows or checks itself (lists of grids
 *   and tokens, the watch stream, token writes whose grid is in the body);
 * - a permission in the scope of the route's `:grid` (and `:name` for one service), or cluster-wide.
 */
export type RouteAccess =
  | { readonly kind: 'public' }
  | { readonly kind: 'authenticated' }
  | { readonly kind: 'permission'; readonly permission: Permission; readonly scope: 'cluster' | 'grid' | 'service' | 'node' };

const PUBLIC: RouteAccess = { kind: 'public' };
const AUTHENTICATED: RouteAccess = { kind: 'authenticated' };
const inGrid = (permission: Permission): RouteAccess => ({ kind: 'permission', permission, scope: 'grid' });
const onService = (permission: Permission): RouteAccess => ({ kind: 'permission', permission, scope: 'service' });
const cluster = (permission: Permission): RouteAccess => ({ kind: 'permission', permission, scope: 'cluster' });
/** The route's `:node` is the scope: a node credential acts for its own node only. */
const ofNode: RouteAccess = { kind: 'permission', permission: 'node-agent', scope: 'node' };

const S = '/v1/grids/:grid/services';
const ONE = `${S}/:name`;

/**
 * The access rule of every route, keyed `METHOD path` as registered: the one table. createApi refuses
 * to build an API with a route missing here (fail closed), and HEAD follows GET.
 */
export const ROUTE_ACCESS: Readonly<Record<string, RouteAccess>> = {
  // The web console's files (api/console-routes.ts): public, they hold no data.
  'GET /': PUBLIC,
  'GET /*': PUBLIC,
  'GET /v1/version': PUBLIC,
  'GET /v1/openapi.json': PUBLIC,
  'GET /v1/whoami': AUTHENTICATED,
  'GET /v1/nodes': cluster('cluster-read'),
  'GET /v1/nodes/:node': cluster('cluster-read'),
  'PATCH /v1/nodes/:node': cluster('manage-nodes'),
  'DELETE /v1/nodes/:node': cluster('manage-nodes'),
  // Agents of other machines (api/node-agent-routes.ts).
  'POST /v1/nodes/join': cluster('join-nodes'),
  'GET /v1/snapshot': cluster('cluster-read'),
  // What-if planning reads every service and node, and writes nothing.
  'POST /v1/plan': cluster('cluster-read'),
  'PUT /v1/nodes/:node/heartbeat': ofNode,
  'GET /v1/nodes/:node/instances': ofNode,
  'GET /v1/nodes/:node/instances/:instance/credentials': ofNode,
  'POST /v1/nodes/:node/statuses': ofNode,
  'PUT /v1/nodes/:node/data-plane': ofNode,
  'POST /v1/nodes/:node/data-plane/barrier': ofNode,
  'GET /v1/watch': AUTHENTICATED,
  'GET /v1/grids': AUTHENTICATED,
  'POST /v1/grids': cluster('manage-grids'),
  'GET /v1/grids/:grid': inGrid('read'),
  'DELETE /v1/grids/:grid': cluster('manage-grids'),
  'GET /v1/tokens': AUTHENTICATED,
  'POST /v1/tokens': AUTHENTICATED,
  'DELETE /v1/tokens/:id': AUTHENTICATED,
  // Host paths of the grid's stateful data: read with the services (`rm` lists what it keeps).
  'GET /v1/grids/:grid/volumes': inGrid('read'),
  'GET /v1/grids/:grid/secrets': inGrid('read'),
  'POST /v1/grids/:grid/secrets': inGrid('operate'),
  'GET /v1/grids/:grid/secrets/:secret': inGrid('read'),
  'PUT /v1/grids/:grid/secrets/:secret': inGrid('operate'),
  'DELETE /v1/grids/:grid/secrets/:secret': inGrid('operate'),
  [`GET ${S}`]: inGrid('read'),
  [`POST ${S}`]: inGrid('operate'),
  [`GET ${ONE}`]: onService('read'),
  [`PUT ${ONE}`]: onService('operate'),
  [`DELETE ${ONE}`]: onService('operate'),
  [`POST ${ONE}/deploy`]: onService('operate'),
  [`POST ${ONE}/rollback`]: onService('operate'),
  [`POST ${ONE}/scale`]: onService('operate'),
  [`POST ${ONE}/start`]: onService('operate'),
  [`POST ${ONE}/stop`]: onService('operate'),
  [`POST ${ONE}/restart`]: onService('operate'),
  [`GET ${ONE}/history`]: onService('read'),
  [`GET ${ONE}/why`]: onService('read'),
  [`GET ${ONE}/instances`]: onService('read'),
  [`DELETE ${ONE}/instances/:instance`]: onService('operate'),
  [`GET ${ONE}/stats`]: onService('read'),
  [`GET ${ONE}/events`]: onService('read'),
  [`GET ${ONE}/logs`]: onService('logs'),
  [`GET ${ONE}/endpoints`]: onService('read'),
  [`PUT ${ONE}/endpoints`]: onService('operate'),
};

/** The rule of a route (HEAD as GET); undefined for a path no route has. */
export function routeAccess(method: string, url: string | undefined): RouteAccess | undefined {
  if (url === undefined) return undefined;
  return ROUTE_ACCESS[`${method === 'HEAD' ? 'GET' : method} ${url}`];
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Who sent the request; set by the access hook for every route that is not public. */
    berthIdentity: Identity | null;
  }
}

/**
 * The identity of an authenticated request.
 * @throws Error when called on a public route (a bug: such a route has no identity).
 */
export function identityOf(request: FastifyRequest): Identity {
  const identity = request.berthIdentity;
  if (!identity) throw new Error(`no identity on ${request.method} ${request.url}: the route is public`);
  return identity;
}

/** @throws ForbiddenError (403) naming the role the action needs */
export function requirePermission(identity: Identity, permission: Permission, scope: AccessScope = {}): void {
  const decision = authorize(identity, permission, scope);
  if (!decision.allowed) throw new ForbiddenError(decision.message, { needed: decision.needed, permission, ...scope });
}

/**
 * Authentication (onRequest, before the body is read: an unauthenticated request costs no parsing) and
 * authorization (preHandler, once the path's parameters are known) of every route by ROUTE_ACCESS,
 * then the grid's existence (404 GRID_NOT_FOUND after the access check, so a forbidden caller learns
 * nothing of which grids exist). Call before registering routes: routes missing from the table throw.
 */
export function installAccessControl(app: FastifyInstance, deps: { readonly store: Store; readonly authenticator: Authenticator }): void {
  app.decorateRequest('berthIdentity', null);
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      if (!routeAccess(method, route.url)) throw new Error(`route ${method} ${route.url} has no entry in ROUTE_ACCESS (api/access-control.ts)`);
    }
  });
  app.addHook('onRequest', async (request) => {
    const access = routeAccess(request.method, request.routeOptions.url);
    if (access?.kind === 'public') return;
    request.berthIdentity = deps.authenticator.authenticate(request.headers.authorization);
  });
  app.addHook('preHandler', async (request) => {
    const access = routeAccess(request.method, request.routeOptions.url);
    const params = (request.params ?? {}) as { grid?: unknown; name?: unknown; node?: unknown };
    const grid = typeof params.grid === 'string' ? checkGrid(params.grid) : undefined;
    if (access?.kind === 'permission') {
      const scope: AccessScope =
        access.scope === 'cluster'
          ? {}
          : access.scope === 'node'
            ? { node: typeof params.node === 'string' ? params.node : '' }
            : { ...(grid === undefined ? {} : { grid }), ...(access.scope === 'service' && typeof params.name === 'string' ? { service: params.name } : {}) };
      requirePermission(identityOf(request), access.permission, scope);
    }
    if (grid !== undefined && !deps.store.getGrid(grid)) throw new GridNotFoundError(grid);
  });
}
