import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify from 'fastify';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from '../lib/index.js';
import { CodedError, silentLogger } from '../lib/index.js';
import type { Instance, InstanceStats, LogLine } from '../model/index.js';
import { UnauthenticatedError } from '../model/index.js';
import { toErrorResponse } from './create-api.js';
import type { ErrorBody } from './create-api.js';
import { ERROR_STATUS } from './error-status.js';
import { NdjsonStream, pumpToStream } from './ndjson-stream.js';
import { NodeLogsQuery, NodeStatsQuery, parseRequest } from './request-schemas.js';

/**
 * What a node's telemetry listener reads with: the agent's InstanceTelemetry (agent/instance-telemetry.ts),
 * wired in app/remote-agent.ts.
 */
export interface NodeTelemetryReader {
  /** As InstanceTelemetry.logs: `source` is re-read while following (status changes are seen). */
  logs(source: () => readonly Instance[], query: { readonly tail?: number; readonly since?: string; readonly follow?: boolean; readonly signal?: AbortSignal; readonly onWatermark?: (time: string) => void }): AsyncIterable<LogLine>;
  stats(instances: readonly Instance[]): Promise<InstanceStats[]>;
}

export interface NodeTelemetryApiDeps {
  /** The node this listener serves. */
  readonly node: string;
  readonly reader: NodeTelemetryReader;
  /** An instance assigned to this node (ended ones too), by id; undefined for any other. */
  readonly instance: (id: string) => Instance | undefined;
  /** The telemetry token the servers present (api/authenticator.ts telemetryToken); undefined until a join or heartbeat answer brought it, or while the agent is not ready to read (503). */
  readonly token: () => string | undefined;
  readonly logger?: Logger;
  /** Interval of the empty heartbeat lines of streams (default 2 s: servers take 10 s of silence as a broken stream). */
  readonly heartbeatMs?: number;
  /**
   * Serve HTTPS with this pair (the agent's self-signed serving certificate; the servers pin its
   * fingerprint, which the agent reports in its node facts). Absent: plain HTTP.
   */
  readonly https?: { readonly key: Buffer; readonly cert: Buffer };
}

/** A followed stream sends its watermark at most this often when no line came (it advances every 50 ms). */
const WATERMARK_EVERY_MS = 200;

/**
 * The agent's telemetry listener (kube-apiserver → kubelet, port 10250): the servers read the logs and
 * stats of this node's instances here (docs/node-telemetry.md).
 *
 * - `GET /v1/node/instances/logs?id=…&id=…[&tail=N][&since=RFC3339][&follow=true]`: NDJSON, the
 *   instances' LogLines merged in time order as the API's logs stream sends them; while following,
 *   `{"watermark": time}` lines too (every line older than it has been sent), the first one right
 *   after the history.
 * - `GET /v1/node/instances/stats?id=…`: `{items: InstanceStats[]}`.
 *
 * Over HTTPS when `https` is given (docs/node-telemetry.md, "TLS"): the token and the logs never cross
 * the network in clear, and the servers talk only to the certificate the agent reported.
 *
 * Only the telemetry token the servers derive for this node is accepted (compared in constant time): no
 * token, another token, the node's own credential or a user's token is 401; before the agent got one,
 * 503 LOGS_UNAVAILABLE. An id that is not an instance of this node is 404 INSTANCE_NOT_FOUND; more
 * than NODE_TELEMETRY_MAX_IDS ids, or a bad tail or since, 400 REQUEST_INVALID. Nothing else is served.
 */
export function createNodeTelemetryApi(deps: NodeTelemetryApiDeps): FastifyInstance {
  const logger = deps.logger ?? silentLogger;
  const streams = new Set<NdjsonStream>();
  const streamOptions = { heartbeatMs: deps.heartbeatMs ?? 2000, maxBufferedBytes: 16 * 1024 * 1024, logger, registry: streams };
  const options = { logger: false, bodyLimit: 1024, forceCloseConnections: true, return503OnClosing: true } as const;
  const app = deps.https ? (Fastify({ ...options, https: { key: deps.https.key, cert: deps.https.cert } }) as unknown as FastifyInstance) : Fastify(options);
  app.setErrorHandler((error, request, reply) => {
    const { status, body } = toErrorResponse(error);
    if (status >= 500 && status !== 503) logger.error({ err: error, url: request.url }, 'telemetry request failed');
    if (status === 401) void reply.header('www-authenticate', 'Bearer realm="berth-node"');
    return reply.status(status).send(body);
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(ERROR_STATUS.ROUTE_NOT_FOUND).send({
      code: 'ROUTE_NOT_FOUND',
      message: `no route ${request.method} ${request.url.split('?')[0] ?? ''}: a node's telemetry listener serves GET /v1/node/instances/logs and /v1/node/instances/stats only`,
      details: { method: request.method },
    } satisfies ErrorBody),
  );
  app.addHook('onRequest', async (request) => authenticate(request, deps));
  app.addHook('onClose', async () => {
    for (const stream of [...streams]) stream.end();
  });

  /** The node's instances of `ids`, in order. @throws InstanceNotFoundError-like 404 for any other */
  const assigned = (ids: readonly string[]): Instance[] =>
    [...new Set(ids)].map((id) => {
      const inst = deps.instance(id);
      if (!inst) throw new CodedError('INSTANCE_NOT_FOUND', `instance "${id}" is not assigned to node ${deps.node}`, { id, node: deps.node });
      return inst;
    });

  app.get('/v1/node/instances/stats', async (request) => {
    const query = parseRequest(NodeStatsQuery, request.query, 'query');
    return { items: await deps.reader.stats(assigned(query.id)) };
  });

  app.get('/v1/node/instances/logs', async (request, reply) => {
    const query = parseRequest(NodeLogsQuery, request.query, 'query');
    const ids = assigned(query.id).map((i) => i.id);
    const stream = new NdjsonStream(reply, streamOptions);
    let lastMarkAt = 0;
    let first = true;
    const lines = deps.reader.logs(() => ids.map((id) => deps.instance(id)).filter((i): i is Instance => i !== undefined), {
      ...(query.tail === undefined ? {} : { tail: query.tail }),
      ...(query.since === undefined ? {} : { since: query.since }),
      ...(query.follow ? { follow: true } : {}),
      signal: stream.signal,
      // Called between two lines (the reader resumes only once the last line was written), so a mark
      // written here is in order. The first marks the end of the history; later ones are thinned out.
      onWatermark: (time) => {
        const now = Date.now();
        if (!first && now - lastMarkAt < WATERMARK_EVERY_MS) return;
        first = false;
        lastMarkAt = now;
        stream.write({ watermark: time });
      },
    })[Symbol.asyncIterator]();
    await pumpToStream(lines, stream);
  });
  return app;
}

/** @throws UnauthenticatedError (401) unless the request carries this node's telemetry token; CodedError LOGS_UNAVAILABLE (503) before the agent has one */
function authenticate(request: FastifyRequest, deps: NodeTelemetryApiDeps): void {
  const expected = deps.token();
  if (expected === undefined) throw new CodedError('LOGS_UNAVAILABLE', `node ${deps.node}'s agent does not serve telemetry yet: it is starting, or has no telemetry token (it gets one with its next heartbeat answer)`, { node: deps.node });
  const header = request.headers.authorization;
  const m = header === undefined ? null : /^Bearer[ \t]+([!-~]{1,1024})[ \t]*$/i.exec(header);
  if (!m) throw new UnauthenticatedError(`node ${deps.node}'s telemetry listener needs \`Authorization: Bearer <telemetry token>\` (the servers have it)`);
  // Equal-length digests: the comparison takes the same time whatever the token's length or content.
  const given = createHash('sha256').update(m[1] as string).digest();
  const wanted = createHash('sha256').update(expected).digest();
  if (!timingSafeEqual(given, wanted)) throw new UnauthenticatedError(`not node ${deps.node}'s telemetry token`);
}
