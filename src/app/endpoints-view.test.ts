import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeRegistration } from '../model/index.js';
import { parseServiceSpec } from '../model/index.js';
import { openSqliteStore } from '../store/index.js';
import { newInstance } from '../api/testing/fixtures.js';
import { buildSnapshot } from './endpoints-publisher.js';
import { OnDemandEndpoints } from './endpoints-view.js';

const reg = (name: string, address: string, ready = true): NodeRegistration => ({ name, address, drivers: ['process'], ready, heartbeatAt: new Date().toISOString() });

/** Services `web` (two instances, on nodes a and b) and `all` (a selector over web's label), nodes a and b up. */
function cluster() {
  const store = openSqliteStore(':memory:');
  const spec = parseServiceSpec({ name: 'web', clusterIP: '127.96.0.9', labels: { tier: 'front' }, containers: [{ command: ['x'], ports: [{ containerPort: 8080 }] }] });
  store.createService({ grid: 'default', spec, deploy: true });
  store.createService({ grid: 'default', spec: parseServiceSpec({ name: 'all', clusterIP: '127.96.0.10', selector: { tier: 'front' }, containers: [], ports: [{ port: 80, targetPort: 8080 }] }), deploy: true });
  const created = ['a', 'b'].map((node, k) =>
    newInstance({ slot: k + 1, node, spec: { ...newInstance().spec, containers: spec.containers, address: `127.10.0.${k + 1}`, hostPorts: [{ containerPort: 8080, protocol: 'TCP', hostPort: 20000 + k }] } }),
  );
  store.applyControllerWrites({ createInstances: created });
  const now = new Date().toISOString();
  store.setInstanceStatuses(created.map((c) => ({ id: c.id, status: { state: 'running' as const, timestamp: now, message: 'running', startedAt: now } })));
  store.upsertNode(reg('a', '10.0.0.1'));
  store.upsertNode(reg('b', '10.0.0.2'));
  return { store, created };
}

describe('OnDemandEndpoints (a control-plane server of a cluster)', () => {
  it('answers what a full snapshot would, for the one service asked about, selectors included', () => {
    const { store } = cluster();
    const view = new OnDemandEndpoints(store, 'control-plane x');
    const snapshot = buildSnapshot(store, [], 'control-plane x');
    for (const name of ['web', 'all']) assert.deepEqual(view.get('default', name), snapshot.services.find((s) => s.service === name), name);
    assert.deepEqual(view.get('default', 'web')?.endpoints.map((e) => [e.ip, e.ports['']]), [['10.0.0.1', 20000], ['10.0.0.2', 20001]], 'each instance at its node and published port');
    assert.equal(view.get('default', 'all')?.endpoints.length, 2, 'the selector picks web\'s two instances');
    assert.equal(view.get('default', 'nope'), undefined);
  });

  it('follows the store: an answer is kept while the revision stands, and a down node drops its instance', () => {
    const { store } = cluster();
    const view = new OnDemandEndpoints(store, 'control-plane x');
    const first = view.get('default', 'web');
    assert.equal(view.get('default', 'web'), first, 'the same object while nothing changed');
    store.upsertNode(reg('b', '10.0.0.2', false));
    assert.deepEqual(view.get('default', 'web')?.endpoints.map((e) => e.ip), ['10.0.0.1']);
  });

  it('tells a subscriber of changes, coalesced, and nothing after it unsubscribed', async () => {
    const { store, created } = cluster();
    const view = new OnDemandEndpoints(store, 'control-plane x');
    let calls = 0;
    const stop = view.subscribe(() => calls++);
    const now = new Date().toISOString();
    for (const c of created) store.setInstanceStatuses([{ id: c.id, status: { state: 'running', timestamp: now, message: 'running again', startedAt: now } }]);
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(calls, 1, 'two changes within 100 ms: one call');
    stop();
    store.upsertNode(reg('a', '10.0.0.1', false));
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(calls, 1);
  });
});
