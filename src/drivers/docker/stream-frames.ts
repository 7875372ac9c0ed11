/*
 * Docker's multiplexed stream format (logs and exec of a container without a TTY): frames of an 8-byte
 * header — byte 0 the stream (0 stdin, 1 stdout, 2 stderr), bytes 1-3 zero, bytes 4-7 the payload size,
 * big-endian — followed by the payload. Frames arrive cut anywhere by the transport.
 */

export interface StreamFrame {
  readonly stream: 'stdout' | 'stderr';
  readonly payload: Buffer;
}

const HEADER = 8;

/** Cuts a multiplexed byte stream into whole frames, whatever the chunking of the transport. */
export class FrameDemuxer {
  private buffered: Buffer = Buffer.alloc(0);

  /**
   * The frames completed by `chunk` (each payload a copy, safe to keep). stdin frames (type 0) are
   * returned as stdout, as Docker's own stdcopy does.
   * @throws Error when a header's stream byte is not 0, 1 or 2: the stream is not multiplexed (a TTY).
   */
  push(chunk: Buffer): StreamFrame[] {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const frames: StreamFrame[] = [];
    let pos = 0;
    while (this.buffered.length - pos >= HEADER) {
      const type = this.buffered[pos];
      if (type !== 0 && type !== 1 && type !== 2) {
        throw new Error(`not a multiplexed Docker stream (header byte ${type}): a container with a TTY?`);
      }
      const size = this.buffered.readUInt32BE(pos + 4);
      if (this.buffered.length - pos - HEADER < size) break;
      const start = pos + HEADER;
      frames.push({ stream: type === 2 ? 'stderr' : 'stdout', payload: Buffer.from(this.buffered.subarray(start, start + size)) });
      pos = start + size;
    }
    this.buffered = pos === 0 ? this.buffered : Buffer.from(this.buffered.subarray(pos));
    return frames;
  }

  /** Bytes of an incomplete frame held back (non-zero at the end of a stream: it was cut short). */
  get pendingBytes(): number {
    return this.buffered.length;
  }
}
