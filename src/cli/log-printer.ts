import type { LogLine, ServiceEvent } from '../model/index.js';
import type { Palette } from './palette.js';

/**
 * Writes log lines with a `web-2 | ` prefix (docker compose style), one colour per prefix in order of
 * first appearance, padded to the widest prefix seen so far so the text lines up.
 *
 * As a timeline (`logs --events`), every line starts with its time (milliseconds, UTC) and events are
 * written between the log lines: `2026-11-21T15:04:05.123Z  EVENT instance.unhealthy web-2: …`.
 */
export class LogPrinter {
  readonly #stdout: NodeJS.WritableStream;
  readonly #palette: Palette;
  readonly #timestamps: boolean;
  readonly #timeline: boolean;
  readonly #colours = new Map<string, number>();
  #width = 0;

  constructor(stdout: NodeJS.WritableStream, options: { readonly palette: Palette; readonly timestamps?: boolean; readonly timeline?: boolean }) {
    this.#stdout = stdout;
    this.#palette = options.palette;
    this.#timestamps = options.timestamps ?? false;
    this.#timeline = options.timeline ?? false;
  }

  /** An event of the timeline, marked EVENT (warnings yellow, errors red). */
  writeEvent(service: string, event: ServiceEvent): void {
    const c = this.#palette;
    const colour = event.severity === 'error' ? c.red : event.severity === 'warning' ? c.yellow : (t: string): string => t;
    const who = event.slot !== undefined ? `${service}-${event.slot}` : service;
    this.#stdout.write(`${c.dim(shortTime(event.time))}  ${c.bold('EVENT')} ${colour(`${event.type} ${who}: ${event.message}`)}\n`);
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
    if (this.#timeline) {
      this.#stdout.write(`${this.#palette.dim(shortTime(line.time))}  ${head} ${line.text}\n`);
      return;
    }
    const time = this.#timestamps ? `${this.#palette.dim(line.time)} ` : '';
    this.#stdout.write(`${head} ${time}${line.text}\n`);
  }
}

/** RFC 3339 with nanoseconds → milliseconds, so log lines and events (ms) line up. */
function shortTime(time: string): string {
  return time.replace(/(\.\d{3})\d*Z$/, '$1Z').replace(/(:\d{2})Z$/, '$1.000Z');
}
