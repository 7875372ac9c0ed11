import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import type { Clock, Logger } from '../lib/index.js';
import { CodedError, silentLogger, systemClock } from '../lib/index.js';
import { RequestInvalidError } from '../model/index.js';
import type { Store } from '../store/index.js';
import { ERROR_STATUS, isErrorCode } from './error-status.js';
import { registerInstanceRoutes } from './instance-routes.js';
import { registerMetaRoutes } from './meta-routes.js';
import type { NdjsonStream } from './ndjson-stream.js';
import type { EndpointsView, Telemetry, VolumesView } from './ports.js';
import { registerEndpointRoutes } from './endpoint-routes.js';
import { checkGrid } from './request-schemas.js';
import type { RouteContext } from './route-context.js';
import { registerRolloutRoutes } from './rollout-routes.js';
import { registerServiceRoutes } from './service-routes.js';
import { registerVolumeRoutes } from './volume-routes.js';
import { registerWatchRoutes } from './watch-routes.js';
import type { NetworkRanges } from './network-allocation.js';
import { DEFAULT_NETWORK_RANGES } from './network-allocation.js';

export interface ApiDeps {
  readonly store: Store;
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
  /** The nodes' per-slot data directories (GET /v1/grids/{grid}/volumes). */
  readonly volumes?: VolumesView;
  /** Virtual IP and node port ranges. Default 127.96.0.0/16 and 30000–32767. */
  readonly networkRanges?: NetworkRanges;
}

/** The error body of every failed request. */
export interface ErrorBody {
  readonly code: string;
  readonly message: string;
  readonly details: Readonly<Record<string, unknown>>;
}

const BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * Builds the HTTP API (docs/api.md) without listening: app/ calls `listen`, tests call `inject`.
 * Routes are thin (validate, call the store, answer); every error leaves as `{code, message, details}`
 * with the status of error-status.ts. Closing the instance ends every open stream.
 */
export function createApi(deps: ApiDeps): FastifyInstance {
  const logger = deps.logger ?? silentLogger;
  const ctx: RouteContext = {
    store: deps.store,
    telemetry: deps.telemetry,
    clock: deps.clock ?? systemClock,
    logger,
    node: deps.node,
    version: deps.version,
    heartbeatMs: deps.heartbeatMs ?? 15_000,
    maxStreamBufferBytes: deps.maxStreamBufferBytes ?? 16 * 1024 * 1024,
    networkRanges: deps.networkRanges ?? DEFAULT_NETWORK_RANGES,
    endpoints: deps.endpoints,
    volumes: deps.volumes,
    dnsAddress: deps.dnsAddress,
    streams: new Set<NdjsonStream>(),
  };
  // Streams stay open until their client leaves; closing the server must not wait for them.
  const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT_BYTES, forceCloseConnections: true, return503OnClosing: true });

  // An empty JSON body counts as no body (clients send `content-type: application/json` with none).
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (typeof body !== 'string' || body.trim() === '') {
      done(null, undefined);
      return;
    }
    // fastify's default parser (prototype-poisoning checks included) answers through this callback.
    void json(request, body, (error, value) => {
      if (error) done(new RequestInvalidError(`body: not valid JSON (${error.message})`, { causes: [{ field: 'body', message: 'not valid JSON' }] }), undefined);
      else done(null, value);
    });
  });

  app.setErrorHandler((error, request, reply) => {
    const { status, body } = toErrorResponse(error);
    if (status >= 500) logger.error({ err: error, method: request.method, url: request.url }, 'request failed');
    return reply.status(status).send(body);
  });

  app.setNotFoundHandler((request, reply) =>
    reply.status(ERROR_STATUS.ROUTE_NOT_FOUND).send({
      code: 'ROUTE_NOT_FOUND',
      message: `no route ${request.method} ${request.url.split('?')[0] ?? ''}; GET /v1/openapi.json lists every route`,
      details: { method: request.method, url: request.url },
    } satisfies ErrorBody),
  );

  app.addHook('preHandler', async (request) => {
    const grid = (request.params as { grid?: unknown } | undefined)?.grid;
    if (typeof grid === 'string') checkGrid(grid);
  });
  app.addHook('onResponse', async (request, reply) => {
    logger.debug({ method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });
  app.addHook('onClose', async () => {
    for (const stream of [...ctx.streams]) stream.end();
  });

  registerMetaRoutes(app, ctx);
  registerServiceRoutes(app, ctx);
  registerInstanceRoutes(app, ctx);
  registerRolloutRoutes(app, ctx);
  registerEndpointRoutes(app, ctx);
  registerVolumeRoutes(app, ctx);
  registerWatchRoutes(app, ctx);
  return app;
}

/**
 * Maps anything thrown to a status and body: berth's coded errors by the table; fastify's own client
 * errors (bad JSON, unsupported content type, body too large) as REQUEST_INVALID with fastify's 4xx
 * status; everything else as 500 INTERNAL.
 */
export function toErrorResponse(error: unknown): { status: number; body: ErrorBody } {
  if (error instanceof CodedError && isErrorCode(error.code)) {
    return { status: ERROR_STATUS[error.code], body: { code: error.code, message: error.message, details: error.details } };
  }
  const e = error as { statusCode?: unknown; code?: unknown; message?: unknown };
  const message = typeof e?.message === 'string' ? e.message : String(error);
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500 && !(error instanceof CodedError)) {
    return { status: e.statusCode, body: { code: 'REQUEST_INVALID', message, details: typeof e.code === 'string' ? { reason: e.code } : {} } };
  }
  const details = error instanceof CodedError ? { reason: error.code, ...error.details } : {};
  return { status: ERROR_STATUS.INTERNAL, body: { code: 'INTERNAL', message: `internal error: ${message}`, details } };
}
