import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AccessScope, Identity } from '../../model/index.js';
import type { RouteAccess } from '../access-control.js';
import { identityOf, requirePermission } from '../access-control.js';
import type { Authenticator } from '../authenticator.js';
import { UnauthenticatedError } from '../../model/index.js';
import { DOCKER_RELAY_HEADER } from './docker-relay.js';

/*
 * Access on the Docker face (docs/docker-api.md, "Transport and access"): the same policy as berth's own
 * API (model/access.ts), enforced from the route files' XXX_ACCESS tables.
 *
 * - On the unix socket, whoever can connect is the cluster admin: the socket is 0600 and owned by the
 *   server's user, so owning it is the credential, as it is for Docker's own /var/run/docker.sock.
 * - On TCP, every non-public route needs berth's bearer token in `Authorization` (the docker CLI and
 *   docker-py send `HttpHeaders` of $DOCKER_CONFIG/config.json with every request), checked by the
 *   Authenticator berth's API uses; refusals are berth's 401/403 messages in Docker's `{"message"}`.
 */

/** A route's rule on the Docker face: berth's RouteAccess. Scope `grid` is the face's grid; `service` the service its `:id` names. */
export type DockerRouteAccess = RouteAccess;

/**
 * Which kind of listener an app serves: what makes a request's identity. `relay`: the leader's app for
 * writes other servers pass on (docker-relay.ts) — a relay credential is the socket's owner of the
 * server that signed it, else the bearer token is checked as on TCP.
 */
export type DockerTransport = 'unix' | 'tcp' | 'relay';

/** Who a request on the unix socket is. */
export const SOCKET_IDENTITY: Identity = {
  kind: 'user',
  subject: 'the owner of the Docker API socket',
  grants: [{ role: 'cluster-admin' }],
};

export interface DockerAccessOptions {
  readonly transport: DockerTransport;
  readonly authenticator: Authenticator;
  /** Every route's rule, keyed `METHOD /path` as registered (the route files' tables merged). */
  readonly table: Readonly<Record<string, DockerRouteAccess>>;
  /** The face's grid: the scope of `grid` and `service` rules. */
  readonly grid: string;
  /**
   * The name of the service an `:id` parameter designates (full id, unique id prefix or name, as Docker
   * looks services up), or undefined when none does: the rule is then checked on the grid, and the
   * handler answers its 404.
   */
  readonly serviceName: (idOrName: string) => string | undefined;
  /** `relay` only: checks a relay credential (docker-relay.ts relayIdentity with the cluster's key). */
  readonly relayIdentity?: (token: string, request: { readonly method: string; readonly url: string }) => Identity;
}

/** The rule of a route (HEAD as GET); undefined for a path no route has. */
export function dockerRouteAccess(table: DockerAccessOptions['table'], method: string, url: string | undefined): DockerRouteAccess | undefined {
  if (url === undefined) return undefined;
  return table[`${method === 'HEAD' ? 'GET' : method} ${url}`];
}

/**
 * Installs authentication (onRequest, before any body is read) and authorization (preHandler, once the
 * path's parameters are known) on the Docker face, and decorates `request.berthIdentity`. Call before
 * registering routes.
 * @throws Error at build time for a route missing from `table` (fail closed, as installAccessControl)
 */
export function installDockerAccess(app: FastifyInstance, options: DockerAccessOptions): void {
  const { table } = options;
  if (!app.hasRequestDecorator('berthIdentity')) app.decorateRequest('berthIdentity', null);
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      if (!dockerRouteAccess(table, method, route.url)) throw new Error(`Docker face route ${method} ${route.url} has no access rule (add it to its route file's XXX_ACCESS table)`);
    }
  });
  app.addHook('onRequest', async (request) => {
    const access = dockerRouteAccess(table, request.method, request.routeOptions.url);
    if (access === undefined || access.kind === 'public') return;
    request.berthIdentity = identityFor(request, options);
  });
  app.addHook('preHandler', async (request) => {
    const access = dockerRouteAccess(table, request.method, request.routeOptions.url);
    if (access?.kind !== 'permission') return;
    requirePermission(identityOf(request), access.permission, scopeOf(access.scope, request, options));
  });
}

function identityFor(request: FastifyRequest, options: DockerAccessOptions): Identity {
  if (options.transport === 'unix') return SOCKET_IDENTITY;
  const relayed = request.headers[DOCKER_RELAY_HEADER];
  if (options.transport === 'relay' && typeof relayed === 'string') {
    if (!options.relayIdentity) throw new UnauthenticatedError('this server takes no Docker relay credentials');
    return options.relayIdentity(relayed, { method: request.method, url: request.originalUrl });
  }
  return options.authenticator.authenticate(request.headers.authorization);
}

function scopeOf(scope: 'cluster' | 'grid' | 'service' | 'node', request: FastifyRequest, options: DockerAccessOptions): AccessScope {
  if (scope === 'cluster' || scope === 'node') return {}; // the face has no node-agent routes: a node scope grants nothing here
  if (scope === 'grid') return { grid: options.grid };
  const id = (request.params as { id?: unknown } | undefined)?.id;
  const service = typeof id === 'string' ? options.serviceName(id) : undefined;
  return service === undefined ? { grid: options.grid } : { grid: options.grid, service };
}
