import { createLogUpdate } from 'log-update';

/**
 * A frame of text shown in place: redrawn over the previous frame on a terminal (log-update), or written
 * out in full, frame after frame, when the stream is piped (so logs of a pipe stay readable).
 */
export class LiveView {
  readonly #stream: NodeJS.WritableStream;
  readonly #update: ReturnType<typeof createLogUpdate> | undefined;

  /**
   * @param interactive  redraw in place; ignored on a terminal that reports 0 rows or columns (a pty
   *   nobody sized, as under `script`), where log-update would draw nothing at all
   */
  constructor(stream: NodeJS.WritableStream, interactive: boolean) {
    this.#stream = stream;
    const { rows, columns } = stream as { rows?: number; columns?: number };
    this.#update = interactive && rows !== 0 && columns !== 0 ? createLogUpdate(stream) : undefined;
  }

  get interactive(): boolean {
    return this.#update !== undefined;
  }

  render(frame: string): void {
    if (this.#update) this.#update(frame);
    else this.#stream.write(frame.endsWith('\n') ? frame : `${frame}\n`);
  }

  /** Leaves the last frame on screen (and shows the cursor again). */
  done(): void {
    this.#update?.done();
  }
}
