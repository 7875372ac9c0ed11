import { once } from 'node:events';
import type { FastifyReply } from 'fastify';
import type { Logger } from '../lib/index.js';
import { CodedError } from '../lib/index.js';

export interface NdjsonStreamOptions {
  /** Interval of the empty heartbeat lines that keep idle connections (and proxies) alive. */
  readonly heartbeatMs: number;
  /** A client that lets this much pile up unread is cut off (the store's watchers cannot wait). */
  readonly maxBufferedBytes: number;
  readonly logger: Logger;
  /** Open streams, so that closing the API can end them. */
  readonly registry: Set<NdjsonStream>;
  /**
   * A stream its client resumes elsewhere when it breaks (followed logs and events): when the server
   * shuts down it ends with a SERVER_STOPPING error line (`stop`), so the client tells that from a
   * stream that is done. Others (the store watch, older agents among its clients) just end.
   */
  readonly resumable?: boolean;
}

/**
 * Lines of values that many streams send and nobody changes (the store's watch events, deep-frozen and
 * handed to every watcher): serialized by the first stream that writes one, reused by the others, and
 * gone with the value. Kubernetes' watch cache serializes an event once for all its watchers likewise
 * (cachingObject): with an agent per node watching, an event was serialized once per agent.
 */
const sharedLines = new WeakMap<object, string>();

function sharedLine(value: object, serialize: (value: object) => string): string {
  let line = sharedLines.get(value);
  if (line === undefined) sharedLines.set(value, (line = `${serialize(value)}\n`));
  return line;
}

/**
 * One NDJSON response (`application/x-ndjson`): one JSON value per line, an empty line as heartbeat.
 *
 * Values written before `open()` are buffered, so a route can subscribe to the store first (and still
 * answer an error such as 410 with a normal status), then open the stream. `signal` aborts when the
 * client goes away or the stream ends; hand it to whatever produces the values.
 */
export class NdjsonStream {
  private readonly controller = new AbortController();
  /** Values written before open(), each with its serializer when it is shared (writeShared). */
  private readonly pending: { readonly value: unknown; readonly shared: ((value: object) => string) | undefined }[] = [];
  private state: 'new' | 'open' | 'done' = 'new';
  private heartbeat: NodeJS.Timeout | undefined;
  private resolveDone!: () => void;
  /** Resolves once the stream has ended, for whatever reason. */
  readonly done = new Promise<void>((resolve) => {
    this.resolveDone = resolve;
  });

  constructor(
    private readonly reply: FastifyReply,
    private readonly options: NdjsonStreamOptions,
  ) {
    // The response's 'close' fires when the client disconnects or after the response ends.
    reply.raw.once('close', () => this.finish());
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get isOpen(): boolean {
    return this.state !== 'done';
  }

  /** Takes the response over from fastify, sends the headers and the buffered values. */
  open(): void {
    if (this.state !== 'new') return;
    this.state = 'open';
    this.options.registry.add(this);
    this.reply.hijack();
    const raw = this.reply.raw;
    raw.writeHead(200, {
      'content-type': 'application/x-ndjson; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    raw.flushHeaders();
    this.heartbeat = setInterval(() => {
      if (this.state === 'open') raw.write('\n');
    }, this.options.heartbeatMs);
    this.heartbeat.unref();
    for (const { value, shared } of this.pending.splice(0)) this.send(value, shared);
  }

  /** Queues one value; false once the stream is gone (stop producing). */
  write(value: unknown): boolean {
    return this.send(value, undefined);
  }

  /**
   * As `write`, for a value that other streams send too and that never changes (a frozen store watch
   * event): its line is made once for all of them (see sharedLines), by `serialize`, which must give
   * JSON.stringify's text of it (e.g. the store's watchEventJson, from the text the object was read from).
   */
  writeShared<T extends object>(value: Readonly<T>, serialize: (value: T) => string = JSON.stringify): boolean {
    return this.send(value, serialize as (value: object) => string);
  }

  private send(value: unknown, shared: ((value: object) => string) | undefined): boolean {
    if (this.state === 'new') {
      this.pending.push({ value, shared });
      return true;
    }
    if (this.state === 'done') return false;
    const raw = this.reply.raw;
    raw.write(shared ? sharedLine(value as object, shared) : `${JSON.stringify(value)}\n`);
    if (raw.writableLength > this.options.maxBufferedBytes) {
      this.options.logger.warn({ url: this.reply.request.url, buffered: raw.writableLength }, 'stream client too slow: closing the stream');
      raw.destroy();
      this.finish();
      return false;
    }
    return true;
  }

  /** Writes one value and waits while the client's socket is full (for producers that can wait). */
  async writeAndWait(value: unknown): Promise<boolean> {
    if (!this.write(value)) return false;
    const raw = this.reply.raw;
    if (this.state === 'open' && raw.writableNeedDrain) {
      try {
        await once(raw, 'drain', { signal: this.signal });
      } catch {
        return false;
      }
    }
    return this.isOpen;
  }

  /**
   * Ends the stream because the server shuts down: a resumable stream (options.resumable) with the line
   * `{"error": {"code": "SERVER_STOPPING", …}}` first, so its client goes on at another server.
   */
  stop(): void {
    if (this.options.resumable && this.state === 'open') {
      this.write({ error: { code: 'SERVER_STOPPING', message: 'the berth server is stopping: follow the stream on another server of the cluster, from where it was', details: {} } });
    }
    this.end();
  }

  /** Ends the response after what was written. */
  end(): void {
    if (this.state === 'open') this.reply.raw.end();
    this.finish();
  }

  /**
   * Ends the stream with a last line `{"error": {code, message, details}}`: once streaming has begun, the
   * status line is sent and this is the only way to tell the client what went wrong.
   */
  fail(error: unknown): void {
    const coded = error instanceof CodedError ? error : new CodedError('INTERNAL', `stream failed: ${error instanceof Error ? error.message : String(error)}`);
    this.options.logger.warn({ err: error, url: this.reply.request.url }, 'stream failed');
    this.write({ error: { code: coded.code, message: coded.message, details: coded.details } });
    this.end();
  }

  private finish(): void {
    if (this.state === 'done') return;
    this.state = 'done';
    clearInterval(this.heartbeat);
    this.options.registry.delete(this);
    this.pending.length = 0;
    this.controller.abort();
    this.resolveDone();
  }
}

/**
 * Sends what `lines` yields on `stream` (opened here) with backpressure, until the iterator is done, the
 * client went away (the iterator is then ended with `return`), or it fails (sent as the stream's error
 * line); resolves once the stream is done. `first`: the iterator's first result when the caller read it
 * already (to answer an early failure before the headers).
 */
export async function pumpToStream(lines: AsyncIterator<unknown>, stream: NdjsonStream, first?: Promise<IteratorResult<unknown>>): Promise<void> {
  stream.open();
  try {
    let next = await (first ?? lines.next());
    while (!next.done && (await stream.writeAndWait(next.value))) next = await lines.next();
    if (!next.done) await lines.return?.();
    stream.end();
  } catch (error) {
    if (stream.isOpen) stream.fail(error);
  }
  await stream.done;
}
