/**
 * Aborts a request when its stream has been silent too long: `touch()` on every chunk (a heartbeat
 * line too) restarts the wait. An idle stream of a berth server is never silent — it sends an empty
 * line every 15 s — so only a hung server or a dead path lets this fire.
 */
export class IdleTimer {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #expired = false;

  /** `ms` undefined or 0, or no `attempt` to abort: never fires. */
  constructor(
    private readonly ms: number | undefined,
    private readonly attempt: AbortController | undefined,
  ) {
    this.touch();
  }

  /** True once it fired (the request was aborted by it, not by its caller). */
  get expired(): boolean {
    return this.#expired;
  }

  touch(): void {
    if (!this.ms || !this.attempt || this.#expired) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#expired = true;
      this.attempt?.abort();
    }, this.ms);
  }

  stop(): void {
    clearTimeout(this.#timer);
  }
}

/** `2.5 s`, `30 s`, `800 ms`: a timeout as messages name it. */
export function formatMs(ms: number): string {
  return ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`;
}
