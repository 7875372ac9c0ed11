import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import type { FastifyInstance, FastifyServerFactory } from 'fastify';
import type { Clock, Logger } from '../lib/index.js';
import { CodedError, silentLogger, systemClock } from '../lib/index.js';
import type { InstancePolicy } from '../model/index.js';
import type { SpecLimits } from '../model/index.js';
import { DEFAULT_SPEC_LIMITS, LIMITS } from '../model/index.js';
import type { Store } from '../store/index.js';
import { ERROR_STATUS, isErrorCode } from './error-status.js';
import { BodyTooLargeError, JSON_CONTENT_TYPE, UnsupportedMediaTypeError, parseJsonBody } from './json-body.js';
import { registerConsoleRoutes } from './console-routes.js';
import { registerInstanceRoutes } from './instance-routes.js';
import { drainOversizedBodies } from './oversized-body.js';
import { registerMetaRoutes } from './meta-routes.js';
import type { NdjsonStream } from './ndjson-stream.js';
import type { AgentAccess, WhatIfPlanner, EndpointsView, HostPortProbe, Telemetry, VolumesView } from './ports.js';
import { registerEndpointRoutes } from './endpoint-routes.js';
import { installAccessControl } from './access-control.js';
import type { LeaderRouting } from './leader-routing.js';
import { installControlPlaneServersHeader, installLeaderRouting } from './leader-routing.js';
import { registerAccessRoutes } from './access-routes.js';
import { registerSecretRoutes } from './secret-routes.js';
import { registerNodeRoutes, registerPlanRoute } from './node-routes.js';
import { registerNodeAgentRoutes } from './node-agent-routes.js';
import type { Authenticator } from './authenticator.js';
import type { RouteContext } from './route-context.js';
import { registerRolloutRoutes } from './rollout-routes.js';
import { registerServiceRoutes } from './service-routes.js';
import { registerVolumeRoutes } from './volume-routes.js';
import { registerWatchRoutes } from './watch-routes.js';
import type { NetworkRanges } from './network-allocation.js';
import { DEFAULT_NETWORK_RANGES, reservedListeners } from './network-allocation.js';

export interface ApiDeps {
  readonly store: Store;
  /** Who each request is (api/authenticator.ts); every route but version and openapi.json needs one. */
  readonly authenticator: Authenticator;
  readonly telemetry: Telemetry;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Name of the node this server runs on (GET /v1/version). */
  readonly node: string;
  /** berth's version (GET /v1/version, the OpenAPI document). */
  readonly version: string;
  /** Heartbeat interval of NDJSON streams. Default 15 000 ms. */
  readonly heartbeatMs?: number;
  /** A stream client that lets this many bytes pile up unread is disconnected. Default 16 MiB. */
  readonly maxStreamBufferBytes?: number;
  /** The endpoints the data plane serves (GET …/endpoints). */
  readonly endpoints?: EndpointsView;
  /** host:port of berth's DNS server, reported by GET /v1/version. */
  readonly dnsAddress?: string;
  /** Where the Docker API face listens (`unix:///…/docker.sock`, `tcp://…`), reported by GET /v1/version; asked per request (it opens after the API). */
  readonly dockerApi?: () => readonly string[];
  /** The nodes' per-slot data directories (GET /v1/grids/{grid}/volumes). */
  readonly volumes?: VolumesView;
  /** Virtual IP and node port ranges. Default 127.96.0.0/16 and 30000–32767. */
  readonly networkRanges?: NetworkRanges;
  /**
   * Who instances run as and where they may run (privilegedRequests): app/ passes the server's
   * (default user: `berth`/`nobody` under root, else the server's own; roots: the data directory and
   * the server's directory or `--allowed-root`). Absent: no policy is known (tests).
   */
  readonly instancePolicy?: InstancePolicy;
  /** Serve HTTPS with this PEM key and certificate (app/ decides: docs/security.md). */
  readonly https?: { readonly key: Buffer; readonly cert: Buffer };
  /** Where node, load-balancer and published ports are opened (the proxy's `nodeAddresses`). Default ['127.0.0.1']. */
  readonly nodeAddresses?: readonly string[];
  /** What other programs on this host hold: the automatic node-port choice skips it. Default: nothing known. */
  readonly hostPorts?: HostPortProbe;
  /** The controller's instance address range, for refusing deploys it cannot hold. Default 127.10.0.0/16. */
  readonly instanceRange?: string;
  /**
   * What names this cluster in the machines' range registries (app/range-claims.ts, clusterIdOf):
   * with it, GET /v1/version and the agents' join and heartbeat answers carry `cluster` (the id and
   * the three ranges), so an agent claims them on its machine. Absent: no `cluster` (tests).
   */
  readonly clusterId?: string;
  /**
   * The subnet (CIDR) of the nodes' Docker bridges, where the controller addresses instances with images:
   * the cluster record's (several servers), or the server's own bridge once its engine answered. Carried
   * in `cluster` (GET /v1/version, join and heartbeat answers): an agent makes its bridge with it. Absent: none.
   */
  readonly containerRange?: () => string | undefined;
  /** The server's limits (replicas per service). Default DEFAULT_SPEC_LIMITS (model/limits.ts). */
  readonly limits?: SpecLimits;
  /** Agents of other machines (`berth agent --join`): credentials and heartbeats; absent: joins are refused (503). */
  readonly agents?: AgentAccess;
  /** What-if planning (POST /v1/plan, `berth plan`): app/ wires reconcile's planWhatIf. */
  readonly planner?: WhatIfPlanner;
  /** The built web console's directory (dist/web), served at `/` (api/console-routes.ts). Absent: pages say how to build it. */
  readonly consoleDir?: string;
  /** Several servers on etcd: writes go to the leader (api/leader-routing.ts). Absent: this server is the only one. */
  readonly leaderRouting?: LeaderRouting;
  /**
   * Several servers: the Docker face's writes other servers pass on to this one's listener (api/docker/
   * docker-relay.ts dispatchDockerRelay). Asked first for every request the listener receives; a request
   * it takes (true) never reaches berth's routes. Absent: none are taken.
   */
  readonly dockerRelay?: (req: IncomingMessage, res: ServerResponse) => boolean;
}

/** The error body of every failed request. */
export interface ErrorBody {
  readonly code: string;
  readonly message: string;
  readonly details: Readonly<Record<string, unknown>>;
}

const BODY_LIMIT_BYTES = LIMITS.bodyBytes;
/** The controller's default (controllers/ServiceController). */
const DEFAULT_INSTANCE_RANGE = '127.10.0.0/16';

/**
 * The route context of `deps`, fully defaulted: what every route file (berth's and the Docker face's)
 * works with. `apiAddress` gives the address the API listens on once it does (no service may ask for it).
 */
export function buildRouteContext(deps: ApiDeps, apiAddress: () => string | AddressInfo | null): RouteContext {
  const logger = deps.logger ?? silentLogger;
  return {
    store: deps.store,
    telemetry: deps.telemetry,
    clock: deps.clock ?? systemClock,
    logger,
    node: deps.node,
    version: deps.version,
    heartbeatMs: deps.heartbeatMs ?? 15_000,
    maxStreamBufferBytes: deps.maxStreamBufferBytes ?? 16 * 1024 * 1024,
    networkRanges: deps.networkRanges ?? DEFAULT_NETWORK_RANGES,
    instanceRange: deps.instanceRange ?? DEFAULT_INSTANCE_RANGE,
    clusterId: deps.clusterId,
    containerRange: deps.containerRange ?? (() => undefined),
    limits: deps.limits ?? DEFAULT_SPEC_LIMITS,
    endpoints: deps.endpoints,
    agents: deps.agents,
    planner: deps.planner,
    volumes: deps.volumes,
    dnsAddress: deps.dnsAddress,
    dockerApi: deps.dockerApi ?? (() => []),
    instancePolicy: deps.instancePolicy,
    nodeAddresses: deps.nodeAddresses ?? ['127.0.0.1'],
    // The API's own address (once it listens) and the DNS server's: a service asking for them is refused.
    reservedListeners: () => reservedListeners(apiAddress(), deps.dnsAddress, { dockerApi: deps.dockerApi?.() ?? [] }),
    hostPorts: deps.hostPorts,
    leaderRouting: deps.leaderRouting,
    streams: new Set<NdjsonStream>(),
  };
}

/**
 * Builds the HTTP API (docs/api.md) without listening: app/ calls `listen`, tests call `inject`.
 * Routes are thin (validate, call the store, answer); every error leaves as `{code, message, details}`
 * with the status of error-status.ts. Closing the instance ends every open stream.
 */
export function createApi(deps: ApiDeps): FastifyInstance {
  const logger = deps.logger ?? silentLogger;
  const ctx: RouteContext = buildRouteContext(deps, () => app.server.address());
  // Streams stay open until their client leaves; closing the server must not wait for them.
  const options = { logger: false, bodyLimit: BODY_LIMIT_BYTES, forceCloseConnections: true, return503OnClosing: true } as const;
  const relay = deps.dockerRelay;
  // An HTTPS server takes the same routes; its type differs only in the server class, unused here.
  const app = relay
    ? (Fastify({ ...options, serverFactory: relayingServer(relay, deps.https) }) as unknown as FastifyInstance)
    : deps.https
      ? (Fastify({ ...options, https: { key: deps.https.key, cert: deps.https.cert } }) as unknown as FastifyInstance)
      : Fastify(options);

  // Bodies are JSON only (415 otherwise, naming application/json); an empty body counts as no body
  // (clients send `content-type: application/json` with none). json-body.ts checks the nesting before
  // parsing and refuses prototype-polluting keys by name.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(JSON_CONTENT_TYPE, { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(typeof body === 'string' ? body : body.toString('utf8')));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
  app.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
    if ((typeof body === 'string' ? body : body.toString('utf8')).trim() === '') done(null, undefined);
    else done(new UnsupportedMediaTypeError(request.headers['content-type']), undefined);
  });

  app.setErrorHandler((error, request, reply) => {
    const { status, body } = toErrorResponse(error);
    if (status >= 500) logger.error({ err: error, method: request.method, url: request.url }, 'request failed');
    if (status === 401) void reply.header('www-authenticate', 'Bearer realm="berth"');
    return reply.status(status).send(body);
  });

  app.setNotFoundHandler((request, reply) =>
    reply.status(ERROR_STATUS.ROUTE_NOT_FOUND).send({
      code: 'ROUTE_NOT_FOUND',
      message: `no route ${request.method} ${request.url.split('?')[0] ?? ''}; GET /v1/openapi.json lists every route`,
      details: { method: request.method, url: request.url },
    } satisfies ErrorBody),
  );

  // Before access control: a follower passes writes on as they came, and the leader checks them.
  if (deps.leaderRouting) {
    installLeaderRouting(app, deps.leaderRouting, logger);
    installControlPlaneServersHeader(app, deps.leaderRouting);
  }
  installAccessControl(app, { store: deps.store, authenticator: deps.authenticator });
  drainOversizedBodies(app, BODY_LIMIT_BYTES);
  app.addHook('onResponse', async (request, reply) => {
    logger.debug({ method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });
  // preClose: before fastify closes the connections, so that a followed stream's last line
  // (SERVER_STOPPING: its client goes on at another server) still goes out.
  app.addHook('preClose', async () => {
    for (const stream of [...ctx.streams]) stream.stop();
  });
  app.addHook('onClose', async () => {
    for (const stream of [...ctx.streams]) stream.stop();
  });

  registerMetaRoutes(app, ctx);
  registerAccessRoutes(app, ctx);
  registerSecretRoutes(app, ctx);
  registerNodeRoutes(app, ctx);
  registerNodeAgentRoutes(app, ctx);
  registerPlanRoute(app, ctx);
  registerServiceRoutes(app, ctx);
  registerInstanceRoutes(app, ctx);
  registerRolloutRoutes(app, ctx);
  registerEndpointRoutes(app, ctx);
  registerVolumeRoutes(app, ctx);
  registerWatchRoutes(app, ctx);
  registerConsoleRoutes(app, deps.consoleDir);
  return app;
}

/**
 * The listener's server when some requests are not berth's (the Docker face's relayed writes): each
 * request goes to `relay` first, and to fastify when the relay does not take it. Made as fastify
 * makes its own (lib/server.js getServerInstance: HTTPS with the key and certificate, its timeouts).
 */
function relayingServer(relay: (req: IncomingMessage, res: ServerResponse) => boolean, tls: ApiDeps['https']): FastifyServerFactory {
  return (handler, opts) => {
    const dispatch = (req: IncomingMessage, res: ServerResponse): void => {
      if (!relay(req, res)) handler(req, res);
    };
    const server = tls ? createHttpsServer({ key: tls.key, cert: tls.cert }, dispatch) : createHttpServer(dispatch);
    const { keepAliveTimeout, requestTimeout, connectionTimeout } = opts as { keepAliveTimeout?: unknown; requestTimeout?: unknown; connectionTimeout?: unknown };
    if (typeof keepAliveTimeout === 'number') server.keepAliveTimeout = keepAliveTimeout;
    if (typeof requestTimeout === 'number') server.requestTimeout = requestTimeout;
    if (typeof connectionTimeout === 'number') server.setTimeout(connectionTimeout);
    return server as HttpServer;
  };
}

/**
 * Maps anything thrown to a status and body: berth's coded errors by the table; fastify's own client
 * errors (bad JSON, unsupported content type, body too large) as REQUEST_INVALID with fastify's 4xx
 * status; everything else as 500 INTERNAL.
 */
export function toErrorResponse(error: unknown): { status: number; body: ErrorBody } {
  const e = error as { statusCode?: unknown; code?: unknown; message?: unknown };
  // fastify's own: a body over bodyLimit, and a content type no parser takes (e.g. none with a body).
  if (e?.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return toErrorResponse(new BodyTooLargeError());
  if (e?.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return toErrorResponse(new UnsupportedMediaTypeError(undefined));
  if (error instanceof CodedError && isErrorCode(error.code)) {
    return { status: ERROR_STATUS[error.code], body: { code: error.code, message: error.message, details: error.details } };
  }
  const message = typeof e?.message === 'string' ? e.message : String(error);
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500 && !(error instanceof CodedError)) {
    return { status: e.statusCode, body: { code: 'REQUEST_INVALID', message, details: typeof e.code === 'string' ? { reason: e.code } : {} } };
  }
  const details = error instanceof CodedError ? { reason: error.code, ...error.details } : {};
  return { status: ERROR_STATUS.INTERNAL, body: { code: 'INTERNAL', message: `internal error: ${message}`, details } };
}
