import type { Disposable } from '../lib/index.js';
import type { WatchEvent, WatchListener } from './store.js';

interface Watcher {
  readonly listener: WatchListener;
  /** Called when the watch ends because the history lost continuity (lose). */
  readonly onLost: (() => void) | undefined;
  /** Revision of the last change handed to the listener; it only sees revisions above it. */
  lastDelivered: number;
  /** While true, the watcher reads history itself and live delivery skips it. */
  replaying: boolean;
  closed: boolean;
}

/**
 * Fans committed changes out to watchers, in revision order, with no gaps and no duplicates.
 *
 * - Delivery is synchronous after each commit. A listener that writes to the store causes a nested
 *   publish; that is queued and delivered after the current change has reached every watcher, so no
 *   watcher ever sees revision N+1 before N.
 * - A new watcher first replays history (from the store's change table, which already holds everything
 *   committed), and only then joins live delivery; writes made during its replay are found by the
 *   replay itself, and live delivery skips what it already saw (`lastDelivered`).
 * - A listener that throws is reported through `onListenerError` and stays subscribed.
 */
export class WatchHub {
  private readonly watchers = new Set<Watcher>();
  private queue: WatchEvent[] = [];
  private draining = false;

  constructor(private readonly onListenerError: (error: unknown, event: WatchEvent) => void) {}

  /**
   * Registers `listener` for changes after `fromRevision`.
   * @param readHistory  returns up to a batch of committed changes with revision > `after`, oldest first.
   */
  add(fromRevision: number, listener: WatchListener, readHistory: (after: number) => readonly WatchEvent[], onLost?: () => void): Disposable {
    const watcher: Watcher = { listener, onLost, lastDelivered: fromRevision, replaying: true, closed: false };
    this.watchers.add(watcher);
    try {
      for (;;) {
        if (watcher.closed) break;
        const batch = readHistory(watcher.lastDelivered);
        if (batch.length === 0) break;
        for (const event of batch) {
          if (watcher.closed) break;
          this.deliver(watcher, event);
        }
      }
    } finally {
      watcher.replaying = false;
    }
    return {
      dispose: () => {
        watcher.closed = true;
        this.watchers.delete(watcher);
      },
    };
  }

  /** Delivers changes that were just committed (in revision order) to every live watcher. */
  publish(events: readonly WatchEvent[]): void {
    if (events.length === 0 || this.watchers.size === 0) return;
    this.queue.push(...events);
    if (this.draining) return;
    this.draining = true;
    try {
      for (let i = 0; i < this.queue.length; i++) {
        const event = this.queue[i] as WatchEvent;
        for (const watcher of this.watchers) {
          if (!watcher.closed && !watcher.replaying && event.revision > watcher.lastDelivered) this.deliver(watcher, event);
        }
      }
    } finally {
      this.queue = [];
      this.draining = false;
    }
  }

  /** How many watchers are subscribed. */
  get size(): number {
    return this.watchers.size;
  }

  /** The oldest revision a replaying watcher still needs (history below it must not be trimmed). */
  oldestNeeded(): number | undefined {
    let oldest: number | undefined;
    for (const w of this.watchers) {
      if (w.replaying && (oldest === undefined || w.lastDelivered < oldest)) oldest = w.lastDelivered;
    }
    return oldest;
  }

  /**
   * Ends every watch because the history they follow lost its continuity: each gets nothing more, and
   * its `onLost` is called (a listener that throws is reported and does not stop the others).
   */
  lose(): void {
    const lost = [...this.watchers];
    this.closeAll();
    for (const w of lost) {
      try {
        w.onLost?.();
      } catch (error) {
        this.onListenerError(error, { revision: w.lastDelivered } as WatchEvent);
      }
    }
  }

  closeAll(): void {
    for (const w of this.watchers) w.closed = true;
    this.watchers.clear();
  }

  private deliver(watcher: Watcher, event: WatchEvent): void {
    watcher.lastDelivered = event.revision;
    try {
      watcher.listener(event);
    } catch (error) {
      this.onListenerError(error, event);
    }
  }
}
