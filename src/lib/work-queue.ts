import type { Clock } from './clock.js';
import { systemClock } from './clock.js';

export interface WorkQueueOptions {
  /** Parallel workers; the same key is never processed by two workers at once. Default 1. */
  concurrency?: number;
  /** First retry delay after a failure, doubled per consecutive failure of a key. Default 100 ms. */
  baseRetryMs?: number;
  /** Cap of the retry delay. Default 30 s. */
  maxRetryMs?: number;
  clock?: Clock;
  /** Called when the handler throws; the key is requeued with backoff. */
  onError?: (key: string, error: unknown) => void;
}

/** What a handler may ask for: nothing, or to look at the key again after `requeueAfterMs`. */
export type WorkResult = void | { requeueAfterMs?: number; /** The requeue counts as queued for idle() (addAfter's `busy`). */ busy?: boolean };

/**
 * A keyed, level-triggered work queue (after Kubernetes' workqueue): callers enqueue keys, never objects;
 * a key added several times before it runs is processed once; a key added while it is being processed is
 * processed again afterwards; a failing key is retried with exponential backoff.
 *
 * Handlers run from a macrotask of their own (setImmediate), never inside the call that added the key
 * and never straight after another handler in the same turn: as Kubernetes' workers run apart from the
 * informers that enqueue. So every change made while one pass runs (a burst of agents' status reports)
 * is handled by one later pass, and I/O — heartbeats, the leader's lease keep-alive — is served between
 * passes. (Run inline, a 10,000-instance service re-planned once per status report, back to back in
 * microtasks, and the event loop starved until the leader lost its lease: bench/control-plane-scale.)
 */
export class WorkQueue {
  private readonly dirty = new Set<string>();
  private readonly queue: string[] = [];
  private readonly active = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout; busy: boolean }>();
  /** Delayed adds that count as queued for idle() (addAfter's `busy`). */
  private busyTimers = 0;
  private readonly idleWaiters: Array<() => void> = [];
  private running = 0;
  private stopped = false;
  private pumpScheduled = false;
  private readonly concurrency: number;
  private readonly baseRetryMs: number;
  private readonly maxRetryMs: number;
  private readonly clock: Clock;

  constructor(
    private readonly handler: (key: string) => Promise<WorkResult>,
    private readonly options: WorkQueueOptions = {},
  ) {
    this.concurrency = options.concurrency ?? 1;
    this.baseRetryMs = options.baseRetryMs ?? 100;
    this.maxRetryMs = options.maxRetryMs ?? 30_000;
    this.clock = options.clock ?? systemClock;
  }

  /** Marks `key` for processing as soon as a worker is free. */
  add(key: string): void {
    if (this.stopped) return;
    this.clearTimer(key);
    if (this.dirty.has(key)) return;
    this.dirty.add(key);
    if (!this.active.has(key)) this.queue.push(key);
    this.schedulePump();
  }

  /**
   * Adds `key` after `ms`; an earlier pending add-after for the key wins. `busy`: the key counts as
   * queued for idle() while it waits (a short pacing delay, not a back-off of seconds).
   */
  addAfter(key: string, ms: number, options: { readonly busy?: boolean } = {}): void {
    if (this.stopped) return;
    if (ms <= 0) return this.add(key);
    if (this.dirty.has(key)) return; // queued already: it runs sooner than this
    const at = this.clock.now() + ms;
    const existing = this.timers.get(key);
    if (existing && existing.at <= at) return;
    this.clearTimer(key);
    const timer = setTimeout(() => {
      this.clearTimer(key);
      this.add(key);
    }, ms);
    const busy = options.busy === true;
    if (!busy) timer.unref(); // a busy wait is short, and idle() waits for it
    if (busy) this.busyTimers++;
    this.timers.set(key, { at, timer, busy });
  }

  /** Resolves when no key is queued, waiting as busy (addAfter) or being processed (other delayed adds do not count). */
  async idle(): Promise<void> {
    if (this.queue.length === 0 && this.running === 0 && this.busyTimers === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t.timer);
    this.timers.clear();
    this.busyTimers = 0;
    for (const w of this.idleWaiters.splice(0)) w();
    this.queue.length = 0;
    this.dirty.clear();
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (!this.stopped && this.running < this.concurrency && this.queue.length > 0) {
      const key = this.queue.shift() as string;
      this.dirty.delete(key);
      this.active.add(key);
      this.running++;
      void this.process(key);
    }
    if (this.queue.length === 0 && this.running === 0 && this.busyTimers === 0) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private clearTimer(key: string): void {
    const t = this.timers.get(key);
    if (!t) return;
    clearTimeout(t.timer);
    this.timers.delete(key);
    if (t.busy) this.busyTimers--;
  }

  private async process(key: string): Promise<void> {
    try {
      const result = await this.handler(key);
      this.failures.delete(key);
      if (result && result.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs, { busy: result.busy === true });
    } catch (error) {
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      this.options.onError?.(key, error);
      this.addAfter(key, Math.min(this.maxRetryMs, this.baseRetryMs * 2 ** (n - 1)));
    } finally {
      this.active.delete(key);
      this.running--;
      if (this.dirty.has(key)) this.queue.push(key);
      this.schedulePump();
    }
  }
}
