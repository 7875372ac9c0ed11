import type { ContainerLogLine } from '../driver.js';

/*
 * The CRI container log format (as kubelet, containerd and CRI-O write it), one record per line:
 *   <RFC3339Nano UTC time> <stdout|stderr> <F|P> <text>
 * F ends a line; P is a 16 KiB piece of a longer line, continued by the next records of the same stream.
 * berth-shim writes it; this module reads it back.
 */

export interface CriRecord {
  readonly time: string;
  readonly stream: 'stdout' | 'stderr';
  /** True for a P record: the line continues in the next record of this stream. */
  readonly partial: boolean;
  /** Raw bytes (a P boundary may split a UTF-8 character, so decoding waits for the whole line). */
  readonly text: Buffer;
}

const SPACE = 0x20;

/** Parses one record without its newline; undefined when it is not a CRI record. */
export function parseCriRecord(record: Buffer): CriRecord | undefined {
  const s1 = record.indexOf(SPACE);
  if (s1 <= 0) return undefined;
  const s2 = record.indexOf(SPACE, s1 + 1);
  if (s2 < 0) return undefined;
  const stream = record.toString('latin1', s1 + 1, s2);
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  const tag = record[s2 + 1];
  if (tag !== 0x46 /* F */ && tag !== 0x50 /* P */) return undefined;
  if (record.length > s2 + 2 && record[s2 + 2] !== SPACE) return undefined;
  return {
    time: record.toString('latin1', 0, s1),
    stream,
    partial: tag === 0x50,
    text: record.subarray(Math.min(s2 + 3, record.length)),
  };
}

/**
 * Joins P pieces into whole lines, per stream (the streams' records may interleave). A joined line
 * carries the time of its first piece.
 */
export class LineJoiner {
  private readonly pending = new Map<'stdout' | 'stderr', { time: string; parts: Buffer[] }>();

  push(record: CriRecord): ContainerLogLine | undefined {
    const open = this.pending.get(record.stream);
    if (record.partial) {
      // Copy: the record is a view into a read buffer that is about to be reused.
      if (open) open.parts.push(Buffer.from(record.text));
      else this.pending.set(record.stream, { time: record.time, parts: [Buffer.from(record.text)] });
      return undefined;
    }
    if (!open) return { time: record.time, stream: record.stream, text: record.text.toString('utf8') };
    this.pending.delete(record.stream);
    open.parts.push(record.text);
    return { time: open.time, stream: record.stream, text: Buffer.concat(open.parts).toString('utf8') };
  }
}

/** Formats a record as the shim does (tests and fixtures). */
export function formatCriRecord(time: string, stream: 'stdout' | 'stderr', partial: boolean, text: string): string {
  return `${time} ${stream} ${partial ? 'P' : 'F'} ${text}\n`;
}
