import type { FastifyInstance } from 'fastify';
import { CodedError, settleWithin } from '../lib/index.js';
import type { Instance, ServiceEvent, StreamWarning, UnreachableNode } from '../model/index.js';
import { InstanceNotFoundError, RequestInvalidError, isTerminal, slotName } from '../model/index.js';
import { durableSink, flushedOf, untilDurable } from './durable-delivery.js';
import type { EventFeed } from './log-timeline.js';
import { withEvents } from './log-timeline.js';
import { NdjsonStream, pumpToStream } from './ndjson-stream.js';
import { InstancesQuery, LogsQuery, parseRequest, parseSince } from './request-schemas.js';
import type { RouteContext, ServiceParams } from './route-context.js';
import { requireService } from './route-context.js';
import { serviceEvent } from './service-events.js';

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
    // The store orders by slot, newest first within a slot. Answered once its revision is in etcd, as
    // the watch sends only such (durable-delivery.ts): a watch from revision + 1 continues it.
    const listed = { items: store.listInstances({ grid, service: name, active: query.active ?? false }), revision: store.revision() };
    await untilDurable(flushedOf(ctx.leaderRouting));
    return listed;
  });

  app.get<{ Params: ServiceParams }>('/v1/grids/:grid/services/:name/stats', async (request) => {
    const { grid, name } = request.params;
    requireService(store, grid, name);
    const running = store.listInstances({ grid, service: name, active: true }).filter((i) => i.status.state === 'running');
    // A node whose agent did not answer: its instances are left out, and named (docs/node-telemetry.md).
    const unreachable: UnreachableNode[] = [];
    const items = running.length === 0 ? [] : await telemetry.stats(running, { onUnreachable: (u) => unreachable.push(u) });
    return { items, ...(unreachable.length > 0 ? { unreachable } : {}) };
  });

  app.get<{ Params: ServiceParams }>('/v1/grids/:grid/services/:name/logs', async (request, reply) => {
    const { grid, name } = request.params;
    const query = parseRequest(LogsQuery, request.query, 'query');
    requireService(store, grid, name);
    const since = query.since === undefined ? undefined : parseSince(query.since, ctx.clock.now());
    const instances = selectInstances(store.listInstances({ grid, service: name }), query.instance);
    const follow = query.follow ?? false;
    if (query.afterEvent !== undefined && !query.events) {
      const message = 'needs events=true (it is where the events of a timeline resume)';
      throw new RequestInvalidError(`afterEvent: ${message}`, { causes: [{ field: 'afterEvent', message }] });
    }
    // Resumed after an event id: the events recorded after it, all of them, whatever their time.
    const events = query.afterEvent === undefined ? { since, tail: query.tail } : { afterId: query.afterEvent };
    const feed = query.events ? await eventFeed(ctx, { grid, name, instance: query.instance, instances, ...events }) : undefined;
    const stream = new NdjsonStream(reply, { ...streamOptions(ctx), resumable: follow });
    let watermark: string | undefined;
    const lines = telemetry.logs(instances, {
      ...(query.events && follow ? { onWatermark: (time: string) => (watermark = time) } : {}),
      // Written where it becomes known (buffered until the stream opens): never a silent gap.
      onUnreachable: (u: UnreachableNode) => void stream.write(unreachableWarning(u)),
      ...(query.tail === undefined ? {} : { tail: query.tail }),
      ...(since === undefined ? {} : { since }),
      follow,
      signal: stream.signal,
    })[Symbol.asyncIterator]();
    if (!feed) {
      await pumpLogs(lines, stream);
      return;
    }
    const timeline = feed((error) => {
      ctx.logger.warn({ err: error }, 'a log timeline ends: this server could not store its events in etcd');
      stream.end();
    });
    await pumpLogs(withEvents(lines, timeline, { follow, now: () => ctx.clock.now(), watermark: () => watermark }), stream);
  });

  /**
   * Asks one instance to stop ("removed by user"); the controller puts a new one in its slot. By slot
   * number: the live instance of that slot; by id: that instance. 202 with the instance as written.
   */
  app.delete<{ Params: ServiceParams & { readonly instance: string } }>('/v1/grids/:grid/services/:name/instances/:instance', async (request, reply) => {
    const { grid, name, instance } = request.params;
    requireService(store, grid, name);
    const all = store.listInstances({ grid, service: name });
    let target: Instance | undefined;
    if (/^\d+$/.test(instance)) {
      target = all.find((i) => i.slot === Number(instance) && i.desiredState === 'running' && !isTerminal(i.status.state));
      if (!target) {
        throw new CodedError('INSTANCE_NOT_FOUND', `slot ${instance} of service "${name}" has no running instance; \`berth service ps ${name}\` lists the instances`, { grid, name, slot: Number(instance) });
      }
    } else {
      target = all.find((i) => i.id === instance);
      if (!target) throw new InstanceNotFoundError(instance);
    }
    const who = slotName(name, target.slot);
    const removed = store.removeInstance(grid, name, target.id, {
      events: [{ ...serviceEvent(grid, name, 'instance.stopping', `${who} (${target.id}) removed by user: it stops, and a new instance takes slot ${target.slot}`), instance: target.id, slot: target.slot }],
    });
    return reply.status(202).send(removed);
  });
}

/** `instance` is a slot number (every instance that ran in the slot) or an instance id. */
function selectInstances(all: readonly Instance[], instance: string | undefined): Instance[] {
  if (instance === undefined) return [...all];
  const selected = /^\d+$/.test(instance) ? all.filter((i) => i.slot === Number(instance)) : all.filter((i) => i.id === instance);
  if (selected.length === 0) throw new InstanceNotFoundError(instance);
  return selected;
}

/** The `{"warning": …}` line of a node whose instances' lines are missing. */
export function unreachableWarning(u: UnreachableNode): StreamWarning {
  const count = u.instances.length;
  return {
    warning: {
      code: 'LOGS_UNAVAILABLE',
      message: `node ${u.node} did not answer (${u.reason}): the logs of its ${count === 1 ? 'instance' : `${count} instances`} are not shown`,
      details: { node: u.node, reason: u.reason, instances: u.instances },
    },
  };
}

/**
 * The events of a log timeline (`…/logs?events=true`): those listed now, once they are in etcd (on the
 * leader of several servers; their ids are revisions a client resumes after, durable-delivery.ts), and a
 * subscription to those recorded from the listing on, each sent once it is in etcd. The returned
 * function makes the feed; `onFailed` is told when an event cannot be made durable (end the stream).
 * @throws CodedError STORE_UNAVAILABLE (503) when the listing cannot be made durable
 */
async function eventFeed(
  ctx: RouteContext,
  options: {
    readonly grid: string;
    readonly name: string;
    readonly instance: string | undefined;
    readonly instances: readonly Instance[];
    readonly since?: string | undefined;
    readonly tail?: number | undefined;
    /** Only events with a larger id (a resumed timeline's `afterEvent`), listed and followed. */
    readonly afterId?: number | undefined;
  },
): Promise<(onFailed: (error: unknown) => void) => EventFeed> {
  const { store } = ctx;
  const { grid, name, instance, instances, since, tail, afterId } = options;
  const mine = (e: ServiceEvent): boolean =>
    (afterId === undefined || e.id > afterId) && (instance === undefined || e.slot === undefined || instances.some((i) => i.id === e.instance || (e.instance === undefined && i.slot === e.slot)));
  // Listing and taking the revision in one synchronous step: the watch starts where the listing ended.
  // `afterId` again in `mine`: a server whose replica lags the one the client left may replay what it saw.
  const history = store.listEvents({ grid, service: name, ...(since ? { since } : {}), ...(tail === undefined ? {} : { tail }), ...(afterId === undefined ? {} : { afterId }) }).filter(mine);
  const listedAt = store.revision();
  const flushed = flushedOf(ctx.leaderRouting);
  await untilDurable(flushed);
  return (onFailed) => ({
    history,
    subscribe: (push) => {
      const deliver = durableSink(flushed, push, onFailed);
      const subscription = store.watch(listedAt, (change) => {
        if (change.kind === 'event' && change.object.grid === grid && change.object.service === name && mine(change.object)) deliver(change.object);
      });
      return () => void subscription.dispose();
    },
  });
}

async function pumpLogs(lines: AsyncIterator<unknown>, stream: NdjsonStream): Promise<void> {
  const first = lines.next();
  const early = await settleWithin(first, FIRST_LINE_WAIT_MS);
  if (early.state === 'rejected') throw early.error; // before the headers: the error handler answers it
  await pumpToStream(lines, stream, first);
}


export function streamOptions(ctx: RouteContext): ConstructorParameters<typeof NdjsonStream>[1] {
  return { heartbeatMs: ctx.heartbeatMs, maxBufferedBytes: ctx.maxStreamBufferBytes, logger: ctx.logger, registry: ctx.streams };
}
