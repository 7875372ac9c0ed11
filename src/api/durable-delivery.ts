import { CodedError } from '../lib/index.js';

/*
 * Several servers on etcd (docs/control-plane.md, "Watches see only what etcd holds"): the leader's
 * store commits in memory first and its writer puts each commit in etcd after. A change a watcher was
 * sent before it was in etcd may be lost with the leader (SIGKILL), and the next leader, which loads
 * etcd's rows, gives its revision out again for another change. A watcher that resumes after the last
 * revision it saw then skips that other change for good: an agent never started an instance assigned to
 * it (control-plane-netns.test.ts, in CI). So what the API streams or lists as of a revision goes out
 * only once that revision is durable, as etcd's own watch sends only committed revisions. Event ids are
 * revisions too: a client that resumes a service's events after the last id it saw (`after`,
 * `afterEvent`) would skip the next leader's event of that id the same way.
 */

/**
 * Resolves once every change the store committed so far is in etcd: `LeaderRouting.flushed` on the
 * leader; at once on a follower (its replica holds only what etcd holds) and on a lone server.
 * @throws the writer's error when it cannot be made durable (the leader is going down)
 */
export type Flushed = () => Promise<unknown>;

/**
 * Holds the items of one stream (a watch's change events, in revision order) until `flushed()` says
 * every change committed when they were pushed is in etcd, then hands them to `release` in the same
 * order. Items pushed while it waits wait for the next flush (one flush per batch, not per item). When
 * a flush fails, nothing more is released and `onFailed` is called once: end the stream.
 */
export class DurableDelivery<T> {
  private held: T[] = [];
  private waiting = false;
  private failed = false;

  constructor(
    private readonly flushed: Flushed,
    private readonly release: (items: readonly T[]) => void,
    private readonly onFailed: (error: unknown) => void,
  ) {}

  /** Queues `item`, committed by the time of the call (store watchers are called after the commit). */
  push(item: T): void {
    if (this.failed) return;
    this.held.push(item);
    if (this.waiting) return;
    this.waiting = true;
    // After the current task's other pushes (one commit's changes, a replay): they go in one batch.
    queueMicrotask(() => void this.drain());
  }

  private async drain(): Promise<void> {
    try {
      while (this.held.length > 0 && !this.failed) {
        // What is held now was committed before this flush was asked for: the flush covers it.
        const covered = this.held.length;
        await this.flushed();
        this.release(this.held.splice(0, covered));
      }
    } catch (error) {
      this.failed = true;
      this.held = [];
      this.onFailed(error);
    } finally {
      this.waiting = false;
    }
  }
}

/**
 * Where one stream's items go, in the order given: through a `DurableDelivery` when there is a flush to
 * wait for (several servers), straight to `send` when not (a lone server). Every followed stream of
 * store changes (the watch, a service's events, a log timeline's events) sends through one of these.
 */
export function durableSink<T>(flushed: Flushed | undefined, send: (item: T) => void, onFailed: (error: unknown) => void): (item: T) => void {
  if (!flushed) return send;
  const delivery = new DurableDelivery<T>(flushed, (items) => items.forEach(send), onFailed);
  return (item) => delivery.push(item);
}

/** The flush of several servers' routing; a lone server's store (no routing) has nothing to wait for. */
export function flushedOf(routing: { flushed(): Promise<unknown> } | undefined): Flushed | undefined {
  return routing ? () => routing.flushed() : undefined;
}

/**
 * Waits until what a read just saw (synchronously, before this call) is in etcd: a listing a watch
 * resumes after (GET /v1/snapshot, a node's instances) must not name a revision the next leader may
 * give out again. Nothing to wait for without `flushed` (a lone server).
 * @throws CodedError STORE_UNAVAILABLE (503) when the leader cannot make it durable (it is going down)
 */
export async function untilDurable(flushed: Flushed | undefined): Promise<void> {
  if (!flushed) return;
  try {
    await flushed();
  } catch (error) {
    throw new CodedError('STORE_UNAVAILABLE', `what this server holds could not be stored in etcd (${(error as Error).message}); it stops leading, retry`, {});
  }
}
