/*
 * DNS over TCP frames every message with a two-byte length (RFC 1035 §4.2.2). Shared by the server's
 * TCP listener and the forwarder's TCP upstream queries.
 */

/** `message` with its two-byte length prefix. */
export function frameTcp(message: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(2 + message.length);
  frame.writeUInt16BE(message.length, 0);
  message.copy(frame, 2);
  return frame;
}

/** Reassembles length-prefixed messages from a TCP byte stream; keeps at most one partial frame. */
export class TcpFrameReader {
  private buffered: Buffer = Buffer.alloc(0);

  /** The messages completed by `chunk`, in order (each a copy, not pinning the chunk). */
  push(chunk: Buffer): Buffer[] {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const out: Buffer[] = [];
    while (this.buffered.length >= 2) {
      const len = this.buffered.readUInt16BE(0);
      if (this.buffered.length < 2 + len) break;
      out.push(Buffer.from(this.buffered.subarray(2, 2 + len)));
      this.buffered = this.buffered.subarray(2 + len);
    }
    if (this.buffered.length > 0) this.buffered = Buffer.from(this.buffered); // do not pin the whole chunk
    return out;
  }
}
