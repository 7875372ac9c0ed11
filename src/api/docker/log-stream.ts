import { once } from 'node:events';
import type { FastifyReply } from 'fastify';
import type { LogLine } from '../../model/index.js';
import { timeKey } from '../log-timeline.js';

/*
 * Docker's log stream format (moby api/server/httputils/write_log_stream.go, pkg/stdcopy): without a
 * TTY every line is one frame — an 8-byte header (stream type, three zero bytes, the payload's length
 * as a big-endian uint32) and the payload `[<timestamp> ][<details> ]<line>\n`.
 */

/** stdcopy's stream types: 1 stdout, 2 stderr, 3 the daemon's own errors ("Error grabbing logs: …"). */
export type MuxStreamType = 1 | 2 | 3;

/** Content types of a log stream (moby api/types: MediaTypeMultiplexedStream since API 1.42, MediaTypeRawStream before, and with a TTY). */
export const MULTIPLEXED_STREAM = 'application/vnd.docker.multiplexed-stream';
export const RAW_STREAM = 'application/vnd.docker.raw-stream';

/** One stdcopy frame: header (type, 0, 0, 0, length uint32 BE) + payload. */
export function muxFrame(stream: MuxStreamType, payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt8(stream, 0);
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/** Go's `url.QueryEscape`: everything but letters, digits and `-_.~` percent-encoded, a space as `+`. */
export function goQueryEscape(value: string): string {
  return encodeURIComponent(value)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/**
 * The details of a line as moby's `attrsByteSlice`: `k=v` pairs sorted by key, each side
 * query-escaped, joined by commas. The docker CLI parses them back (`docker service logs` builds its
 * `web.1.<task>@<node>    | ` prefix from the three com.docker.swarm.* keys).
 */
export function formatDetails(attrs: Readonly<Record<string, string>>): string {
  return Object.keys(attrs)
    .sort()
    .map((k) => `${goQueryEscape(k)}=${goQueryEscape(attrs[k] as string)}`)
    .join(',');
}

/** moby's RFC3339NanoFixed: always nine fraction digits, `Z` for UTC (`2026-03-01T11:00:00.120000000Z`). */
export function rfc3339NanoFixed(time: string): string {
  return timeKey(time);
}

/**
 * The payload of one line's frame, as WriteLogStream builds it: the details and a space when asked,
 * prefixed by the timestamp and a space when asked; the line ends with a newline (each frame is one
 * whole line, which the CLI's log writer relies on).
 */
export function logPayload(line: LogLine, options: { readonly timestamps: boolean; readonly details?: Readonly<Record<string, string>> }): Buffer {
  let text = `${line.text}\n`;
  if (options.details) text = `${formatDetails(options.details)} ${text}`;
  if (options.timestamps) text = `${rfc3339NanoFixed(line.time)} ${text}`;
  return Buffer.from(text, 'utf8');
}

export interface LogStreamOptions {
  readonly contentType: string;
  /** A client that lets this much pile up unread is cut off (as berth's NDJSON streams). */
  readonly maxBufferedBytes: number;
  /** Open streams, so that closing the face can end them. */
  readonly registry: Set<LogStream>;
}

/**
 * One log response. Nothing is sent before `open()`, so an error found while waiting for the first
 * line still leaves with its own status. `signal` aborts when the client leaves or the stream ends:
 * hand it to whatever reads the lines.
 */
export class LogStream {
  private readonly controller = new AbortController();
  private state: 'new' | 'open' | 'done' = 'new';

  constructor(
    private readonly reply: FastifyReply,
    private readonly options: LogStreamOptions,
  ) {
    // 'close' fires when the client disconnects or after the response ended.
    reply.raw.once('close', () => this.finish());
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get isOpen(): boolean {
    return this.state !== 'done';
  }

  /** True once open() sent the headers and until the stream ends: frames written now go out. */
  get isStreaming(): boolean {
    return this.state === 'open';
  }

  /** Takes the response over from fastify and sends the status and headers at once (moby writes 200 before the first line). */
  open(): void {
    if (this.state !== 'new') return;
    this.state = 'open';
    this.options.registry.add(this);
    this.reply.hijack();
    this.reply.raw.writeHead(200, { 'content-type': this.options.contentType, 'cache-control': 'no-store' });
    this.reply.raw.flushHeaders();
  }

  /** Writes one frame and waits while the client's socket is full; false once the stream is gone. */
  async write(stream: MuxStreamType, payload: Buffer): Promise<boolean> {
    if (this.state !== 'open') return false;
    const raw = this.reply.raw;
    raw.write(muxFrame(stream, payload));
    if (raw.writableLength > this.options.maxBufferedBytes) {
      raw.destroy();
      this.finish();
      return false;
    }
    if (raw.writableNeedDrain) {
      try {
        await once(raw, 'drain', { signal: this.signal });
      } catch {
        return false;
      }
    }
    return this.isOpen;
  }

  /** Ends the response after what was written; resolves once it was handed to the system (or at most `waitMs` later). */
  async end(waitMs = 1000): Promise<void> {
    if (this.state !== 'open') {
      this.finish();
      return;
    }
    const raw = this.reply.raw;
    const finished = once(raw, 'finish').catch(() => undefined);
    raw.end();
    this.finish();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([finished, new Promise((resolve) => (timer = setTimeout(resolve, waitMs)))]);
    clearTimeout(timer);
  }

  private finish(): void {
    if (this.state === 'done') return;
    this.state = 'done';
    this.options.registry.delete(this);
    this.controller.abort();
  }
}
