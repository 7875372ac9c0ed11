import type { IncomingMessage } from 'node:http';
import type Dockerode from 'dockerode';
import type { ContainerLogLine, LogReadOptions } from '../driver.js';
import { FrameDemuxer } from './stream-frames.js';

/**
 * A line longer than this is yielded in pieces of this size, bytes: a container printing without a
 * newline cannot make berth hold an unbounded line (1 MiB, 64 of the engine's 16 KiB pieces).
 */
export const MAX_JOINED_LINE_BYTES = 1024 * 1024;

const NEWLINE = 0x0a;
const SPACE = 0x20;
const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/**
 * An RFC 3339 time as UTC with exactly nine fraction digits ("2026-11-21T15:04:05.123456789Z"), so that
 * times sort as strings; undefined when `time` is not RFC 3339. (Docker writes RFC3339Nano with fixed
 * nine digits already; other engines trim trailing zeros or use an offset.)
 */
export function normalizeRfc3339(time: string): string | undefined {
  const m = RFC3339.exec(time);
  if (!m) return undefined;
  const [, seconds, fraction = '', zone] = m as unknown as [string, string, string | undefined, string];
  let whole = `${seconds}Z`;
  if (zone !== 'Z') {
    const ms = Date.parse(`${seconds}${zone}`);
    if (Number.isNaN(ms)) return undefined;
    whole = new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
  } else if (Number.isNaN(Date.parse(whole))) return undefined;
  return `${whole.slice(0, -1)}.${fraction.padEnd(9, '0')}Z`;
}

/** A normalised RFC 3339 time as the engine's `since`: unix seconds with nine fraction digits ("1795100645.123456789"). */
function unixSeconds(normalized: string): string {
  const seconds = Math.floor(Date.parse(`${normalized.slice(0, 19)}Z`) / 1000);
  return `${seconds}.${normalized.slice(20, 29)}`;
}

/**
 * Reads a container's log from the engine (GET /containers/{id}/logs, stdout and stderr, timestamps),
 * in the engine's order (one json-file: time order across both streams). Containers without a TTY only
 * (the stream is then multiplexed; a TTY's is not, and the read fails).
 *
 * - `tail`: the last N lines. Without `since` the engine cuts (cheap); with `since`, the lines from
 *   `since` on are read and the last N of them kept here, as the process driver does (since, then tail).
 * - `since`: RFC 3339, any offset; passed to the engine as unix seconds with fraction, then applied
 *   exactly to each line's time (string compare of normalised times). A `since` that is not RFC 3339 is
 *   only compared as a string, as the process driver does.
 * - `follow`: then yields new lines until the container has exited and its log is read to the end (the
 *   engine ends the stream), or `signal` aborts — which ends the iteration quietly.
 *
 * Lines: `time` is the line's engine timestamp normalised to UTC with nine fraction digits, `text` the
 * line without its newline (decoded as UTF-8 once whole). Docker cuts a line longer than 16 KiB into
 * 16 KiB pieces, each logged with its own time and without a newline but the last: they are joined
 * here, per stream, into the one line the container wrote, with the time of its first piece (as CRI
 * readers join P records) — up to MAX_JOINED_LINE_BYTES, past which the line is yielded in pieces of
 * that size. A last line written without a newline (the container exited after it) is yielded as a line.
 * With `tail` the engine counts pieces, not lines: a cut inside a long line yields its tail end only.
 *
 * @throws the engine client's error (HTTP 404 `no such container` …) from the first iteration.
 */
export function readContainerLogs(docker: Dockerode, containerId: string, options: LogReadOptions): AsyncIterable<ContainerLogLine> {
  return readLogs(docker, containerId, options);
}

async function* readLogs(docker: Dockerode, containerId: string, options: LogReadOptions): AsyncGenerator<ContainerLogLine> {
  const { signal, follow = false } = options;
  if (signal?.aborted) return;
  const sinceTime = options.since === undefined ? undefined : normalizeRfc3339(options.since);
  const since = sinceTime ?? options.since;
  const tail = options.tail === undefined ? undefined : Math.max(0, Math.floor(options.tail));
  const localTail = tail !== undefined && since !== undefined;
  const query: Record<string, string | number | boolean> = { stdout: true, stderr: true, timestamps: true, follow };
  if (tail !== undefined && !localTail) query.tail = tail;
  if (sinceTime !== undefined) query.since = unixSeconds(sinceTime);

  const request = new AbortController();
  const onAbort = (): void => request.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  let response: IncomingMessage | undefined;
  try {
    try {
      response = await new Promise<IncomingMessage>((resolve, reject) =>
        docker.modem.dial(
          {
            path: `/containers/${encodeURIComponent(containerId)}/logs?`,
            method: 'GET',
            options: query,
            isStream: true,
            abortSignal: request.signal,
            statusCodes: { 200: true, 404: 'no such container', 500: 'server error' },
          },
          (err, res) => (err ? reject(err) : resolve(res as IncomingMessage)),
        ),
      );
    } catch (e) {
      if (signal?.aborted) return;
      throw e;
    }
    const lines = new LogLineAssembler();
    const ring = localTail ? new Ring<ContainerLogLine>(tail ?? 0) : undefined;
    const keep = (line: ContainerLogLine): boolean => since === undefined || line.time >= since;
    const demuxer = new FrameDemuxer();
    try {
      for await (const chunk of response as AsyncIterable<Buffer>) {
        for (const frame of demuxer.push(chunk)) {
          for (const line of lines.push(frame.stream, frame.payload)) {
            if (signal?.aborted) return; // nothing after an abort, even from a chunk already read
            if (!keep(line)) continue;
            if (ring) ring.push(line);
            else yield line;
          }
        }
      }
    } catch (e) {
      if (signal?.aborted) return; // quietly, as the contract says
      throw e;
    }
    if (signal?.aborted) return;
    for (const line of lines.end()) {
      if (!keep(line)) continue;
      if (ring) ring.push(line);
      else yield line;
    }
    if (ring) yield* ring.drain();
  } finally {
    signal?.removeEventListener('abort', onAbort);
    response?.destroy(); // a consumer that stopped early closes the engine's stream
  }
}

interface OpenLine {
  readonly time: string;
  readonly parts: Buffer[];
  bytes: number;
}

/**
 * Turns frame payloads of the engine's log stream into lines, per stream. Each payload is one or more
 * "<RFC3339Nano> <text>" records, each ending in a newline except a 16 KiB piece of a longer line (or
 * the last bytes of a stream that ended without one); a record's text may also continue in the next
 * frame without a time of its own (an engine that cuts frames elsewhere): both are joined.
 */
export class LogLineAssembler {
  private readonly open = new Map<'stdout' | 'stderr', OpenLine>();
  /** The last time seen per stream: the time of a line whose record has none (never with Docker). */
  private readonly lastTime = new Map<'stdout' | 'stderr', string>();

  push(stream: 'stdout' | 'stderr', payload: Buffer): ContainerLogLine[] {
    const out: ContainerLogLine[] = [];
    let pos = 0;
    let atRecordStart = true; // a frame starts a record; so does every byte after a newline
    while (pos < payload.length) {
      let time: string | undefined;
      if (atRecordStart) {
        const space = payload.indexOf(SPACE, pos);
        const stamp = space > pos && space - pos <= 40 ? normalizeRfc3339(payload.toString('latin1', pos, space)) : undefined;
        if (stamp !== undefined) {
          time = stamp;
          pos = space + 1;
          this.lastTime.set(stream, stamp);
        }
      }
      let line = this.open.get(stream);
      if (!line) {
        line = { time: time ?? this.lastTime.get(stream) ?? new Date().toISOString().replace(/Z$/, '000000Z'), parts: [], bytes: 0 };
        this.open.set(stream, line);
      }
      const newline = payload.indexOf(NEWLINE, pos);
      const end = newline < 0 ? payload.length : newline;
      this.append(stream, line, payload.subarray(pos, end), out);
      if (newline < 0) break;
      out.push(this.close(stream));
      pos = newline + 1;
      atRecordStart = true;
    }
    return out;
  }

  /** The lines still open at the end of the stream (written without a final newline), oldest first. */
  end(): ContainerLogLine[] {
    const out = [...this.open.keys()].map((s) => this.close(s));
    return out.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  }

  private append(stream: 'stdout' | 'stderr', line: OpenLine, bytes: Buffer, out: ContainerLogLine[]): void {
    let rest = bytes;
    while (line.bytes + rest.length > MAX_JOINED_LINE_BYTES) {
      const room = MAX_JOINED_LINE_BYTES - line.bytes;
      line.parts.push(rest.subarray(0, room));
      line.bytes += room;
      rest = rest.subarray(room);
      out.push(this.close(stream));
      line = { time: line.time, parts: [], bytes: 0 };
      this.open.set(stream, line);
    }
    if (rest.length > 0) {
      line.parts.push(rest);
      line.bytes += rest.length;
    }
  }

  private close(stream: 'stdout' | 'stderr'): ContainerLogLine {
    const line = this.open.get(stream);
    this.open.delete(stream);
    return { time: line?.time ?? '', stream, text: line ? Buffer.concat(line.parts).toString('utf8') : '' };
  }
}

/** The last `size` items pushed. */
class Ring<T> {
  private readonly items: T[] = [];
  private next = 0;

  constructor(private readonly size: number) {}

  push(item: T): void {
    if (this.size === 0) return;
    if (this.items.length < this.size) this.items.push(item);
    else this.items[this.next] = item;
    this.next = (this.next + 1) % this.size;
  }

  *drain(): Generator<T> {
    if (this.items.length < this.size) {
      yield* this.items;
      return;
    }
    for (let i = 0; i < this.size; i++) yield this.items[(this.next + i) % this.size] as T;
  }
}
