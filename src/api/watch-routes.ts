import type { FastifyInstance } from 'fastify';
import type { Identity, ServiceEvent } from '../model/index.js';
import { authorize, serviceKey } from '../model/index.js';
import type { WatchEvent } from '../store/index.js';
import { watchEventJson } from '../store/index.js';
import { identityOf } from './access-control.js';
import { durableSink, flushedOf, untilDurable } from './durable-delivery.js';
import { streamOptions } from './instance-routes.js';
import { NdjsonStream } from './ndjson-stream.js';
import { EventsQuery, WatchQuery, parseRequest, parseSince } from './request-schemas.js';
import type { RouteContext, ServiceParams } from './route-context.js';
import { requireService } from './route-context.js';

/** The end of a service's events stream, sent after its last event (the service was removed). */
const END = Symbol('end');

/** Streams of store changes: a service's event history, and the whole store's watch. */
export function registerWatchRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { store } = ctx;

  app.get<{ Params: ServiceParams }>('/v1/grids/:grid/services/:name/events', async (request, reply) => {
    const { grid, name } = request.params;
    const query = parseRequest(EventsQuery, request.query, 'query');
    requireService(store, grid, name);
    const since = query.since === undefined ? undefined : parseSince(query.since, ctx.clock.now());
    // Listing and taking the revision happen in one synchronous step, so the watch below starts exactly
    // where the listing ended: no event is lost or sent twice.
    const after = query.after;
    const history = store.listEvents({ grid, service: name, ...(since ? { since } : {}), ...(after === undefined ? {} : { afterId: after }), ...(query.tail === undefined ? {} : { tail: query.tail }) });
    const listedAt = store.revision();
    // Event ids are revisions, and a client resumes after the last id it got (`after`): on the leader,
    // what is listed goes out once it is in etcd, and so does each event followed (durable-delivery.ts).
    const flushed = flushedOf(ctx.leaderRouting);
    await untilDurable(flushed);
    const stream = new NdjsonStream(reply, { ...streamOptions(ctx), resumable: query.follow ?? false });
    for (const event of history) stream.write(event);
    if (!query.follow) {
      stream.open();
      stream.end();
      return;
    }
    const key = serviceKey(grid, name);
    // The end goes through the same sink as the events, so it comes after the last of them is out.
    const deliver = durableSink<ServiceEvent | typeof END>(
      flushed,
      (item) => (item === END ? stream.end() : void stream.writeShared(item)),
      (error) => {
        ctx.logger.warn({ err: error }, 'an events stream ends: this server could not store its changes in etcd');
        stream.end();
      },
    );
    const subscription = store.watch(listedAt, (change) => {
      // `after` again: a server whose replica lags the one the client left may still replay what it saw.
      if (change.kind === 'event' && change.object.grid === grid && change.object.service === name) {
        if (after === undefined || change.object.id > after) deliver(change.object);
      }
      // The record is gone: end after the rest of this transaction (its `service.removed` event) is out.
      else if (change.kind === 'service' && change.op === 'delete' && change.key === key) setImmediate(() => deliver(END));
    }, { onLost: () => stream.end() });
    stream.open();
    try {
      await stream.done;
    } finally {
      await subscription.dispose();
    }
  });

  app.get('/v1/watch', async (request, reply) => {
    const query = parseRequest(WatchQuery, request.query, 'query');
    // `fromRevision` is inclusive (etcd's start_revision; a client resumes at last seen + 1); the store's
    // watch takes the revision after which to deliver.
    const after = query.fromRevision === undefined ? store.revision() : Math.max(0, query.fromRevision - 1);
    const stream = new NdjsonStream(reply, streamOptions(ctx));
    // Throws REVISION_COMPACTED (410) before anything is sent; the replay is buffered until open().
    const visible = watchFilter(identityOf(request));
    // Several servers: a change goes out only once it is in etcd (durable-delivery.ts). A leader that
    // died with it unsent to etcd takes it along, and the next one gives its revision out again: a
    // client sent it would resume past that other change and never see it.
    const deliver = durableSink<WatchEvent>(
      flushedOf(ctx.leaderRouting),
      (change) => void stream.writeShared(change, watchEventJson),
      (error) => {
        ctx.logger.warn({ err: error }, 'a watch ends: this server could not store its changes in etcd');
        stream.end();
      },
    );
    // This server's history lost continuity (a replica that loaded past etcd's history ring): the stream
    // ends, and the client that resumes from its last revision is told to list again (410).
    const subscription = store.watch(
      after,
      (change) => {
        if (visible(change)) deliver(change);
      },
      { onLost: () => stream.end() },
    );
    stream.open();
    try {
      await stream.done;
    } finally {
      await subscription.dispose();
    }
  });
}

/**
 * Which changes a watcher sees: nodes with `cluster-read`; a service, its instances and its events with
 * `read` on that service (its grid for grid roles, itself for its own service account).
 */
function watchFilter(identity: Identity): (change: WatchEvent) => boolean {
  const nodes = authorize(identity, 'cluster-read').allowed;
  const seen = new Map<string, boolean>();
  return (change) => {
    if (change.kind === 'node') return nodes;
    const grid = change.object.grid;
    const service = change.kind === 'service' ? change.object.name : change.object.service;
    const key = serviceKey(grid, service);
    let allowed = seen.get(key);
    if (allowed === undefined) {
      allowed = authorize(identity, 'read', { grid, service }).allowed;
      seen.set(key, allowed);
    }
    return allowed;
  };
}
