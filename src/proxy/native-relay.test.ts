/*
 * berth-relay (native/relay/) through ServiceProxy: what the shared engine suite
 * (service-proxy.test.ts) cannot see — threads, counts reported from another process, bulk transfers
 * with backpressure, a relay that dies, a parent that dies, a missing binary.
 * Loopback addresses private to this file: VIPs in 127.96.203.0/24, backends in 127.21.203.0/24.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { ServiceProxy } from './service-proxy.js';
import type { ProxyError } from './service-proxy.js';
import { endpoint, endpointsOf, exchange, replyServers, snapshotOf, until } from './proxy-fixtures.js';

const VIP = '127.96.203.1';
const BACKENDS = ['127.21.203.1', '127.21.203.2', '127.21.203.3'];
let ports: number[] = [];
let closeBackends = (): void => {};

before(async () => {
  ({ ports, close: closeBackends } = await replyServers(BACKENDS));
});
after(() => closeBackends());

const backendsAt = (...k: number[]) => k.map((i) => endpoint(BACKENDS[i] as string, ports[i] as number));
const vipService = (port: number, endpoints: ReturnType<typeof endpoint>[]) =>
  snapshotOf([endpointsOf({ clusterIP: VIP, ports: [{ name: '', protocol: 'TCP', port }], endpoints })]);

async function withProxy(fn: (proxy: ServiceProxy, errors: ProxyError[]) => Promise<void>, options: { relayBinary?: string } = {}): Promise<void> {
  const errors: ProxyError[] = [];
  const proxy = new ServiceProxy({ threads: 2, onError: (e) => errors.push(e), ...options });
  await proxy.start();
  try {
    await fn(proxy, errors);
  } finally {
    await proxy.stop();
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** An echo server that holds each connection until the client half-closes. */
async function echoServer(host: string): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
  server.listen({ host, port: 0 });
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

test('runs as one relay process with the requested threads, and sync resolves with the new backends in use by every thread', async () => {
  await withProxy(async (proxy) => {
    const relay = proxy.relayStatus();
    assert.equal(proxy.tcpEngine(), 'native');
    assert.ok(relay !== undefined && alive(relay.pid));
    assert.equal(relay.threads, 2);
    await proxy.sync(vipService(18201, backendsAt(0)));
    assert.deepEqual(new Set(await Promise.all(Array.from({ length: 20 }, () => exchange(VIP, 18201)))), new Set(['backend-0']));
    await proxy.sync(vipService(18201, backendsAt(1, 2)));
    // No connection after the resolve may still reach backend-0, whichever thread accepts it.
    const replies = await Promise.all(Array.from({ length: 40 }, () => exchange(VIP, 18201)));
    assert.deepEqual(new Set(replies), new Set(['backend-1', 'backend-2']));
  });
});

test('counts connections held across threads: activeConnections sums them and whenDrained waits for the last', async () => {
  const echo = await echoServer('127.21.203.10');
  try {
    await withProxy(async (proxy) => {
      await proxy.sync(vipService(18202, [endpoint('127.21.203.10', echo.port)]));
      const clients = await Promise.all(
        Array.from({ length: 12 }, async (_, n) => {
          const socket = net.connect({ host: VIP, port: 18202, allowHalfOpen: true });
          socket.write(`hello-${n}`);
          await once(socket, 'data');
          return socket;
        }),
      );
      await until('12 held connections to be reported', () => proxy.activeConnections('127.21.203.10', echo.port) === 12);
      let drained = false;
      const draining = proxy.whenDrained('127.21.203.10', echo.port).then(() => (drained = true));
      for (const socket of clients.slice(0, 11)) socket.end();
      await until('11 to be released', () => proxy.activeConnections('127.21.203.10', echo.port) === 1);
      assert.equal(drained, false, 'one connection is still held');
      (clients[11] as net.Socket).end();
      await draining;
      assert.equal(proxy.activeConnections('127.21.203.10', echo.port), 0);
    });
  } finally {
    echo.server.close();
  }
});

test('spreads a burst of 40 keep-alive connections over both threads, within a few of each other', async () => {
  const echo = await echoServer('127.21.203.12');
  try {
    await withProxy(async (proxy) => {
      await proxy.sync(vipService(18207, [endpoint('127.21.203.12', echo.port)]));
      const clients = await Promise.all(
        Array.from({ length: 40 }, async () => {
          const socket = net.connect({ host: VIP, port: 18207, allowHalfOpen: true });
          socket.write('x');
          await once(socket, 'data');
          return socket;
        }),
      );
      const loads = await proxy.relayThreadLoads();
      assert.equal(loads.length, 2);
      assert.equal(loads[0]! + loads[1]!, 40, `thread loads ${loads.join('/')}`);
      assert.ok(Math.abs(loads[0]! - loads[1]!) <= 5, `thread loads ${loads.join('/')}`);
      for (const socket of clients) socket.destroy();
    });
  } finally {
    echo.server.close();
  }
});

test('relays 4 MiB each way on 6 connections at once, byte for byte (partial writes and backpressure)', async () => {
  const echo = await echoServer('127.21.203.11');
  try {
    await withProxy(async (proxy) => {
      await proxy.sync(vipService(18203, [endpoint('127.21.203.11', echo.port)]));
      await Promise.all(
        Array.from({ length: 6 }, async () => {
          const payload = randomBytes(4 * 1024 * 1024);
          const socket = net.connect({ host: VIP, port: 18203, allowHalfOpen: true });
          const hash = createHash('sha256');
          let bytes = 0;
          socket.on('data', (c: Buffer) => {
            hash.update(c);
            bytes += c.length;
          });
          socket.end(payload);
          await once(socket, 'end');
          socket.end();
          assert.equal(bytes, payload.length);
          assert.equal(hash.digest('hex'), createHash('sha256').update(payload).digest('hex'));
        }),
      );
    });
  } finally {
    echo.server.close();
  }
});

test('a listener removed by a sync has its socket closed when the sync resolves (the address can be bound again)', async () => {
  await withProxy(async (proxy) => {
    await proxy.sync(vipService(18204, backendsAt(0)));
    assert.equal(await exchange(VIP, 18204), 'backend-0');
    await proxy.sync(snapshotOf([]));
    const squatter = net.createServer();
    squatter.listen({ host: VIP, port: 18204, exclusive: true });
    await once(squatter, 'listening');
    squatter.close();
  });
});

test('reports a relay that dies, starts another, and serves the same listeners again', async () => {
  await withProxy(async (proxy, errors) => {
    await proxy.sync(vipService(18205, backendsAt(2)));
    const first = proxy.relayStatus()?.pid as number;
    process.kill(first, 'SIGKILL');
    await until('a new relay serving the listener', () => {
      const relay = proxy.relayStatus();
      return relay !== undefined && relay.pid !== first && proxy.status()[0]?.state === 'listening';
    });
    assert.deepEqual(errors.map((e) => [e.listener, e.code]), [[`relay ${first}`, 'RELAY_EXIT']]);
    assert.equal(proxy.relayStatus()?.restarts, 1);
    // The restart re-applies the newest table: connections queued meanwhile are served with it.
    assert.deepEqual(await Promise.all(Array.from({ length: 5 }, () => exchange(VIP, 18205))), Array(5).fill('backend-2'));
  });
});

test('the relay exits when the process that runs the proxy is killed with SIGKILL', async () => {
  const program = fileURLToPath(new URL('../../test/programs/proxy-parent.ts', import.meta.url));
  const parent = spawn(process.execPath, ['--import', 'tsx', program, '127.96.202.50:18150'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let relay = 0;
  try {
    let out = '';
    parent.stdout.on('data', (c: Buffer) => (out += c.toString()));
    await until('the parent to report its relay', () => out.includes('\n'), 15_000);
    relay = (JSON.parse(out) as { parent: number; relay: number }).relay;
    assert.ok(alive(relay));
    assert.equal(await exchange('127.96.202.50', 18150), 'parent-backend');
    parent.kill('SIGKILL');
    await until('the relay to exit', () => !alive(relay), 5000);
    const refused = net.connect({ host: '127.96.202.50', port: 18150 });
    const [error] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
    assert.equal(error.code, 'ECONNREFUSED', 'nothing of the killed proxy still holds the listening socket');
  } finally {
    if (parent.exitCode === null && parent.signalCode === null) parent.kill('SIGKILL');
    if (relay > 0 && alive(relay)) process.kill(relay, 'SIGKILL');
  }
});

test('without the relay binary the proxy relays TCP in-process (engine node) and says so', async () => {
  await withProxy(
    async (proxy) => {
      assert.equal(proxy.tcpEngine(), 'node');
      assert.equal(proxy.relayStatus(), undefined);
      await proxy.sync(vipService(18206, backendsAt(1)));
      assert.equal(await exchange(VIP, 18206), 'backend-1');
    },
    { relayBinary: '/nonexistent/berth-relay' },
  );
});
