import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Instance, NodeRegistration } from '../model/index.js';
import { parseServiceSpec } from '../model/index.js';
import { buildProxyTable } from '../proxy/index.js';
import { openSqliteStore } from '../store/index.js';
import { HostPortAllocator, portsToPublish } from '../controllers/host-port-allocator.js';
import { newInstance } from '../api/testing/fixtures.js';
import { buildSnapshot } from './endpoints-publisher.js';

const reg = (name: string, address: string, ready = true): NodeRegistration => ({ name, address, drivers: ['process'], ready, heartbeatAt: new Date().toISOString() });

/** A store with service `web` (port 8080) deployed, and one running, ready instance per node given. */
function cluster(placement: Record<string, string>) {
  const store = openSqliteStore(':memory:');
  const spec = parseServiceSpec({ name: 'web', clusterIP: '127.96.0.9', containers: [{ command: ['x'], ports: [{ containerPort: 8080 }] }] });
  store.createService({ grid: 'default', spec, deploy: true });
  const created = Object.entries(placement).map(([slot, node], k) =>
    newInstance({ slot: Number(slot), node, spec: { ...newInstance().spec, containers: spec.containers, address: `127.10.0.${k + 1}`, hostPorts: [{ containerPort: 8080, protocol: 'TCP', hostPort: 20000 + k }] } }),
  );
  store.applyControllerWrites({ createInstances: created });
  const now = new Date().toISOString();
  store.setInstanceStatuses(created.flatMap((c) => [
    { id: c.id, status: { state: 'pending' as const, timestamp: now, message: '' } },
  ]));
  store.setInstanceStatuses(created.map((c) => ({ id: c.id, status: { state: 'running' as const, timestamp: now, message: 'running', startedAt: now } })));
  return { store, created };
}

describe('endpoints across nodes (node-published ports)', () => {
  it('alone, every instance is reached at its own address and nothing is forwarded', () => {
    const { store } = cluster({ 1: 'a', 2: 'a' });
    store.upsertNode(reg('a', '10.0.0.1'));
    const snap = buildSnapshot(store, ['10.0.0.1'], 'a');
    assert.deepEqual(snap.services[0]?.endpoints.map((e) => [e.ip, e.ports['']]), [['127.10.0.1', 8080], ['127.10.0.2', 8080]]);
    assert.equal(snap.forwards, undefined);
  });

  it("reaches another node's instance at that node's address and node-published port, and forwards this node's own", () => {
    const { store, created } = cluster({ 1: 'a', 2: 'b', 3: 'c' });
    store.upsertNode(reg('a', '10.0.0.1'));
    store.upsertNode(reg('b', '10.0.0.2'));
    store.upsertNode(reg('c', '10.0.0.3', false)); // down: reached nowhere
    const snap = buildSnapshot(store, ['10.0.0.1'], 'a');
    assert.deepEqual(snap.services[0]?.endpoints.map((e) => [e.slot, e.ip, e.ports['']]), [[1, '127.10.0.1', 8080], [2, '10.0.0.2', 20001]]);
    assert.deepEqual(snap.forwards, [{ grid: 'default', service: 'web', instance: created[0]?.id, protocol: 'TCP', host: '10.0.0.1', port: 20000, target: { ip: '127.10.0.1', port: 8080 } }]);
    // The proxy balances the VIP over both, and listens on the forward.
    const table = buildProxyTable(snap, { nodeAddresses: ['10.0.0.1'] });
    assert.deepEqual(table.services.get('default/web:8080/TCP')?.backends.map((b) => b.key), ['127.10.0.1:8080', '10.0.0.2:20001']);
    const forward = [...table.listeners.values()].find((l) => l.kind === 'instancePort');
    assert.deepEqual([forward?.host, forward?.port], ['10.0.0.1', 20000]);
    assert.deepEqual(table.services.get(forward?.serviceKey as string)?.backends.map((b) => b.key), ['127.10.0.1:8080']);
  });

  it('an instance of another node without a published port is no endpoint there', () => {
    const { store, created } = cluster({ 1: 'a' });
    const bare = newInstance({ slot: 2, node: 'b', spec: { ...(created[0] as unknown as Instance).spec, address: '127.10.0.7', hostPorts: [] } });
    store.applyControllerWrites({ createInstances: [bare] });
    store.upsertNode(reg('a', '10.0.0.1'));
    store.upsertNode(reg('b', '10.0.0.2'));
    const snap = buildSnapshot(store, ['10.0.0.1'], 'a');
    const second = snap.services[0]?.endpoints.find((e) => e.slot === 2);
    assert.deepEqual(second?.ports, {}, 'listed (so DNS knows the slot) but with no port to reach');
  });
});

describe('HostPortAllocator', () => {
  const containers = portsToPublish([parseServiceSpec({ name: 'x', containers: [{ command: ['x'], ports: [{ containerPort: 80 }, { containerPort: 53, protocol: 'UDP' }] }] })]);

  it('gives each container port a port of its node, never one a live instance there holds; nodes are apart', () => {
    const held = newInstance({ node: 'a', spec: { ...newInstance().spec, hostPorts: [{ containerPort: 80, protocol: 'TCP', hostPort: 20000 }] } });
    const live = { ...held, version: 1, createdAt: '', status: { state: 'running' as const, timestamp: '', message: '' } } as Instance;
    const alloc = new HostPortAllocator([live], [20000, 20003]);
    assert.deepEqual(alloc.allocate('a', containers), [{ containerPort: 80, protocol: 'TCP', hostPort: 20001 }, { containerPort: 53, protocol: 'UDP', hostPort: 20002 }]);
    assert.deepEqual(alloc.allocate('b', containers).map((p) => p.hostPort), [20000, 20001], 'another node has its own ports');
    assert.deepEqual(alloc.allocate('a', containers).map((p) => p.hostPort), [20003, 20000], 'UDP 20000 is free on a (TCP 20000 is held)');
    assert.deepEqual(alloc.allocate('a', containers).map((p) => p.hostPort), [20002, 20003], 'TCP and UDP ports are counted apart');
    assert.deepEqual(alloc.allocate('a', containers), [], 'TCP exhausted on a: nothing (reachable from its own node only)');
  });

  it('ended instances hold nothing', () => {
    const ended = { ...newInstance({ node: 'a', spec: { ...newInstance().spec, hostPorts: [{ containerPort: 80, protocol: 'TCP', hostPort: 20000 }] } }), version: 1, createdAt: '', status: { state: 'complete' as const, timestamp: '', message: '' } } as Instance;
    assert.deepEqual(new HostPortAllocator([ended], [20000, 20000]).allocate('a', containers).map((p) => `${p.protocol}/${p.hostPort}`), ['TCP/20000', 'UDP/20000']);
  });
});
