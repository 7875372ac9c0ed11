import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import { queryMessage } from './dns-fixtures.js';

/*
 * Malformed DNS traffic for the fuzz tests (the DnsServer's own, and the end-to-end one against the
 * berth binary): seeded, so a failing run can be replayed.
 */

/** mulberry32: a seeded PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VALID = [queryMessage('web.default.berth.local', 'A'), queryMessage('_http._tcp.web.default.berth.local', 'SRV'), queryMessage('example.org', 'AAAA')];

/** Random bytes, truncated valid queries, and valid queries with a few bytes flipped, in turn. */
export function fuzzPacket(random: () => number, i: number): Buffer {
  const base = VALID[i % VALID.length] as Buffer;
  switch (i % 3) {
    case 0:
      return Buffer.from(Array.from({ length: Math.floor(random() * 120) }, () => Math.floor(random() * 256)));
    case 1:
      return Buffer.from(base.subarray(0, Math.floor(random() * base.length)));
    default: {
      const b = Buffer.from(base);
      for (let k = 0; k < 3; k++) b[Math.floor(random() * b.length)] = Math.floor(random() * 256);
      b[2] = (b[2] as number) & 0x7f; // mostly queries, so they reach the handlers
      return b;
    }
  }
}

/**
 * Sends `count` fuzz packets over UDP to host:port, yielding to the event loop now and then.
 * @returns how many replies came back (FORMERR or records) within 100 ms after the last
 */
export async function udpFuzz(port: number, options: { readonly count: number; readonly seed: number; readonly host?: string }): Promise<number> {
  const host = options.host ?? '127.0.0.1';
  const random = prng(options.seed);
  const client = dgram.createSocket('udp4');
  let replies = 0;
  client.on('message', () => replies++);
  await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
  for (let i = 0; i < options.count; i++) {
    await new Promise<void>((resolve) => client.send(fuzzPacket(random, i), port, host, () => resolve()));
    if (i % 200 === 199) await new Promise((r) => setImmediate(r));
  }
  await new Promise((r) => setTimeout(r, 100));
  client.close();
  return replies;
}

/** The smallest DNS message: a frame shorter than this ends the connection (the server's rule). */
const HEADER_BYTES = 12;

/**
 * Sends `count` fuzz packets as length-prefixed TCP frames to host:port. Frames go in batches on one
 * connection each, a batch ending after at most `perConnection` frames or at the first frame shorter
 * than a header (after which the server closes the connection), so every frame reaches the server.
 * Replies are read and counted; each connection is waited for until it is closed.
 * @returns `{ frames, connections, replies }`
 */
export async function tcpFuzz(port: number, options: { readonly count: number; readonly seed: number; readonly host?: string; readonly perConnection?: number }): Promise<{ frames: number; connections: number; replies: number }> {
  const host = options.host ?? '127.0.0.1';
  const perConnection = options.perConnection ?? 50;
  const random = prng(options.seed);
  let frames = 0;
  let connections = 0;
  let replies = 0;
  while (frames < options.count) {
    const batch: Buffer[] = [];
    while (frames < options.count && batch.length < perConnection) {
      const p = fuzzPacket(random, frames++);
      const frame = Buffer.alloc(2 + p.length);
      frame.writeUInt16BE(p.length, 0);
      p.copy(frame, 2);
      batch.push(frame);
      if (p.length < HEADER_BYTES) break;
    }
    const socket = net.connect({ host, port });
    connections++;
    socket.on('error', () => {});
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        replies++;
        buffered = buffered.subarray(2 + buffered.readUInt16BE(0));
      }
    });
    const closed = once(socket, 'close');
    await once(socket, 'connect').catch(() => undefined);
    socket.end(Buffer.concat(batch));
    await closed;
  }
  return { frames, connections, replies };
}
