/**
 * The exit code of a command whose reader went away (`berth service ls | head -1`, `… | true`): 141,
 * what a shell reports for a program killed by SIGPIPE (128 + 13), as `cat`, `git` or `kubectl` end
 * there. Node ignores SIGPIPE, so berth notices the closed pipe as EPIPE on a write and ends quietly
 * with this code instead of printing a stack trace (docs/cli.md, "Exit codes").
 */
export const EXIT_PIPE_CLOSED = 141;

/** Error codes of a write to a pipe or socket whose reading end is closed. */
const CLOSED_CODES: ReadonlySet<string> = new Set(['EPIPE', 'ERR_STREAM_DESTROYED', 'ECONNRESET']);

/**
 * Watches the CLI's output streams for a closed reader. Once one write fails with EPIPE the stream is
 * destroyed (later writes are dropped without another error), `closed` turns true and every listener
 * of `onClose` runs once. Any other write error is thrown again, as an unhandled stream error would
 * be.
 *
 * The error listeners stay on the streams for good: an EPIPE can surface on the tick after the last
 * write, when the command has already returned, and a stream error without a listener ends Node with
 * a stack trace.
 */
export class ClosedPipeGuard {
  #closed = false;
  readonly #listeners = new Set<() => void>();

  constructor(streams: readonly NodeJS.WritableStream[]) {
    for (const stream of new Set(streams)) stream.on('error', (error: unknown) => this.#onError(error));
  }

  /** True once a write found its reader gone. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Calls `listener` when the reader goes away (at once if it already has); returns the unsubscribe. */
  onClose(listener: () => void): () => void {
    if (this.#closed) {
      listener();
      return () => undefined;
    }
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #onError(error: unknown): void {
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code !== 'string' || !CLOSED_CODES.has(code)) throw error;
    if (this.#closed) return;
    this.#closed = true;
    for (const listener of [...this.#listeners]) listener();
    this.#listeners.clear();
  }
}
