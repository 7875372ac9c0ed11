import type { LogLine } from '../model/index.js';
import type { Palette } from './palette.js';

/**
 * Writes log lines with a `web-2 | ` prefix (docker compose style), one colour per prefix in order of
 * first appearance, padded to the widest prefix seen so far so the text lines up.
 */
export class LogPrinter {
  readonly #stdout: NodeJS.WritableStream;
  readonly #palette: Palette;
  readonly #timestamps: boolean;
  readonly #colours = new Map<string, number>();
  #width = 0;

  constructor(stdout: NodeJS.WritableStream, options: { readonly palette: Palette; readonly timestamps?: boolean }) {
    this.#stdout = stdout;
    this.#palette = options.palette;
    this.#timestamps = options.timestamps ?? false;
  }

  write(service: string, line: LogLine): void {
    const prefix = `${service}-${line.slot}`;
    let colour = this.#colours.get(prefix);
    if (colour === undefined) {
      colour = this.#colours.size;
      this.#colours.set(prefix, colour);
    }
    this.#width = Math.max(this.#width, prefix.length);
    const head = this.#palette.pick(colour, `${prefix.padEnd(this.#width)} |`);
    const time = this.#timestamps ? `${this.#palette.dim(line.time)} ` : '';
    this.#stdout.write(`${head} ${time}${line.text}\n`);
  }
}
