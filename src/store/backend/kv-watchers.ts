import type { Disposable } from '../../lib/index.js';
import type { KvEvent, KvWatchListener } from './kv-backend.js';

type Watcher = { readonly prefix: string; readonly after: number; readonly listener: KvWatchListener; readonly prevKv: boolean; live: boolean };

/**
 * SqliteKv's in-process watchers. A watcher first replays history (`replay`, run in one synchronous
 * block with its subscription, so no committed change falls between the two), then gets each committed
 * transaction's events, filtered by its prefix. A listener that throws goes to its `error` and stays.
 */
export class KvWatchers {
  private readonly watchers = new Set<Watcher>();
  /** Transactions waiting to be handed out: a listener that writes must not get ahead of the others. */
  private readonly queue: (readonly KvEvent[])[] = [];
  private draining = false;

  /**
   * Adds a watcher of changes after revision `after`, on the next microtask: `start()` returns the history to replay (in batches) or the
   * compact revision when that history is gone (the watcher then gets `compacted` and is not added).
   */
  add(prefix: string, after: number, listener: KvWatchListener, prevKv: boolean, start: () => { compacted: number } | Iterable<readonly KvEvent[]>): Disposable {
    const watcher: Watcher = { prefix, after, listener, prevKv, live: true };
    queueMicrotask(() => {
      if (!watcher.live) return;
      let history: ReturnType<typeof start>;
      try {
        history = start();
      } catch (error) {
        watcher.live = false;
        report(listener, error);
        return;
      }
      if ('compacted' in history) {
        watcher.live = false;
        listener.compacted(history.compacted);
        return;
      }
      for (const batch of history) {
        const mine = batch.filter((e) => e.kv.key.startsWith(prefix));
        if (mine.length > 0) deliver(watcher, mine);
        if (!watcher.live) return;
      }
      this.watchers.add(watcher);
    });
    return {
      dispose: () => {
        watcher.live = false;
        this.watchers.delete(watcher);
      },
    };
  }

  /**
   * Hands one committed transaction's events to the live watchers whose prefix matches. A write made by
   * a listener while this runs is queued and handed out after, so every watcher sees revision order.
   */
  publish(events: readonly KvEvent[]): void {
    if (events.length === 0) return;
    this.queue.push(events);
    if (this.draining) return;
    this.draining = true;
    try {
      for (let next = this.queue.shift(); next; next = this.queue.shift()) {
        for (const watcher of [...this.watchers]) {
          // `after` matters for a watch from a revision still to come (etcd waits for it too).
          const mine = next.filter((e) => e.kv.modRevision > watcher.after && e.kv.key.startsWith(watcher.prefix));
          if (mine.length > 0 && watcher.live) deliver(watcher, mine);
        }
      }
    } finally {
      this.draining = false;
    }
  }

  /** Ends every watch without a signal (close()). */
  closeAll(): void {
    for (const w of this.watchers) w.live = false;
    this.watchers.clear();
  }
}

function deliver(watcher: Watcher, events: readonly KvEvent[]): void {
  try {
    watcher.listener.events(watcher.prevKv ? events : events.map(withoutPrev));
  } catch (error) {
    report(watcher.listener, error);
  }
}

function withoutPrev(e: KvEvent): KvEvent {
  return e.prevKv ? Object.freeze({ type: e.type, kv: e.kv }) : e;
}

function report(listener: KvWatchListener, error: unknown): void {
  try {
    listener.error?.(error instanceof Error ? error : new Error(String(error)));
  } catch {}
}
