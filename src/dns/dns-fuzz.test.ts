import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import { DnsServer } from './dns-server.js';
import { fixtures as f, queryMessage, summarize, tcpExchange, udpExchange } from './testing/dns-fixtures.js';
import type { FakeUpstream } from './testing/fake-upstream.js';
import { startFakeUpstream } from './testing/fake-upstream.js';

/** mulberry32: a seeded PRNG so a failing run can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEED = 20_260_101;
const valid = [queryMessage('web.default.berth.local', 'A'), queryMessage('_http._tcp.web.default.berth.local', 'SRV'), queryMessage('example.org', 'AAAA')];

/** Random bytes, truncated valid queries, and valid queries with a few bytes flipped, in turn. */
function fuzzPacket(random: () => number, i: number): Buffer {
  const base = valid[i % valid.length] as Buffer;
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

describe('DnsServer under malformed input', { timeout: 30_000 }, () => {
  let upstream: FakeUpstream;
  let server: DnsServer;
  let port: number;

  before(async () => {
    upstream = await startFakeUpstream(() => ({ type: 'response', flags: 0x8180 }));
    server = new DnsServer({ host: '127.0.0.1', port: 0, upstreams: [`127.0.0.1:${upstream.port}`], forwardTimeoutMs: 200, tcpIdleTimeoutMs: 300 });
    server.update(f.snapshot([f.service()]));
    await server.start();
    port = server.address().port;
  });

  after(async () => {
    await server.stop();
    await upstream.close();
  });

  it('still answers correctly after 10,000 random and truncated UDP packets', async () => {
    const random = prng(SEED);
    const client = dgram.createSocket('udp4');
    let replies = 0;
    client.on('message', () => replies++);
    await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
    for (let i = 0; i < 10_000; i++) {
      await new Promise<void>((resolve) => client.send(fuzzPacket(random, i), port, '127.0.0.1', () => resolve()));
      if (i % 200 === 199) await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => setTimeout(r, 100));
    client.close();
    assert.ok(replies > 0, 'the server answered some of them (FORMERR or records)');
    const s = summarize((await udpExchange(port, queryMessage('web.default.berth.local', 'A'), 2000)) as Buffer);
    assert.deepEqual(s.answers, ['A 127.96.0.10']);
  });

  it('survives garbage, short frames and huge length prefixes over TCP and frees the connections', async () => {
    const random = prng(SEED + 1);
    const garbage = async (bytes: Buffer) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.on('error', () => {});
      socket.resume(); // read and discard replies, or the end never arrives
      await once(socket, 'connect');
      socket.write(bytes);
      socket.end();
      await once(socket, 'close');
    };
    const frames: Buffer[] = [
      Buffer.from([0xff, 0xff, 1, 2, 3]), // promises 65535 bytes, sends 3, then leaves
      Buffer.from([0x00, 0x00]), // an empty message
      Buffer.from([0x00, 0x05, 1, 2, 3, 4, 5]), // shorter than a header
      Buffer.from([0x00]), // half a length prefix
    ];
    for (let i = 0; i < 30; i++) {
      const p = fuzzPacket(random, i);
      const frame = Buffer.alloc(2 + p.length);
      frame.writeUInt16BE(p.length, 0);
      p.copy(frame, 2);
      frames.push(frame, Buffer.from(Array.from({ length: 1 + Math.floor(random() * 300) }, () => Math.floor(random() * 256))));
    }
    for (const frame of frames) await garbage(frame);

    // A client that promises a huge frame and then goes quiet is closed by the idle timeout.
    const quiet = net.connect({ host: '127.0.0.1', port });
    await once(quiet, 'connect');
    quiet.write(Buffer.from([0xff, 0xff, 0, 0]));
    await once(quiet, 'close');

    const [reply] = await tcpExchange(port, [queryMessage('web.default.berth.local', 'A')]);
    assert.deepEqual(summarize(reply as Buffer).answers, ['A 127.96.0.10']);
    for (let i = 0; i < 50 && server.stats().tcpConnections > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(server.stats().tcpConnections, 0);
  });
});
