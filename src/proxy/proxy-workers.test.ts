/*
 * The proxy with worker processes (`workers` ≥ 2): the behaviours of service-proxy.test.ts where a
 * worker accepts, and what the split adds (acknowledged syncs, counts summed over processes, ClientIP
 * listeners kept in the parent, worker faults reported, no worker outliving its parent).
 *
 * To make a worker accept, a test opens its connections and then blocks this process's event loop for
 * a while: the kernel completes the handshakes and only the (idle) worker can accept them.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { ServiceProxy } from './service-proxy.js';
import type { ProxyError, ServiceProxyOptions } from './service-proxy.js';
import { endpoint, endpointsOf, exchange, refusedPort, replyServers, snapshotOf } from './proxy-fixtures.js';
import { workerExecArgv } from './worker-pool.js';

// Loopback addresses private to this file: VIPs in 127.96.202.0/24, backends in 127.21.202.0/24.
const VIP = '127.96.202.1';
const BACKENDS = ['127.21.202.1', '127.21.202.2', '127.21.202.3'];
const WORKER_ACCEPT_MS = 700;
let ports: number[] = [];
let closeBackends = (): void => {};

before(async () => {
  ({ ports, close: closeBackends } = await replyServers(BACKENDS));
});
after(() => closeBackends());

const backendsAt = (...indexes: number[]) => indexes.map((i) => endpoint(BACKENDS[i] as string, ports[i] as number));
const vipService = (port: number, endpoints: ReturnType<typeof endpoint>[], more: Parameters<typeof endpointsOf>[0] = {}) =>
  snapshotOf([endpointsOf({ clusterIP: VIP, ports: [{ name: '', protocol: 'TCP', port }], endpoints, ...more })]);

async function withProxy(fn: (proxy: ServiceProxy, errors: ProxyError[]) => Promise<void>, options: ServiceProxyOptions = {}): Promise<void> {
  const errors: ProxyError[] = [];
  const proxy = new ServiceProxy({ workers: 2, onError: (e) => errors.push(e), ...options });
  await proxy.start();
  const pids = proxy.workers().map((w) => w.pid as number);
  try {
    await fn(proxy, errors);
  } finally {
    await proxy.stop();
  }
  assert.deepEqual(proxy.workers(), []);
  for (const pid of pids) assert.equal(alive(pid), false, `worker ${pid} exited with stop()`);
}

/**
 * Runs `open` (which starts connections) and then blocks this process, so that a worker accepts them:
 * node issues a connect to an IP address on the next tick, so they are all out before the block.
 */
async function viaWorker<T>(open: () => T): Promise<T> {
  const opened = open();
  await new Promise<void>((resolve) => process.nextTick(resolve));
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, WORKER_ACCEPT_MS);
  return opened;
}

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Whether a process still runs (a zombie nobody reaped has exited). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

test('starts workers − 1 worker processes that accept on the listeners; 0 and 1 fork none', async () => {
  for (const workers of [0, 1]) {
    const proxy = new ServiceProxy({ workers });
    await proxy.start();
    assert.deepEqual(proxy.workers(), []);
    await proxy.stop();
  }
  await withProxy(
    async (proxy) => {
      await proxy.sync(vipService(18101, backendsAt(0, 1, 2)));
      assert.deepEqual(proxy.workers().map((w) => [w.state, w.listeners]), [['ready', 1], ['ready', 1]]);
    },
    { workers: 3 },
  );
});

test('spreads 300 connections over 3 backends, none above 40 %, half of the batches accepted by the worker', async () => {
  await withProxy(async (proxy) => {
    await proxy.sync(vipService(18102, backendsAt(0, 1, 2)));
    const counts = new Map<string, number>();
    for (let i = 0; i < 10; i++) {
      const batch = () => Array.from({ length: 30 }, () => exchange(VIP, 18102));
      const replies = await Promise.all(i % 2 === 0 ? batch() : await viaWorker(batch));
      for (const r of replies) counts.set(r, (counts.get(r) ?? 0) + 1);
    }
    assert.deepEqual([...counts.keys()].sort(), ['backend-0', 'backend-1', 'backend-2']);
    for (const n of counts.values()) assert.ok(n <= 120, `one backend got ${n} of 300`);
  });
});

test('sync resolves only after every worker acknowledged the snapshot, and the worker then uses it', async () => {
  await withProxy(async (proxy) => {
    await proxy.sync(vipService(18103, backendsAt(0)));
    assert.deepEqual(await Promise.all(await viaWorker(() => Array.from({ length: 5 }, () => exchange(VIP, 18103)))), Array(5).fill('backend-0'));

    const pid = proxy.workers()[0]?.pid as number;
    process.kill(pid, 'SIGSTOP');
    let resolved = false;
    let syncing: Promise<void>;
    try {
      syncing = proxy.sync(vipService(18103, backendsAt(1))).then(() => void (resolved = true));
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(resolved, false, 'sync resolved while a worker could not have applied the snapshot');
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await syncing;
    assert.equal(proxy.workers()[0]?.pid, pid, 'the same worker acknowledged (it was not replaced)');
    assert.deepEqual(await Promise.all(await viaWorker(() => Array.from({ length: 10 }, () => exchange(VIP, 18103)))), Array(10).fill('backend-1'));
  });
});

test('counts connections held in a worker: activeConnections sums them and whenDrained waits for the last', async () => {
  // An echo backend that holds each connection open until the client half-closes.
  const held = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    s.write('held:');
    s.pipe(s);
  });
  held.listen({ host: '127.21.202.8', port: 0 });
  await once(held, 'listening');
  const heldPort = (held.address() as AddressInfo).port;
  try {
    await withProxy(async (proxy) => {
      await proxy.sync(vipService(18104, [endpoint('127.21.202.8', heldPort)]));
      const clients = await viaWorker(() => Array.from({ length: 5 }, () => net.connect({ host: VIP, port: 18104, allowHalfOpen: true })));
      await Promise.all(clients.map((c) => once(c, 'data')));
      await until('5 connections counted', () => proxy.activeConnections('127.21.202.8', heldPort) === 5);
      assert.equal(proxy.workers()[0]?.activeConnections, 5, 'the worker holds all five');

      // The backend leaves the tables; its connections drain.
      await proxy.sync(vipService(18104, backendsAt(0)));
      let drained = false;
      const draining = proxy.whenDrained('127.21.202.8', heldPort).then(() => void (drained = true));
      for (const c of clients.slice(1)) c.end();
      await until('4 connections closed', () => proxy.activeConnections('127.21.202.8', heldPort) === 1);
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(drained, false, 'drained while a worker still relayed a connection');
      (clients[0] as net.Socket).end();
      await draining;
      assert.equal(proxy.activeConnections('127.21.202.8', heldPort), 0);
      for (const c of clients) c.destroy();
    });
  } finally {
    held.close();
  }
});

test('caps the share of a burst one process keeps: past twice the other\'s + 8 it hands connections over', async () => {
  const held = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    s.write('held:');
    s.pipe(s);
  });
  held.listen({ host: '127.21.202.10', port: 0 });
  await once(held, 'listening');
  const heldPort = (held.address() as AddressInfo).port;
  try {
    await withProxy(async (proxy) => {
      await proxy.sync(vipService(18110, [endpoint('127.21.202.10', heldPort)]));
      // All 40 are accepted by the worker (this process is blocked); it keeps about 2 × 10 + 9 of them.
      const clients = await viaWorker(() => Array.from({ length: 40 }, () => net.connect({ host: VIP, port: 18110, allowHalfOpen: true })));
      await Promise.all(clients.map((c) => once(c, 'data')));
      await until('40 connections counted', () => proxy.activeConnections('127.21.202.10', heldPort) === 40);
      await until('the worker to report its load', () => proxy.workers()[0]?.activeConnections === proxy.workers()[0]?.clients);
      const inWorker = proxy.workers()[0]?.activeConnections ?? 0;
      assert.ok(inWorker >= 20 && inWorker <= 30, `the worker relays ${inWorker} of 40`);
      assert.equal(proxy.workers()[0]?.handOffs, 40 - inWorker, 'the others were handed to the parent');
      for (const c of clients) c.destroy();
      await proxy.whenDrained('127.21.202.10', heldPort);
    });
  } finally {
    held.close();
  }
});

test('forwards the end of a handed-over client that sent nothing but its FIN', { timeout: 20_000 }, async () => {
  // A backend that answers only once the client's end reached it.
  const answering = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => {});
    socket.resume();
    socket.on('end', () => socket.end('answered'));
  });
  await new Promise<void>((resolve) => answering.listen({ host: '127.21.202.11', port: 0 }, resolve));
  try {
    await withProxy(async (proxy) => {
      await proxy.sync(vipService(18111, [endpoint('127.21.202.11', (answering.address() as AddressInfo).port)]));
      const replies = await Promise.all(await viaWorker(() => Array.from({ length: 20 }, () => exchange(VIP, 18111))));
      assert.deepEqual(replies, Array(20).fill('answered'));
      assert.ok((proxy.workers()[0]?.handOffs ?? 0) > 0, 'some were handed to the parent');
    });
  } finally {
    answering.close();
  }
});

test('keeps ClientIP-affinity listeners in the parent, so each client stays on one backend', async () => {
  await withProxy(async (proxy) => {
    const sticky = { sessionAffinity: { type: 'ClientIP', timeoutSeconds: 10800 } } as const;
    await proxy.sync(vipService(18105, backendsAt(0, 1, 2), sticky));
    assert.equal(proxy.workers()[0]?.listeners, 0, 'the worker was handed no ClientIP listener');
    const seen = new Set<string>();
    for (const client of ['127.77.202.1', '127.77.202.2', '127.77.202.3']) {
      const replies = new Set<string>();
      const exchanges = () => Array.from({ length: 5 }, () => exchange(VIP, 18105, { localAddress: client }));
      for (const r of await Promise.all(await viaWorker(exchanges))) replies.add(r);
      for (const r of await Promise.all(exchanges())) replies.add(r);
      assert.equal(replies.size, 1, `${client} reached ${[...replies].join(', ')}`);
      seen.add([...replies][0] as string);
    }
    assert.equal(seen.size, 3, 'three new clients are spread round robin');

    // The same address without affinity is shared with the worker, and taken back when affinity returns.
    await proxy.sync(vipService(18105, backendsAt(0, 1, 2)));
    assert.equal(proxy.workers()[0]?.listeners, 1);
    await proxy.sync(vipService(18105, backendsAt(0, 1, 2), sticky));
    assert.equal(proxy.workers()[0]?.listeners, 0);
  });
});

test('in a worker: retries a refused connect, replays to another backend, resets when there are no endpoints', async () => {
  const dead = await refusedPort('127.21.202.9');
  const killed = net.createServer((socket) => socket.once('data', () => socket.resetAndDestroy()));
  const answering = net.createServer({ allowHalfOpen: true }, (socket) => {
    let got = '';
    socket.on('data', (c: Buffer) => (got += c.toString()));
    socket.on('end', () => socket.end(`got:${got}`));
  });
  for (const server of [killed, answering]) {
    server.on('error', () => {});
    await new Promise<void>((resolve) => server.listen({ host: '127.21.202.20', port: 0 }, resolve));
  }
  const at = (server: net.Server) => endpoint('127.21.202.20', (server.address() as AddressInfo).port);
  try {
    await withProxy(async (proxy) => {
      await proxy.sync(vipService(18106, [endpoint('127.21.202.9', dead), ...backendsAt(0)]));
      assert.deepEqual(new Set(await Promise.all(await viaWorker(() => Array.from({ length: 20 }, () => exchange(VIP, 18106))))), new Set(['backend-0']));

      await proxy.sync(vipService(18106, [at(killed), at(answering)]));
      const replies = await Promise.all(await viaWorker(() => Array.from({ length: 20 }, (_, n) => exchange(VIP, 18106, { payload: `request-${n}` }))));
      assert.deepEqual(replies, Array.from({ length: 20 }, (_, n) => `got:request-${n}`));

      await proxy.sync(vipService(18106, []));
      const socket = await viaWorker(() => net.connect({ host: VIP, port: 18106 }));
      const unblocked = Date.now();
      const [error] = (await once(socket, 'error')) as [NodeJS.ErrnoException];
      assert.equal(error.code, 'ECONNRESET');
      assert.ok(Date.now() - unblocked < 1000);
    });
  } finally {
    killed.close();
    answering.close();
  }
});

test('a listener removed by a sync is closed in every process when the sync resolves', async () => {
  await withProxy(async (proxy) => {
    const a = endpointsOf({ service: 'a', clusterIP: '127.96.202.2', ports: [{ name: '', protocol: 'TCP', port: 18107 }], endpoints: backendsAt(0, 1, 2) });
    const b = endpointsOf({ service: 'b', clusterIP: '127.96.202.3', ports: [{ name: '', protocol: 'TCP', port: 18107 }], endpoints: backendsAt(0, 1, 2) });
    await proxy.sync(snapshotOf([a, b]));
    assert.equal(proxy.workers()[0]?.listeners, 2);
    await proxy.sync(snapshotOf([b]));
    assert.equal(proxy.workers()[0]?.listeners, 1);
    for (let i = 0; i < 5; i++) await assert.rejects(exchange('127.96.202.2', 18107), { code: 'ECONNREFUSED' });
    // …and the address can be served again at once.
    await proxy.sync(snapshotOf([a, b]));
    assert.match((await Promise.all(await viaWorker(() => [exchange('127.96.202.2', 18107)])))[0] as string, /^backend-/);
  });
});

test('reports a listen error in the parent and an accept error in a worker through onError, and keeps serving', async () => {
  const squatter = net.createServer().listen({ host: '127.96.202.4', port: 18108 });
  await once(squatter, 'listening');
  try {
    await withProxy(
      async (proxy, errors) => {
        await proxy.sync(
          snapshotOf([
            endpointsOf({ service: 'taken', clusterIP: '127.96.202.4', ports: [{ name: '', protocol: 'TCP', port: 18108 }], endpoints: backendsAt(0) }),
            endpointsOf({ service: 'free', clusterIP: '127.96.202.5', ports: [{ name: '', protocol: 'TCP', port: 18108 }], endpoints: backendsAt(0) }),
          ]),
        );
        assert.deepEqual(errors.map((e) => [e.listener, e.code]), [['TCP 127.96.202.4:18108', 'EADDRINUSE']]);
        assert.equal(proxy.status().find((s) => s.key === 'TCP 127.96.202.4:18108')?.state, 'failed');
        await until('the worker to report its accept error', () => errors.length === 2);
        assert.deepEqual(errors[1] && [errors[1].listener, errors[1].serviceKey, errors[1].code], ['TCP 127.96.202.5:18108', 'default/free:18108/TCP', 'EMFILE']);
        assert.deepEqual(await Promise.all(await viaWorker(() => [exchange('127.96.202.5', 18108)])), ['backend-0']);
        assert.equal(proxy.workers()[0]?.state, 'ready', 'the worker did not crash');
      },
      { workerEntry: fileURLToPath(new URL('../../test/programs/faulty-proxy-worker.ts', import.meta.url)) },
    );
  } finally {
    squatter.close();
  }
});

test('reports a worker that dies and replaces it; the replacement gets the tables and listeners', async () => {
  await withProxy(async (proxy, errors) => {
    await proxy.sync(vipService(18109, backendsAt(2)));
    const first = proxy.workers()[0]?.pid as number;
    process.kill(first, 'SIGKILL');
    await until('a new worker', () => proxy.workers()[0]?.state === 'ready' && proxy.workers()[0]?.pid !== first && proxy.workers()[0]?.listeners === 1);
    assert.deepEqual(errors.map((e) => [e.listener, e.code]), [[`worker ${first}`, 'WORKER_EXIT']]);
    assert.deepEqual(await Promise.all(await viaWorker(() => Array.from({ length: 5 }, () => exchange(VIP, 18109)))), Array(5).fill('backend-2'));
  });
});

test('worker processes exit when their parent is killed with SIGKILL', async () => {
  const program = fileURLToPath(new URL('../../test/programs/proxy-parent.ts', import.meta.url));
  const parent = spawn(process.execPath, ['--import', 'tsx', program, '127.96.202.50:18150'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let workers: number[] = [];
  try {
    let out = '';
    parent.stdout.on('data', (c: Buffer) => (out += c.toString()));
    await until('the parent to report its workers', () => out.includes('\n'), 15_000);
    workers = (JSON.parse(out) as { parent: number; workers: number[] }).workers;
    assert.equal(workers.length, 2);
    assert.ok(workers.every(alive));
    assert.equal(await exchange('127.96.202.50', 18150), 'parent-backend');
    parent.kill('SIGKILL');
    await until('every worker to exit', () => !workers.some(alive), 5000);
    const refused = net.connect({ host: '127.96.202.50', port: 18150 });
    const [error] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
    assert.equal(error.code, 'ECONNREFUSED', 'no process of the killed proxy still holds the listening socket');
  } finally {
    if (parent.exitCode === null && parent.signalCode === null) parent.kill('SIGKILL');
    // On failure, end the workers this test started (they hold its stdout pipe open).
    for (const pid of workers.filter(alive)) process.kill(pid, 'SIGKILL');
  }
});

test('a worker inherits node flags that load modules, never code to run, the test runner or the inspector', () => {
  assert.deepEqual(workerExecArgv(['--input-type=module', '-e', 'startProxy()']), []);
  assert.deepEqual(workerExecArgv(['-p', '1 + 1']), []);
  assert.deepEqual(workerExecArgv(['--import', 'tsx', '--test-concurrency=2', '--test-reporter', 'spec']), ['--import', 'tsx']);
  assert.deepEqual(
    workerExecArgv(['--enable-source-maps', '-r', '/x/preload.cjs', '--max-old-space-size=200', '--inspect-port', '9339', '--inspect=0.0.0.0:9229', '--watch', '--loader=x.mjs']),
    ['--enable-source-maps', '-r', '/x/preload.cjs', '--max-old-space-size=200', '--loader=x.mjs'],
  );
});

test('a proxy started by `node -e` starts real workers (the script is not what the worker runs)', () => {
  const index = new URL('./index.ts', import.meta.url).href;
  const script = `import { ServiceProxy } from ${JSON.stringify(index)}; const p = new ServiceProxy({ workers: 2 }); await p.start(); console.log(JSON.stringify(p.workers().map((w) => w.state))); await p.stop();`;
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout.trim(), '["ready"]');
});
