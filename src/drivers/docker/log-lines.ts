import type { ContainerLogLine } from '../driver.js';

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

  /** The time of the oldest line still open (a piece of it read, not its end), if any. */
  openSince(): string | undefined {
    let oldest: string | undefined;
    for (const line of this.open.values()) if (oldest === undefined || line.time < oldest) oldest = line.time;
    return oldest;
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
export class Ring<T> {
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

/**
 * Puts lines back in time order within a window of `window` lines. The engine returns a container's
 * log in the order its json-file got the lines, which its two copiers (stdout, stderr) write each with
 * the time it read the line: a line of one stream can come after a later line of the other (measured:
 * `echo two; echo oops >&2` gave oops 23 µs before two, after three). A line is released once `window`
 * newer ones are held, or at `drain()`; lines of equal time keep their order.
 */
export class TimeOrder<T extends { readonly time: string }> {
  private readonly held: T[] = [];

  constructor(private readonly window = 1024) {}

  /** Holds `line`; returns the line released to make room, if any. */
  push(line: T): T | undefined {
    // After every held line of the same or an earlier time (stable), found by binary search.
    let lo = 0;
    let hi = this.held.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.held[mid] as T).time <= line.time) lo = mid + 1;
      else hi = mid;
    }
    this.held.splice(lo, 0, line);
    return this.held.length > this.window ? this.held.shift() : undefined;
  }

  /** Every line still held, in time order. */
  drain(): T[] {
    return this.held.splice(0);
  }
}

/**
 * The identities of the last `size` lines yielded (time, stream, length and head of the text), so that
 * a read that starts again from an earlier time yields each line once.
 */
export class RecentLines {
  private readonly keys = new Set<string>();
  private readonly order: string[] = [];
  private next = 0;

  constructor(private readonly size = 10_000) {}

  private static key(line: ContainerLogLine): string {
    return `${line.time} ${line.stream} ${line.text.length} ${line.text.slice(0, 32)}`;
  }

  has(line: ContainerLogLine): boolean {
    return this.keys.has(RecentLines.key(line));
  }

  add(line: ContainerLogLine): void {
    const key = RecentLines.key(line);
    if (this.keys.has(key)) return;
    this.keys.add(key);
    if (this.order.length < this.size) this.order.push(key);
    else {
      this.keys.delete(this.order[this.next] as string);
      this.order[this.next] = key;
    }
    this.next = (this.next + 1) % this.size;
  }
}
