/**
 * A push-to-pull bridge: producers `push` values, one consumer iterates them. `close()` ends the
 * iteration after the buffered values; `fail(e)` makes the consumer throw. Unbounded by design: the
 * producers here are log readers that a consumer drains as fast as it can write to a socket.
 */
export class AsyncChannel<T> implements AsyncIterable<T> {
  private readonly buffer: T[] = [];
  private waiter: (() => void) | undefined;
  private closed = false;
  private error: unknown;

  push(value: T): void {
    if (this.closed) return;
    this.buffer.push(value);
    this.wake();
  }

  close(): void {
    this.closed = true;
    this.wake();
  }

  fail(error: unknown): void {
    this.error = error ?? new Error('channel failed');
    this.close();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      if (this.buffer.length > 0) {
        yield this.buffer.shift() as T;
        continue;
      }
      if (this.error !== undefined) throw this.error;
      if (this.closed) return;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }
}
