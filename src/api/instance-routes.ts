import type { FastifyInstance } from 'fastify';
import type { Instance, LogLine } from '../model/index.js';
import { InstanceNotFoundError } from '../model/index.js';
import { NdjsonStream } from './ndjson-stream.js';
import { InstancesQuery, LogsQuery, parseRequest, parseSince } from './request-schemas.js';
import type { RouteContext, ServiceParams } from './route-context.js';
import { requireService } from './route-context.js';

/**
 * How long a log request waits for its first line before sending the headers: a telemetry failure that
 * comes at once (LOGS_UNAVAILABLE, NODE_UNAVAILABLE) is then answered with its own status, not as a
 * line in a 200 stream.
 */
const FIRST_LINE_WAIT_MS = 200;

/** Instances of a service, their logs (NDJSON) and their stats. */
export function registerInstanceRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { store, telemetry } = ctx;

  app.get<{ Params: ServiceParams }>('/v1/grids/:grid/services/:name/instances', async (request) => {
    const { grid, name } = request.params;
    const query = parseRequest(InstancesQuery, request.query, 'query');
    requireService(store, grid, name);
    // The store orders by slot, newest first within a slot.
    return { items: store.listInstances({ grid, service: name, active: query.active ?? false }) };
  });

  app.get<{ Params: ServiceParams }>('/v1/grids/:grid/services/:name/stats', async (request) => {
    const { grid, name } = request.params;
    requireService(store, grid, name);
    const running = store.listInstances({ grid, service: name, active: true }).filter((i) => i.status.state === 'running');
    return { items: running.length === 0 ? [] : await telemetry.stats(running) };
  });

  app.get<{ Params: ServiceParams }>('/v1/grids/:grid/services/:name/logs', async (request, reply) => {
    const { grid, name } = request.params;
    const query = parseRequest(LogsQuery, request.query, 'query');
    requireService(store, grid, name);
    const since = query.since === undefined ? undefined : parseSince(query.since, ctx.clock.now());
    const instances = selectInstances(store.listInstances({ grid, service: name }), query.instance);
    const stream = new NdjsonStream(reply, streamOptions(ctx));
    const lines = telemetry.logs(instances, {
      ...(query.tail === undefined ? {} : { tail: query.tail }),
      ...(since === undefined ? {} : { since }),
      follow: query.follow ?? false,
      signal: stream.signal,
    });
    await pumpLogs(lines[Symbol.asyncIterator](), stream);
  });
}

/** `instance` is a slot number (every instance that ran in the slot) or an instance id. */
function selectInstances(all: readonly Instance[], instance: string | undefined): Instance[] {
  if (instance === undefined) return [...all];
  const selected = /^\d+$/.test(instance) ? all.filter((i) => i.slot === Number(instance)) : all.filter((i) => i.id === instance);
  if (selected.length === 0) throw new InstanceNotFoundError(instance);
  return selected;
}

async function pumpLogs(lines: AsyncIterator<LogLine>, stream: NdjsonStream): Promise<void> {
  const first = lines.next();
  const early = await settleWithin(first, FIRST_LINE_WAIT_MS);
  if (early.state === 'rejected') throw early.error; // before the headers: the error handler answers it
  stream.open();
  try {
    let next = early.state === 'fulfilled' ? early.value : await first;
    while (!next.done && (await stream.writeAndWait(next.value))) next = await lines.next();
    if (!next.done) await lines.return?.();
    stream.end();
  } catch (error) {
    if (stream.isOpen) stream.fail(error);
  }
  await stream.done;
}

type Settled<T> = { state: 'fulfilled'; value: T } | { state: 'rejected'; error: unknown } | { state: 'pending' };

/** Waits up to `ms` for `promise`; `pending` when it has not settled by then (it keeps running). */
async function settleWithin<T>(promise: Promise<T>, ms: number): Promise<Settled<T>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Settled<T>>((resolve) => {
    timer = setTimeout(() => resolve({ state: 'pending' }), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        (value): Settled<T> => ({ state: 'fulfilled', value }),
        (error: unknown): Settled<T> => ({ state: 'rejected', error }),
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export function streamOptions(ctx: RouteContext): ConstructorParameters<typeof NdjsonStream>[1] {
  return { heartbeatMs: ctx.heartbeatMs, maxBufferedBytes: ctx.maxStreamBufferBytes, logger: ctx.logger, registry: ctx.streams };
}
