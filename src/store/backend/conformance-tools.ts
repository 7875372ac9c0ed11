import type { Disposable } from '../../lib/index.js';
import type { KvBackend, KvEvent, WatchOptions } from './kv-backend.js';

/** A watch that records what it gets, for tests: events, compacted signals and errors. */
export interface CollectedWatch {
  readonly events: KvEvent[];
  readonly compacted: number[];
  readonly errors: Error[];
  /** Resolves when `done(events)` holds; rejects after `timeoutMs` (default 10 s) naming what it has. */
  until(done: (events: readonly KvEvent[]) => boolean, timeoutMs?: number): Promise<void>;
  untilCompacted(timeoutMs?: number): Promise<void>;
  /** Watches again (on `kv`, after `afterRevision`), appending to the same record. */
  resume(kv: KvBackend, afterRevision: number): void;
  stop(): void;
}

/** Starts a recording watch of `prefix` after `afterRevision`. */
export function collectWatch(kv: KvBackend, prefix: string, afterRevision: number, options: WatchOptions = {}): CollectedWatch {
  const events: KvEvent[] = [];
  const compacted: number[] = [];
  const errors: Error[] = [];
  let handle: Disposable | undefined;
  const start = (backend: KvBackend, after: number): void => {
    handle = backend.watch(prefix, after, {
      events: (batch) => void events.push(...batch),
      compacted: (rev) => void compacted.push(rev),
      error: (e) => void errors.push(e),
    }, options);
  };
  start(kv, afterRevision);
  return {
    events,
    compacted,
    errors,
    until: (done, timeoutMs = 10_000) => waitFor(() => done(events), timeoutMs, `watch of ${prefix}: ${events.length} events so far, errors: ${errors.map((e) => e.message).join('; ') || 'none'}`),
    untilCompacted: (timeoutMs = 10_000) => waitFor(() => compacted.length > 0, timeoutMs, `a compacted signal on ${prefix}`),
    resume: (backend, after) => start(backend, after),
    stop: () => void handle?.dispose(),
  };
}

/** Polls `cond` every 10 ms until it holds; rejects after `timeoutMs` with `what`. */
export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Runs `fn` until it resolves (a write through a member loss), at most `tries` times, 100 ms apart. */
export async function retrying<T>(fn: () => Promise<T>, tries = 100): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (error) {
      if (i >= tries) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
