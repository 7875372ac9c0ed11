/**
 * Runs a function when asked, at most once per `minIntervalMs`, at least once per `maxIntervalMs`, and
 * again after a back-off when the last run asks for it: kube-proxy's BoundedFrequencyRunner (`Run`,
 * `RetryAfter`, min and max interval), which syncs its rules on change, periodically, and on failure.
 *
 * Requests coalesce: any number of `run()` calls before the function runs make one run. A run is
 * never started inside a `run()` or `retryAfter()` call (it happens on a later turn of the event loop).
 */
export class BoundedFrequencyRunner {
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  /** Epoch ms of the pending run; Infinity when none is pending. */
  private dueAt = Infinity;
  private lastRunAt = -Infinity;
  private started = false;

  /**
   * @param fn  what to run; a throw is passed to `onError` and the runner keeps going.
   * @param options.minIntervalMs  least time between two runs (0: only coalescing, next event-loop turn).
   * @param options.maxIntervalMs  a run at least this long after the previous one, even unasked (0: never).
   */
  constructor(
    private readonly fn: () => void,
    private readonly options: { readonly minIntervalMs: number; readonly maxIntervalMs: number; readonly now?: () => number; readonly onError?: (error: unknown) => void },
  ) {}

  /** Arms the runner: the first unasked run comes `maxIntervalMs` from now; `run()` asks for one sooner. */
  start(): void {
    this.started = true;
    if (this.options.maxIntervalMs > 0) this.schedule(this.now() + this.options.maxIntervalMs);
  }

  /** Cancels the pending run; nothing runs until `start` again. */
  stop(): void {
    this.started = false;
    this.cancel();
  }

  /** Asks for a run as soon as the min interval allows (coalesced with any pending one). */
  run(): void {
    this.schedule(Math.max(this.now(), this.lastRunAt + this.options.minIntervalMs));
  }

  /** Asks for a run no later than `ms` from now (an earlier pending run stands): the back-off of a failed run. */
  retryAfter(ms: number): void {
    this.schedule(Math.max(this.now() + Math.max(0, ms), this.lastRunAt + this.options.minIntervalMs));
  }

  private schedule(at: number): void {
    if (!this.started || at >= this.dueAt) return;
    this.cancel();
    this.dueAt = at;
    const delay = at - this.now();
    if (delay <= 0) this.immediate = setImmediate(() => this.fire());
    else this.timer = setTimeout(() => this.fire(), delay).unref(); // never what keeps a process alive
  }

  private fire(): void {
    this.timer = undefined;
    this.immediate = undefined;
    this.dueAt = Infinity;
    this.lastRunAt = this.now();
    try {
      this.fn();
    } catch (error) {
      this.options.onError?.(error);
    }
    if (this.options.maxIntervalMs > 0) this.schedule(this.lastRunAt + this.options.maxIntervalMs);
  }

  private cancel(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    this.dueAt = Infinity;
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }
}
