import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EndpointsSnapshot, ServiceEndpoints } from '../model/index.js';
import { instance } from '../../test/fixtures.js';
import type { ProxyConnections } from './data-plane-drain.js';
import { dataPlaneDrain } from './data-plane-drain.js';

/** Connection counts per ip:port that the test changes; `whenDrained` resolves when a count reaches 0. */
class CountingProxy implements ProxyConnections {
  readonly open = new Map<string, number>();
  private readonly waiters: { key: string; resolve: () => void }[] = [];
  activeConnections(ip: string, port: number): number {
    return this.open.get(`${ip}:${port}`) ?? 0;
  }
  whenDrained(ip: string, port: number, signal?: AbortSignal): Promise<void> {
    const key = `${ip}:${port}`;
    if (this.activeConnections(ip, port) === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiters.push({ key, resolve });
      signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
  }
  set(key: string, n: number): void {
    this.open.set(key, n);
    if (n > 0) return;
    for (const w of this.waiters.filter((w) => w.key === key)) w.resolve();
  }
}

const endpoints = (ip: string, ports: Record<string, number>): ServiceEndpoints => ({
  grid: 'default', service: 'web', type: 'ClusterIP', clusterIP: '127.96.0.1', headless: false, externalIPs: [], loadBalancerIPs: [],
  ports: Object.keys(ports).map((name, k) => ({ name, protocol: 'TCP', port: 80 + k })),
  endpoints: [{ ip, ports, ready: false }, { ip: '127.10.0.9', ports: { http: 8080 }, ready: true }],
  sessionAffinity: { type: 'None' }, publishNotReadyAddresses: false,
});

void describe('dataPlaneDrain', () => {
  const inst = instance({ slot: 3 }); // 127.10.0.3, container port 8080
  const snapshot: EndpointsSnapshot = { revision: 7, services: [endpoints('127.10.0.3', { http: 8080, admin: 9090 })] };
  const publisher = (applied: number[] = []) => ({
    current: () => snapshot,
    whenApplied: async (revision: number) => void applied.push(revision),
  });

  void it('waits for the snapshot revision of the instance record that asked for the stop', async () => {
    const applied: number[] = [];
    await dataPlaneDrain(publisher(applied), new CountingProxy()).whenRemoved({ ...inst, version: 42 }, new AbortController().signal);
    assert.deepEqual(applied, [42]);
  });

  void it("counts the open connections on the instance's target ports and container ports, and no one else's", () => {
    const proxy = new CountingProxy();
    proxy.set('127.10.0.3:8080', 2);
    proxy.set('127.10.0.3:9090', 1);
    proxy.set('127.10.0.9:8080', 5);
    assert.equal(dataPlaneDrain(publisher(), proxy).connections(inst), 3);
    const gone = { current: () => undefined, whenApplied: async () => undefined };
    assert.equal(dataPlaneDrain(gone, proxy).connections(inst), 2, 'a service no longer in the snapshot: its container ports still count');
  });

  void it('resolves whenDrained only once every port has drained, and rejects when aborted', async () => {
    const proxy = new CountingProxy();
    proxy.set('127.10.0.3:8080', 1);
    proxy.set('127.10.0.3:9090', 1);
    const plane = dataPlaneDrain(publisher(), proxy);
    let done = false;
    const drained = plane.whenDrained(inst, new AbortController().signal).then(() => (done = true));
    proxy.set('127.10.0.3:8080', 0);
    await new Promise((r) => setImmediate(r));
    assert.equal(done, false, 'one port still has a connection');
    proxy.set('127.10.0.3:9090', 0);
    await drained;
    proxy.set('127.10.0.3:8080', 4);
    const abort = new AbortController();
    const waiting = plane.whenDrained(inst, abort.signal);
    abort.abort(new Error('drain timed out'));
    await assert.rejects(waiting, /drain timed out/);
  });
});
