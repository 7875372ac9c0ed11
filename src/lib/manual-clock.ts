import type { Clock } from './clock.js';

/**
 * A clock for tests that moves only when told: `advance(ms)` walks through the due sleeps in time
 * order, setting `now()` to each one's due time before resolving it and letting the woken code run
 * (a turn of the event loop) before the next — so a loop that sleeps 100 ms ten times sees ten ticks.
 */
export class ManualClock implements Clock {
  private t: number;
  private sleepers: { at: number; seq: number; resolve: () => void }[] = [];
  private seq = 0;

  constructor(start = 0) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const entry = { at: this.t + Math.max(0, ms), seq: this.seq++, resolve };
      this.sleepers.push(entry);
      signal?.addEventListener(
        'abort',
        () => {
          this.sleepers = this.sleepers.filter((s) => s !== entry);
          reject(signal.reason);
        },
        { once: true },
      );
    });
  }

  /** Moves time forward by `ms`, waking every sleep due on the way, in order. At most 100 000 wake-ups. */
  async advance(ms: number): Promise<void> {
    const target = this.t + ms;
    await settle(); // code that was about to sleep gets to
    for (let i = 0; i < 100_000; i++) {
      const next = this.sleepers.filter((s) => s.at <= target).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!next) break;
      this.sleepers = this.sleepers.filter((s) => s !== next);
      this.t = Math.max(this.t, next.at);
      next.resolve();
      await settle();
    }
    this.t = target;
    await settle();
  }

  /** Sleeps not yet due. */
  pending(): number {
    return this.sleepers.length;
  }
}

/** Lets promise chains started by a wake-up run to their next real wait. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
}
