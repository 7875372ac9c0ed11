import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { silentLogger } from '../../lib/index.js';
import { LIMITS } from '../../model/index.js';
import type { ApiDeps } from '../create-api.js';
import { buildRouteContext } from '../create-api.js';
import { JSON_CONTENT_TYPE, parseJsonBody } from '../json-body.js';
import { drainOversizedBodies } from '../oversized-body.js';
import { installLeaderRouting } from '../leader-routing.js';
import { dockerRelayToken, relayForwarding, relayIdentity } from './docker-relay.js';
import { MAX_API_VERSION, MIN_API_VERSION, compareApiVersions, splitVersionPrefix, unsupportedVersion } from './api-version.js';
import type { DockerContext } from './docker-context.js';
import { NAME_FREED_WAIT_MS } from './docker-context.js';
import type { DockerRouteAccess, DockerTransport } from './docker-access.js';
import { installDockerAccess } from './docker-access.js';
import { toDockerError } from './docker-error-response.js';
import { DockerApiError } from './docker-errors.js';
import type { HostFacts, LocalImages } from './docker-ports.js';
import { currentHostFacts } from './docker-ports.js';
import { DISTRIBUTION_ACCESS, registerDistributionRoutes } from './distribution-routes.js';
import { NETWORK_ACCESS, registerNetworkRoutes } from './network-routes.js';
import { NODE_ACCESS, registerNodeRoutes } from './node-routes.js';
import { resolveService } from './service-lookup.js';
import { SERVICE_ACCESS, registerServiceRoutes } from './service-routes.js';
import { SYSTEM_ACCESS, registerSystemRoutes } from './system-routes.js';
import { TASK_ACCESS, registerTaskRoutes } from './task-routes.js';
import { LOG_ACCESS, registerLogRoutes } from './log-routes.js';

export { MAX_API_VERSION, MIN_API_VERSION } from './api-version.js';

/** A route file of the face: how it registers its routes, and the access rule of each (keyed `METHOD /path`). */
export interface DockerRoutes {
  readonly register: (app: FastifyInstance, ctx: DockerContext) => void;
  readonly access: Readonly<Record<string, DockerRouteAccess>>;
}

/** Every route file of the face, one line each. A route missing from its file's table fails the build of the app. */
export const DOCKER_ROUTES: readonly DockerRoutes[] = [
  { register: registerSystemRoutes, access: SYSTEM_ACCESS },
  { register: registerNodeRoutes, access: NODE_ACCESS },
  { register: registerNetworkRoutes, access: NETWORK_ACCESS },
  { register: registerDistributionRoutes, access: DISTRIBUTION_ACCESS },
  { register: registerServiceRoutes, access: SERVICE_ACCESS },
  { register: registerTaskRoutes, access: TASK_ACCESS },
  { register: registerLogRoutes, access: LOG_ACCESS },
];

export interface DockerApiDeps extends ApiDeps {
  /** The grid the face shows (Swarm has no namespaces). Default `default`. */
  readonly grid?: string;
  /** berth's own API address once it listens (no service may ask for it). */
  readonly apiAddress?: () => string | AddressInfo | null;
  /**
   * The listener this app serves: `unix` makes every request the cluster admin (owning the 0600 socket
   * is the credential); `tcp` authenticates each request's bearer token. Default `tcp` (fail closed).
   */
  readonly transport?: DockerTransport;
  /** PEM key and certificate to serve HTTPS with; `ca` also asks every client for a certificate it signed (dockerd's --tlsverify). */
  readonly tls?: { readonly key: Buffer; readonly cert: Buffer; readonly ca?: Buffer };
  /** The node's images, for `GET /distribution/{name}/json` (absent: every image is 404). */
  readonly images?: LocalImages;
  /** The machine /version, /info and /nodes describe. Default: this one's. */
  readonly host?: HostFacts;
  /** How long a create waits for a service of its name to be removed, ms (default NAME_FREED_WAIT_MS; tests shorten it). */
  readonly nameFreedWaitMs?: number;
  /**
   * Several servers (with `leaderRouting`): the cluster's key, which signs the relay credential of a
   * unix listener's writes passed on to the leader, and checks it on the `relay` transport (docker-relay.ts).
   */
  readonly relayKey?: Buffer;
}

/**
 * Builds the Docker Engine API face (docs/docker-api.md) without listening: the Swarm services API
 * over berth's engine, for one listener. Paths may carry a version prefix (`/v1.41/services`): checked
 * against [1.24, 1.50] and stripped before routing; unversioned paths are served as 1.50. Every answer
 * carries `Api-Version`; errors leave as the engine's `{"message": "…"}` (plain text for a client
 * older than 1.24, as moby); unknown paths are 404 `page not found`; bodies are JSON up to 1 MiB.
 * `routes` are the route files served (default DOCKER_ROUTES; tests add their own).
 */
export function createDockerApi(deps: DockerApiDeps, routes: readonly DockerRoutes[] = DOCKER_ROUTES): FastifyInstance {
  const logger = deps.logger ?? silentLogger;
  // The version each request's path named, by raw request: rewriteUrl sees it before routing does.
  const versions = new WeakMap<IncomingMessage, string>();
  const options = {
    logger: false,
    bodyLimit: LIMITS.bodyBytes,
    // Log streams stay open until their client leaves; closing the face must not wait for them.
    forceCloseConnections: true,
    return503OnClosing: true,
    rewriteUrl: (raw: IncomingMessage): string => {
      const { version, url } = splitVersionPrefix(raw.url ?? '/');
      if (version !== undefined) versions.set(raw, version);
      return url;
    },
  } as const;
  const tls = deps.tls;
  // An HTTPS server takes the same routes; its type differs only in the server class, unused here.
  const app = tls
    ? (Fastify({ ...options, https: { key: tls.key, cert: tls.cert, ...(tls.ca ? { ca: tls.ca, requestCert: true, rejectUnauthorized: true } : {}) } }) as unknown as FastifyInstance)
    : Fastify(options);
  const grid = deps.grid ?? 'default';
  const ctx: DockerContext = {
    berth: buildRouteContext(deps, deps.apiAddress ?? (() => null)),
    grid,
    engine: { version: deps.version, minApiVersion: MIN_API_VERSION, maxApiVersion: MAX_API_VERSION },
    images: deps.images,
    host: deps.host ?? currentHostFacts(),
    nameFreedWaitMs: deps.nameFreedWaitMs ?? NAME_FREED_WAIT_MS,
  };

  // Bodies are JSON (moby's httputils.CheckForJSON); an empty body with any type counts as none.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(JSON_CONTENT_TYPE, { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(typeof body === 'string' ? body : body.toString('utf8')));
    } catch (error) {
      done(new DockerApiError(400, (error as Error).message), undefined);
    }
  });
  app.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
    if ((typeof body === 'string' ? body : body.toString('utf8')).trim() === '') done(null, undefined);
    else done(new DockerApiError(400, `unsupported Content-Type header (${request.headers['content-type'] ?? ''}): must be '${JSON_CONTENT_TYPE}'`), undefined);
  });

  app.setErrorHandler((error, request, reply) => {
    const { status, message } = toDockerError(error);
    if (status >= 500) logger.error({ err: error, method: request.method, url: request.url }, 'Docker API request failed');
    if (status === 401) void reply.header('www-authenticate', 'Bearer realm="berth"');
    // moby answers clients older than it serves in plain text, which they print readably (server.go).
    const version = versions.get(request.raw);
    if (version !== undefined && compareApiVersions(version, MIN_API_VERSION) < 0) return reply.status(status).type('text/plain; charset=utf-8').send(`${message}\n`);
    return reply.status(status).send({ message });
  });
  // moby's notFoundHandler: any unknown path or method, whatever its version prefix.
  app.setNotFoundHandler((_request, reply) => reply.status(404).send({ message: 'page not found' }));

  const transport = deps.transport ?? 'tcp';
  const relayKey = deps.relayKey;
  // Several servers: a follower passes writes on to the leader as they came, and the leader checks them
  // (before access control, as berth's API: a token the follower's replica does not hold yet is the
  // leader's to judge). Before the onSend hook below, which gives a 503 of the leader's durability wait
  // the bare `application/json` the CLI reads messages from.
  if (deps.leaderRouting) {
    const sign = relayKey ? (request: FastifyRequest) => dockerRelayToken({ method: request.method, url: request.originalUrl }, { key: relayKey, server: deps.node, nowMs: ctx.berth.clock.now() }) : undefined;
    installLeaderRouting(app, deps.leaderRouting, logger, relayForwarding(transport, sign));
  }
  // moby's version middleware: every answer names the newest version served (clients negotiate down to it).
  app.addHook('onSend', async (_request, reply) => {
    void reply.header('Api-Version', MAX_API_VERSION).header('Ostype', ctx.host.os).header('Docker-Experimental', 'false').header('Server', `berth/${deps.version} (${ctx.host.os})`);
    // moby's WriteJSON says `application/json`, bare: the Go client reads an error's message only
    // when the header is exactly that (docker client request.go, checkResponseErr), else it prints the raw body.
    if (String(reply.getHeader('content-type') ?? '').startsWith('application/json')) void reply.header('Content-Type', 'application/json');
  });
  app.addHook('onRequest', async (request) => {
    const version = versions.get(request.raw);
    if (version === undefined || request.routeOptions.url === undefined) return;
    const refusal = unsupportedVersion(version);
    if (refusal) throw refusal;
  });
  installDockerAccess(app, {
    transport,
    authenticator: deps.authenticator,
    table: Object.assign({}, ...routes.map((r) => r.access)) as Record<string, DockerRouteAccess>,
    grid,
    serviceName: (idOrName) => serviceNameOf(ctx, idOrName),
    ...(relayKey ? { relayIdentity: (token: string, request: { method: string; url: string }) => relayIdentity(token, request, { key: relayKey, nowMs: ctx.berth.clock.now() }) } : {}),
  });
  drainOversizedBodies(app, LIMITS.bodyBytes);
  app.addHook('onResponse', async (request, reply) => {
    logger.debug({ method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'Docker API request');
  });
  app.addHook('onClose', async () => {
    for (const stream of [...ctx.berth.streams]) stream.end();
  });

  for (const file of routes) file.register(app, ctx);
  return app;
}

/**
 * The service of the face's grid an id designates, by the routes' own rule (resolveService: full id,
 * then name, then unique id prefix; services being removed are gone); undefined for none or several.
 * Only for access scopes: the route itself answers the 404 or the 400.
 */
function serviceNameOf(ctx: DockerContext, idOrName: string): string | undefined {
  try {
    return resolveService(ctx, idOrName).name;
  } catch {
    return undefined;
  }
}
