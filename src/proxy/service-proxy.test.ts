import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { ServiceProxy } from './service-proxy.js';
import type { ProxyEngine, ProxyError } from './service-proxy.js';
import { endpoint, endpointsOf, exchange, refusedPort, replyServers, snapshotOf, stalledListener, until } from './proxy-fixtures.js';

// Loopback addresses private to this file: VIPs in 127.96.201.0/24, backends in 127.21.201.0/24.
const VIP = '127.96.201.1';
const BACKENDS = ['127.21.201.1', '127.21.201.2', '127.21.201.3'];
let ports: number[] = [];
let closeBackends = (): void => {};

before(async () => {
  ({ ports, close: closeBackends } = await replyServers(BACKENDS));
});
after(() => closeBackends());

const threeBackends = () => BACKENDS.map((ip, i) => endpoint(ip, ports[i] as number));

// Every test runs against both TCP engines: berth-relay (native, 2 threads) and the in-process one.
for (const engine of ['native', 'node'] as const satisfies readonly ProxyEngine[]) {
  describe(`${engine} engine`, () => {
    async function withProxy(fn: (proxy: ServiceProxy, errors: ProxyError[]) => Promise<void>, nodeAddresses?: string[], connectTimeoutMs?: number): Promise<void> {
      const errors: ProxyError[] = [];
      const proxy = new ServiceProxy({ engine, threads: 2, onError: (e) => errors.push(e), nodeAddresses, udpIdleTimeoutMs: 200, ...(connectTimeoutMs !== undefined ? { connectTimeoutMs } : {}) });
      await proxy.start();
      assert.equal(proxy.tcpEngine(), engine);
      try {
        await fn(proxy, errors);
      } finally {
        await proxy.stop();
      }
    }

    test('spreads 300 connections to a VIP over 3 backends, none above 40 %', async () => {
      await withProxy(async (proxy) => {
        await proxy.sync(snapshotOf([endpointsOf({ clusterIP: VIP, ports: [{ name: '', protocol: 'TCP', port: 18001 }], endpoints: threeBackends() })]));
        const counts = new Map<string, number>();
        for (let i = 0; i < 300; i += 30) {
          const replies = await Promise.all(Array.from({ length: 30 }, () => exchange(VIP, 18001)));
          for (const r of replies) counts.set(r, (counts.get(r) ?? 0) + 1);
        }
        assert.deepEqual([...counts.keys()].sort(), ['backend-0', 'backend-1', 'backend-2']);
        for (const n of counts.values()) assert.ok(n <= 120, `one backend got ${n} of 300`);
      });
    });

    test('keeps each client address on one backend with ClientIP affinity', async () => {
      await withProxy(async (proxy) => {
        await proxy.sync(
          snapshotOf([
            endpointsOf({ clusterIP: VIP, ports: [{ name: '', protocol: 'TCP', port: 18002 }], endpoints: threeBackends(), sessionAffinity: { type: 'ClientIP', timeoutSeconds: 10800 } }),
          ]),
        );
        const seen = new Set<string>();
        for (const client of ['127.77.201.1', '127.77.201.2', '127.77.201.3']) {
          const replies = new Set<string>();
          for (let i = 0; i < 10; i++) replies.add(await exchange(VIP, 18002, { localAddress: client }));
          assert.equal(replies.size, 1, `${client} reached ${[...replies].join(', ')}`);
          seen.add([...replies][0] as string);
        }
        assert.equal(seen.size, 3, 'three new clients are spread round robin');
      });
    });

    test('retries a refused connect on the next backend with no client errors', async () => {
      const dead = await refusedPort('127.21.201.9');
      await withProxy(async (proxy) => {
        const endpoints = [endpoint('127.21.201.9', dead), ...threeBackends().slice(0, 1)];
        await proxy.sync(snapshotOf([endpointsOf({ clusterIP: VIP, ports: [{ name: '', protocol: 'TCP', port: 18003 }], endpoints })]));
        const replies = await Promise.all(Array.from({ length: 40 }, () => exchange(VIP, 18003)));
        assert.deepEqual(new Set(replies), new Set(['backend-0']));
      });
    });

    test('retries a refused connect on a backend of the newest table while the tables keep changing', async () => {
      // Tables alternate between [dead, backend-0, backend-1] and [backend-0]: a connect to the dead
      // address that fails after the switch to the narrow table must still be retried (on backend-0).
      const dead = await refusedPort('127.21.201.9');
      await withProxy(async (proxy) => {
        const svc = (endpoints: ReturnType<typeof endpoint>[]) => snapshotOf([endpointsOf({ clusterIP: VIP, ports: [{ name: '', protocol: 'TCP', port: 18012 }], endpoints })]);
        const wide = svc([endpoint('127.21.201.9', dead), ...threeBackends().slice(0, 2)]);
        const narrow = svc(threeBackends().slice(0, 1));
        await proxy.sync(wide);
        let stop = false;
        let syncs = 0;
        const churn = (async () => {
          while (!stop) {
            await proxy.sync(++syncs % 2 === 0 ? wide : narrow);
            await new Promise((resolve) => setImmediate(resolve)); // the node engine's sync settles in microtasks
          }
        })();
        const replies: string[] = [];
        try {
          for (let batch = 0; batch < 60; batch++) replies.push(...(await Promise.all(Array.from({ length: 25 }, () => exchange(VIP, 18012)))));
        } finally {
          stop = true;
          await churn;
        }
        assert.ok(syncs > 20, `only ${syncs} table changes happened`);
        assert.equal(replies.length, 1500);
        assert.ok(replies.every((r) => r === 'backend-0' || r === 'backend-1'));
      });
    });

    test('gives up a connect that does not complete within connectTimeoutMs and uses another backend', async () => {
      const stalled = await stalledListener('127.21.201.30');
      try {
        await withProxy(
          async (proxy) => {
            const svc = snapshotOf([endpointsOf({ clusterIP: VIP, ports: [{ name: '', protocol: 'TCP', port: 18013 }], endpoints: [endpoint('127.21.201.30', stalled.port), ...threeBackends().slice(0, 1)] })]);
            await proxy.sync(svc);
            const started = Date.now();
            const replies = await Promise.all(Array.from({ length: 6 }, () => exchange(VIP, 18013)));
            assert.deepEqual(replies, Array(6).fill('backend-0'));
            // Half of them waited for the timeout on the stalled backend first; none waited for the kernel.
            assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
          },
          undefined,
          300,
        );
      } finally {
        stalled.close();
      }
    });

    test('moves a request to another backend when its backend dies before answering, replaying the bytes', async () => {
      // A backend that reads the request and dies (reset, as a process killed with SIGKILL), or closes
      // without a word; two that answer with what they read.
      const answering = (): net.Server =>
        net.createServer({ allowHalfOpen: true }, (socket) => {
          let got = '';
          socket.on('data', (c: Buffer) => (got += c.toString()));
          socket.on('end', () => socket.end(`got:${got}`));
        });
      const killed = net.createServer((socket) => socket.once('data', () => socket.resetAndDestroy()));
      const silent = net.createServer((socket) => socket.once('data', () => socket.end()));
      const servers = [killed, silent, answering(), answering()];
      for (const server of servers) {
        server.on('error', () => {});
        await new Promise<void>((resolve) => server.listen({ host: '127.21.201.20', port: 0 }, resolve));
      }
      const at = (server: net.Server) => endpoint('127.21.201.20', (server.address() as AddressInfo).port);
      try {
        for (const [k, bad] of [killed, silent].entries()) {
          await withProxy(async (proxy) => {
            const port = 18010 + k;
            await proxy.sync(snapshotOf([endpointsOf({ clusterIP: VIP, ports: [{ name: '', protocol: 'TCP', port }], endpoints: [at(bad), at(servers[2] as net.Server), at(servers[3] as net.Server)] })]));
            const replies = await Promise.all(Array.from({ length: 30 }, (_, n) => exchange(VIP, port, { payload: `request-${n}` })));
            assert.deepEqual(replies, Array.from({ length: 30 }, (_, n) => `got:request-${n}`));
          });
        }
      } finally {
        for (const server of servers) server.close();
      }
    });

    test('resets a client at once when the service has no endpoints', async () => {
      await withProxy(async (proxy) => {
        await proxy.sync(snapshotOf([endpointsOf({ clusterIP: VIP, ports: [{ name: '', protocol: 'TCP', port: 18004 }] })]));
        const socket = net.connect({ host: VIP, port: 18004 });
        const started = Date.now();
        const [error] = (await once(socket, 'error')) as [NodeJS.ErrnoException];
        assert.equal(error.code, 'ECONNRESET');
        assert.ok(Date.now() - started < 1000);
      });
    });

    test('lets a connection to a removed backend finish while new connections go to the others', async () => {
      // An echo backend that holds the connection open until the client half-closes.
      const held = net.createServer({ allowHalfOpen: true }, (s) => {
        s.on('error', () => {});
        s.write('held:');
        s.pipe(s);
      });
      held.listen({ host: '127.21.201.8', port: 0 });
      await once(held, 'listening');
      const heldPort = (held.address() as AddressInfo).port;
      try {
        await withProxy(async (proxy) => {
          const svc = (endpoints: ReturnType<typeof endpoint>[]) => snapshotOf([endpointsOf({ clusterIP: VIP, ports: [{ name: '', protocol: 'TCP', port: 18005 }], endpoints })]);
          await proxy.sync(svc([endpoint('127.21.201.8', heldPort)]));
          const client = net.connect({ host: VIP, port: 18005, allowHalfOpen: true });
          const chunks: Buffer[] = [];
          client.on('data', (c: Buffer) => chunks.push(c));
          await once(client, 'data');
          await until('the held connection to be counted', () => proxy.activeConnections('127.21.201.8', heldPort) === 1);

          await proxy.sync(svc(threeBackends().slice(0, 2)));
          const replies = await Promise.all(Array.from({ length: 4 }, () => exchange(VIP, 18005)));
          assert.ok(replies.every((r) => r === 'backend-0' || r === 'backend-1'));

          const drained = proxy.whenDrained('127.21.201.8', heldPort);
          client.end('bye');
          await once(client, 'end');
          client.end();
          await drained;
          assert.equal(Buffer.concat(chunks).toString(), 'held:bye');
          assert.equal(proxy.activeConnections('127.21.201.8', heldPort), 0);
        });
      } finally {
        held.close();
      }
    });

    test('opens and closes listeners as snapshots add and remove them, keeping unchanged ones', async () => {
      await withProxy(async (proxy) => {
        const a = endpointsOf({ service: 'a', clusterIP: '127.96.201.2', ports: [{ name: '', protocol: 'TCP', port: 18006 }], endpoints: threeBackends() });
        const b = endpointsOf({ service: 'b', clusterIP: '127.96.201.3', ports: [{ name: '', protocol: 'TCP', port: 18006 }], endpoints: threeBackends() });
        await proxy.sync(snapshotOf([a]));
        assert.deepEqual(proxy.status().map((s) => [s.key, s.state]), [['TCP 127.96.201.2:18006', 'listening']]);
        await proxy.sync(snapshotOf([a, b]));
        assert.match(await exchange('127.96.201.3', 18006), /^backend-/);
        await proxy.sync(snapshotOf([b]));
        assert.deepEqual(proxy.status().map((s) => s.key), ['TCP 127.96.201.3:18006']);
        await assert.rejects(exchange('127.96.201.2', 18006), { code: 'ECONNREFUSED' });
        assert.match(await exchange('127.96.201.3', 18006), /^backend-/);
      });
    });

    test('serves a node port on the node addresses', async () => {
      await withProxy(
        async (proxy) => {
          await proxy.sync(
            snapshotOf([endpointsOf({ type: 'NodePort', clusterIP: VIP, ports: [{ name: '', protocol: 'TCP', port: 18007, nodePort: 30000 }], endpoints: threeBackends() })]),
          );
          assert.match(await exchange('127.88.201.1', 30000), /^backend-/);
        },
        ['127.88.201.1'],
      );
    });

    test('reports a listen error through onError and keeps serving the other listeners', async () => {
      const squatter = net.createServer().listen({ host: '127.96.201.4', port: 18008 });
      await once(squatter, 'listening');
      try {
        await withProxy(async (proxy, errors) => {
          await proxy.sync(
            snapshotOf([
              endpointsOf({ service: 'taken', clusterIP: '127.96.201.4', ports: [{ name: '', protocol: 'TCP', port: 18008 }], endpoints: threeBackends() }),
              endpointsOf({ service: 'free', clusterIP: '127.96.201.5', ports: [{ name: '', protocol: 'TCP', port: 18008 }], endpoints: threeBackends() }),
            ]),
          );
          assert.deepEqual(errors.map((e) => [e.listener, e.code]), [['TCP 127.96.201.4:18008', 'EADDRINUSE']]);
          assert.match(await exchange('127.96.201.5', 18008), /^backend-/);
        });
      } finally {
        squatter.close();
      }
    });

    test('shows a listener another program holds as failed with its errno and words, and opens it on a later sync once free', async () => {
      const squatter = net.createServer().listen({ host: '127.96.201.6', port: 18010 });
      await once(squatter, 'listening');
      let closed = false;
      try {
        await withProxy(async (proxy) => {
          const snapshot = snapshotOf([endpointsOf({ service: 'held', clusterIP: '127.96.201.6', ports: [{ name: '', protocol: 'TCP', port: 18010 }], endpoints: threeBackends() })]);
          await proxy.sync(snapshot);
          const failed = proxy.status().find((l) => l.key === 'TCP 127.96.201.6:18010');
          assert.equal(failed?.state, 'failed');
          assert.equal(failed?.error, 'EADDRINUSE');
          assert.match(failed?.message ?? '', /EADDRINUSE: address already in use 127\.96\.201\.6:18010/);
          await new Promise<void>((resolve) => squatter.close(() => resolve()));
          closed = true;
          await proxy.sync(snapshot); // the same snapshot again: what the publisher's retry does
          assert.equal(proxy.status().find((l) => l.key === 'TCP 127.96.201.6:18010')?.state, 'listening');
          assert.match(await exchange('127.96.201.6', 18010), /^backend-/);
        });
      } finally {
        if (!closed) squatter.close();
      }
    });

    test('lists the second claimant of an address in conflicts()', async () => {
      await withProxy(async (proxy) => {
        await proxy.sync(
          snapshotOf([
            endpointsOf({ service: 'a', clusterIP: '127.96.201.7', externalIPs: ['127.96.201.9'], ports: [{ name: '', protocol: 'TCP', port: 18011 }], endpoints: threeBackends() }),
            endpointsOf({ service: 'b', clusterIP: '127.96.201.8', externalIPs: ['127.96.201.9'], ports: [{ name: '', protocol: 'TCP', port: 18011 }], endpoints: threeBackends() }),
          ]),
        );
        assert.deepEqual(proxy.conflicts(), [{ key: 'TCP 127.96.201.9:18011', serviceKey: 'default/b:18011/TCP', heldBy: 'default/a:18011/TCP' }]);
      });
    });

    test('relays UDP datagrams to a backend and the replies back from the service address', async () => {
      const backend = dgram.createSocket('udp4');
      backend.on('message', (msg, rinfo) => backend.send(Buffer.concat([Buffer.from('echo:'), msg]), rinfo.port, rinfo.address));
      backend.bind({ address: '127.21.201.7', port: 0 });
      await once(backend, 'listening');
      const client = dgram.createSocket('udp4');
      try {
        await withProxy(async (proxy) => {
          await proxy.sync(
            snapshotOf([endpointsOf({ clusterIP: VIP, ports: [{ name: '', protocol: 'UDP', port: 18009 }], endpoints: [endpoint('127.21.201.7', backend.address().port)] })]),
          );
          for (const text of ['one', 'two']) {
            client.send(text, 18009, VIP);
            const [msg, rinfo] = (await once(client, 'message')) as [Buffer, dgram.RemoteInfo];
            assert.equal(msg.toString(), `echo:${text}`);
            assert.deepEqual([rinfo.address, rinfo.port], [VIP, 18009]);
          }
        });
      } finally {
        client.close();
        backend.close();
      }
    });
  });
}
