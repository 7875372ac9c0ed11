import { settleWithin } from '../../lib/index.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Instance, LogLine, UnreachableNode } from '../../model/index.js';
import type { RouteAccess } from '../access-control.js';
import type { DockerContext } from './docker-context.js';
import { DockerApiError } from './docker-errors.js';
import type { MuxStreamType } from './log-stream.js';
import { LogStream, MULTIPLEXED_STREAM, RAW_STREAM, logPayload } from './log-stream.js';
import { resolveService } from './service-lookup.js';
import { nodeIdOf, taskIdOf } from './swarm-ids.js';
import { resolveTask, taskEntries } from './task-routes.js';

/**
 * How long a log request waits for its first line before sending the headers: a telemetry failure
 * that comes at once is then answered with its own status (as berth's own logs route does).
 */
const FIRST_LINE_WAIT_MS = 200;

/** Access of the log routes: reading log lines needs `logs` (programs print what they like). */
export const LOG_ACCESS: Readonly<Record<string, RouteAccess>> = {
  'GET /services/:id/logs': { kind: 'permission', permission: 'logs', scope: 'service' },
  'GET /tasks/:id/logs': { kind: 'permission', permission: 'logs', scope: 'grid' },
};

/** The query of a logs request as moby's swarmLogs reads it (api/server/router/swarm/helpers.go). */
export interface DockerLogsOptions {
  readonly stdout: boolean;
  readonly stderr: boolean;
  readonly follow: boolean;
  readonly timestamps: boolean;
  readonly details: boolean;
  /** Lines from the end; undefined = all. */
  readonly tail?: number;
  /** RFC 3339 with nine fraction digits (the form log lines are compared in). */
  readonly since?: string;
}

type LogsQuery = Partial<Record<'stdout' | 'stderr' | 'follow' | 'timestamps' | 'details' | 'tail' | 'since', string>>;

/**
 * `GET /services/{id}/logs` and `GET /tasks/{id}/logs`: the instances' log lines in Docker's
 * multiplexed stream, read the way berth's own logs route reads them (ctx.berth.telemetry: time
 * ordered, `follow` until the client leaves). Closing the face ends every open stream.
 */
export function registerLogRoutes(app: FastifyInstance, ctx: DockerContext): void {
  const open = new Set<LogStream>();
  // preClose: before the server drops its connections, so that each stream ends cleanly.
  app.addHook('preClose', async () => {
    await Promise.all([...open].map((s) => s.end()));
  });

  app.get<{ Params: { id: string }; Querystring: LogsQuery }>('/services/:id/logs', async (request, reply) => {
    requireAStream(request.query);
    const service = resolveService(ctx, request.params.id);
    const options = parseLogsOptions(request.query);
    // Instances that start while following (a restart, a scale-up) are the service's too.
    const ofService = (id: string): Instance | undefined => {
      const instance = ctx.berth.store.getInstance(id);
      return instance?.serviceId === service.id ? instance : undefined;
    };
    await streamLogs(ctx, { request, reply, registry: open }, { instances: taskEntries(ctx, service).map((e) => e.instance), later: ofService }, options);
  });

  app.get<{ Params: { id: string }; Querystring: LogsQuery }>('/tasks/:id/logs', async (request, reply) => {
    requireAStream(request.query);
    const entry = resolveTask(ctx, request.params.id);
    const options = parseLogsOptions(request.query);
    await streamLogs(ctx, { request, reply, registry: open }, { instances: [entry.instance] }, options);
  });
}

/**
 * moby's httputils.BoolValue: false for absent, empty, `0`, `no`, `false` and `none` (any case),
 * true for anything else.
 */
export function dockerBool(value: string | undefined): boolean {
  const v = (value ?? '').trim().toLowerCase();
  return !(v === '' || v === '0' || v === 'no' || v === 'false' || v === 'none');
}

/** @throws DockerApiError 400 `Bad parameters: you must choose at least one stream` (moby's words; Swarm's route answers them with 500, its container route with 400). */
function requireAStream(query: LogsQuery): void {
  if (!dockerBool(query.stdout) && !dockerBool(query.stderr)) throw new DockerApiError(400, 'Bad parameters: you must choose at least one stream');
}

/**
 * Reads the logs query. `tail`: `all` (or empty) or a whole number ≥ 0; `since`: unix seconds with
 * an optional fraction (`1700000000.5`, what the CLI and docker-py send), or an RFC 3339 time.
 * @throws DockerApiError 400 with moby's words (daemon/cluster/services.go) for a bad tail or since.
 */
export function parseLogsOptions(query: LogsQuery): DockerLogsOptions {
  const tail = parseTail(query.tail);
  const since = parseSinceTimestamp(query.since);
  return {
    stdout: dockerBool(query.stdout),
    stderr: dockerBool(query.stderr),
    follow: dockerBool(query.follow),
    timestamps: dockerBool(query.timestamps),
    details: dockerBool(query.details),
    ...(tail !== undefined ? { tail } : {}),
    ...(since !== undefined ? { since } : {}),
  };
}

function parseTail(value: string | undefined): number | undefined {
  const v = (value ?? '').trim();
  if (v === '' || v === 'all') return undefined;
  if (!/^-?\d+$/.test(v)) throw new DockerApiError(400, 'tail value must be a positive integer or "all"');
  const n = Number(v);
  if (n < 0) throw new DockerApiError(400, 'negative tail values not supported');
  return n;
}

/**
 * moby's timetypes.ParseTimestamps: `seconds[.fraction]` since the epoch (the fraction scaled to
 * nanoseconds); `0` or empty = from the beginning. Returned as RFC 3339 with nine fraction digits.
 */
export function parseSinceTimestamp(value: string | undefined): string | undefined {
  const v = (value ?? '').trim();
  if (v === '') return undefined;
  const m = /^(\d+)(?:\.(\d{1,9}))?$/.exec(v);
  if (m) {
    const seconds = Number(m[1]);
    if (seconds === 0 && !m[2]) return undefined;
    const iso = new Date(seconds * 1000).toISOString(); // …T00:00:00.000Z
    return `${iso.slice(0, 19)}.${(m[2] ?? '').padEnd(9, '0')}Z`;
  }
  const ms = /^\d{4}-\d{2}-\d{2}T/.test(v) ? Date.parse(v) : Number.NaN;
  if (Number.isNaN(ms)) throw new DockerApiError(400, `could not parse since timestamp: ${JSON.stringify(v)} is not unix seconds (1700000000.5) or an RFC 3339 time`);
  const fraction = /\.(\d+)/.exec(v.slice(19))?.[1] ?? '';
  return `${new Date(ms).toISOString().slice(0, 19)}.${fraction.slice(0, 9).padEnd(9, '0')}Z`;
}

/** The API version of a request (`/v1.41/…`); unversioned requests get the newest, as moby's. */
function apiVersionOf(request: FastifyRequest, newest: string): string {
  return /^\/v(\d+\.\d+)\//.exec(request.originalUrl)?.[1] ?? newest;
}

function versionAtLeast(version: string, wanted: string): boolean {
  const [a = 0, b = 0] = version.split('.').map(Number);
  const [c = 0, d = 0] = wanted.split('.').map(Number);
  return a !== c ? a > c : b >= d;
}

/** Whose lines: `instances` (what the telemetry reads), and for a service, its instances that start later. */
interface LogSource {
  readonly instances: readonly Instance[];
  readonly later?: (instanceId: string) => Instance | undefined;
}

interface Exchange {
  readonly request: FastifyRequest;
  readonly reply: FastifyReply;
  readonly registry: Set<LogStream>;
}

/**
 * Streams the lines of `entries`' instances: berth's containers have no TTY, so always multiplexed
 * (the content type says so from API 1.42 on, as moby's). Each line carries the details the CLI
 * needs when asked: the node, service and task ids.
 *
 * A node whose agent does not answer (several servers, or agents of other machines) is named, so that
 * the reader knows lines are missing (docs/docker-api.md, "Logs"): without follow, as swarmkit's log
 * broker ends such a stream — after the lines, a daemon error frame (stdcopy's Systemerr) `Error
 * grabbing logs: warning: incomplete log stream. some logs could not be retrieved for the following
 * reasons: node vm-b is not available (…)`, which the docker CLI prints and exits 1 with; while
 * following (swarmkit says nothing there, and an error frame would end the CLI's stream), one stderr
 * line per node as a line of one of its instances — the CLI shows it under that task's `name@node`.
 */
async function streamLogs(ctx: DockerContext, exchange: Exchange, source: LogSource, options: DockerLogsOptions): Promise<void> {
  const byInstance = new Map<string, Instance | undefined>(source.instances.map((i) => [i.id, i]));
  const instanceOf = (id: string): Instance | undefined => {
    if (!byInstance.has(id)) byInstance.set(id, source.later?.(id));
    return byInstance.get(id);
  };
  const contentType = versionAtLeast(apiVersionOf(exchange.request, ctx.engine.maxApiVersion), '1.42') ? MULTIPLEXED_STREAM : RAW_STREAM;
  const stream = new LogStream(exchange.reply, { contentType, maxBufferedBytes: ctx.berth.maxStreamBufferBytes, registry: exchange.registry });
  const frameOf = (line: LogLine): { type: MuxStreamType; payload: Buffer } | undefined => {
    const instance = instanceOf(line.instance);
    if (!instance) return undefined; // a line of an instance this request did not ask for (a task's slot's newer instance)
    if (line.stream === 'stdout' ? !options.stdout : !options.stderr) return undefined;
    return { type: line.stream === 'stdout' ? 1 : 2, payload: logPayload(line, { timestamps: options.timestamps, ...(options.details ? { details: detailsOf(instance) } : {}) }) };
  };
  // Nodes whose lines are missing: reported at the end (no follow), or as they are found (follow).
  const missing: UnreachableNode[] = [];
  const noticeOf = (node: UnreachableNode): { type: MuxStreamType; payload: Buffer } => {
    const instance = node.instances.map(instanceOf).find((i) => i !== undefined);
    const text = `berth: node ${node.node} did not answer (${node.reason}): lines of its instances are missing until it answers again`;
    const line: LogLine = { time: new Date(ctx.berth.clock.now()).toISOString(), stream: 'stderr', text, instance: instance?.id ?? '', slot: instance?.slot ?? 0, container: '' };
    return { type: 2, payload: logPayload(line, { timestamps: options.timestamps, ...(options.details && instance ? { details: detailsOf(instance) } : {}) }) };
  };
  const onUnreachable = (node: UnreachableNode): void => {
    missing.push(node);
    // Before the headers, they wait for open().
    if (options.follow && stream.isStreaming) flushNotices();
  };
  const flushNotices = (): void => {
    for (const node of missing.splice(0)) {
      const notice = noticeOf(node);
      void stream.write(notice.type, notice.payload);
    }
  };
  const query = { ...(options.tail !== undefined ? { tail: options.tail } : {}), ...(options.since !== undefined ? { since: options.since } : {}), follow: options.follow, signal: stream.signal, onUnreachable };
  const lines = ctx.berth.telemetry.logs(source.instances, query)[Symbol.asyncIterator]();

  const first = lines.next();
  const early = await settleWithin(first, FIRST_LINE_WAIT_MS);
  if (early.state === 'rejected') {
    void lines.return?.()?.catch(() => undefined);
    throw early.error; // before the headers: the error handler answers it
  }
  stream.open();
  if (options.follow) flushNotices();
  try {
    let next = early.state === 'fulfilled' ? early.value : await first;
    while (!next.done) {
      const frame = frameOf(next.value);
      if (frame && !(await stream.write(frame.type, frame.payload))) break;
      if (!stream.isOpen) break;
      next = await lines.next();
    }
    if (!options.follow && missing.length > 0) await stream.write(3, Buffer.from(`Error grabbing logs: ${incompleteStream(missing)}\n`));
  } catch (error) {
    // Past the headers, the daemon's own errors go in the stream (stdcopy's Systemerr), as moby's WriteLogStream.
    await stream.write(3, Buffer.from(`Error grabbing logs: ${error instanceof Error ? error.message : String(error)}\n`));
  } finally {
    void lines.return?.()?.catch(() => undefined);
    await stream.end();
  }
}

/** The details of a line of `instance`: its node, service and task ids, as Swarm's log messages carry them. */
function detailsOf(instance: Instance): Record<string, string> {
  return { 'com.docker.swarm.node.id': nodeIdOf(instance.node), 'com.docker.swarm.service.id': instance.serviceId, 'com.docker.swarm.task.id': taskIdOf(instance.id) };
}

/** swarmkit's words for a stream some nodes did not send (manager/logbroker/subscription.go Err), each node with berth's reason. */
export function incompleteStream(missing: readonly UnreachableNode[]): string {
  const nodes = new Map<string, string>();
  for (const m of missing) if (!nodes.has(m.node)) nodes.set(m.node, m.reason);
  return `warning: incomplete log stream. some logs could not be retrieved for the following reasons: ${[...nodes].map(([node, reason]) => `node ${node} is not available (${reason})`).join(', ')}`;
}
