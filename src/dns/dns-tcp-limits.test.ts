import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { once } from 'node:events';
import { DnsServer, resolveDnsServerOptions } from './dns-server.js';
import { fixtures as f, queryMessage, summarize, tcpExchange, udpExchange } from './testing/dns-fixtures.js';

/*
 * Issue 9 §4: idle TCP connections are closed after a few seconds, and a flood of idle connections
 * cannot lock out new queries (the cap evicts the connection idle the longest). Real DnsServer, real sockets.
 */

const snapshot = f.snapshot([f.service({ endpoints: [f.endpoint({ ip: '127.0.10.1', slot: 1 })] })]);

/** This process's soft limit of open files (the flood opens two per connection: ours and the server's). */
function openFileLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
  const soft = Number(line?.split(/\s+/)[3]);
  return Number.isFinite(soft) ? soft : 1024;
}

function frame(message: Buffer): Buffer {
  const out = Buffer.alloc(2 + message.length);
  out.writeUInt16BE(message.length, 0);
  message.copy(out, 2);
  return out;
}

async function connect(port: number): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => socket.destroy());
  await once(socket, 'connect');
  return socket;
}

/** Resolves with how long the server took to close `socket` (ms), or rejects after `withinMs`. */
async function closedWithin(socket: net.Socket, withinMs: number): Promise<number> {
  const started = Date.now();
  if (socket.destroyed) return 0;
  const timer = setTimeout(() => socket.emit('error', new Error(`still open after ${withinMs} ms`)), withinMs);
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('close', () => resolve());
      socket.once('error', (e: Error) => (e.message.startsWith('still open') ? reject(e) : undefined));
    });
  } finally {
    clearTimeout(timer);
  }
  return Date.now() - started;
}

describe('DnsServer TCP limits', { timeout: 60_000 }, () => {
  it('closes idle TCP connections after 5 s by default (RFC 7766: seconds, not minutes)', () => {
    assert.equal(resolveDnsServerOptions({ host: '127.0.0.1', port: 0 }).tcpIdleTimeoutMs, 5000);
  });

  describe('with a 400 ms idle timeout', () => {
    let server: DnsServer;
    let port: number;
    before(async () => {
      server = new DnsServer({ host: '127.0.0.1', port: 0, upstreams: [], tcpIdleTimeoutMs: 400 });
      server.update(snapshot);
      await server.start();
      port = server.address().port;
    });
    after(() => server.stop());

    it('answers a query, then closes the connection once it has been idle for the timeout', async () => {
      const socket = await connect(port);
      const replied = once(socket, 'data');
      socket.write(frame(queryMessage('web.default.berth.local', 'A')));
      await replied;
      const tookMs = await closedWithin(socket, 3000);
      assert.ok(tookMs >= 300, `closed after ${tookMs} ms, not before the idle timeout`);
    });

    it('closes a connection that trickles bytes of a query it never completes', async () => {
      const socket = await connect(port);
      // A frame announcing 300 bytes, then one byte every 100 ms: never a whole query.
      socket.write(Buffer.from([0x01, 0x2c]));
      const trickle = setInterval(() => {
        if (!socket.destroyed) socket.write(Buffer.from([0]));
      }, 100);
      try {
        const tookMs = await closedWithin(socket, 3000);
        assert.ok(tookMs < 3000);
      } finally {
        clearInterval(trickle);
      }
    });

    it('keeps a connection that sends a query every 200 ms (it is not idle)', async () => {
      const socket = await connect(port);
      let replies = 0;
      socket.on('data', () => replies++);
      for (let k = 0; k < 6; k++) {
        socket.write(frame(queryMessage('web.default.berth.local', 'A', k + 1)));
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(socket.destroyed, false, 'still open after 1.2 s of regular queries');
      assert.ok(replies >= 5);
      socket.destroy();
    });
  });

  it('answers new TCP and UDP queries while 2,000 idle connections flood a server capped at 1,000', async () => {
    // Each connection costs this process two descriptors (the client's and the server's): stay under the limit.
    const budget = Math.floor((openFileLimit() - 200) / 3);
    const cap = Math.min(1000, Math.floor(budget / 2));
    const flood = cap * 2;
    const server = new DnsServer({ host: '127.0.0.1', port: 0, upstreams: [], maxTcpConnections: cap, tcpIdleTimeoutMs: 60_000 });
    server.update(snapshot);
    await server.start();
    const port = server.address().port;
    const sockets: net.Socket[] = [];
    try {
      for (let k = 0; k < flood; k += 100) {
        sockets.push(...(await Promise.all(Array.from({ length: Math.min(100, flood - k) }, () => connect(port)))));
      }
      // The server holds at most its cap, however many connect.
      await new Promise((r) => setTimeout(r, 100));
      assert.ok(server.stats().tcpConnections <= cap, `${server.stats().tcpConnections} connections held, cap ${cap}`);

      const started = Date.now();
      const [reply] = await tcpExchange(port, [queryMessage('web.default.berth.local', 'A')], 2000);
      assert.ok(reply, `a new TCP query is answered during a flood of ${flood} idle connections`);
      assert.deepEqual(summarize(reply).answers, ['A 127.96.0.10']);
      assert.ok(Date.now() - started < 1000, `answered in ${Date.now() - started} ms`);
      const udp = await udpExchange(port, queryMessage('web.default.berth.local', 'A'));
      assert.deepEqual(summarize(udp as Buffer).answers, ['A 127.96.0.10']);

      // A query in flight is never what makes room: ten clients at once all get their answers.
      const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => tcpExchange(port, [queryMessage('web.default.berth.local', 'A', i + 1)], 2000)));
      assert.equal(answers.filter((a) => a.length === 1).length, 10);
    } finally {
      for (const s of sockets) s.destroy();
      await server.stop();
    }
  });
});
