import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { mintToken, newSigningKey } from '../lib/index.js';
import type { NodeRegistration } from '../model/index.js';
import { openSqliteStore } from '../store/index.js';
import { FakeTelemetry, TokenAuthenticator, createApi } from './index.js';
import { newInstance } from './testing/fixtures.js';

function setup() {
  const store = openSqliteStore(':memory:');
  const app = createApi({ store, authenticator: new TokenAuthenticator(store, { serviceAccountKey: newSigningKey() }), telemetry: new FakeTelemetry(), node: 'n1', version: 't' });
  after(() => app.close());
  const token = (role: 'cluster-admin' | 'admin' | 'viewer'): string => {
    const m = mintToken();
    store.createToken({ id: m.id, hash: m.hash, name: role, role, ...(role === 'cluster-admin' ? {} : { grid: 'default' }), createdAt: new Date().toISOString(), createdBy: 'test' });
    return m.token;
  };
  const register = (name: string, extra: Partial<NodeRegistration> = {}) =>
    store.upsertNode({ name, address: '127.0.0.1', drivers: ['process'], ready: true, heartbeatAt: new Date().toISOString(), ...extra });
  return { app, store, register, admin: token('cluster-admin'), gridAdmin: token('admin'), viewer: token('viewer') };
}

async function call(app: FastifyInstance, token: string, method: 'GET' | 'PATCH' | 'DELETE', url: string, payload?: unknown) {
  const res = await app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload: payload as object }) });
  return { status: res.statusCode, text: res.body, body: res.body === '' ? undefined : (res.json() as Record<string, unknown>) };
}

describe('API: nodes', () => {
  it('shows a node with its labels, availability, platform, capacity and the instances on it', async () => {
    const { app, store, register, admin } = setup();
    register('n1', { labels: { zone: 'a' }, os: 'linux', arch: 'x86_64', capacity: { cpus: 4, memoryBytes: 8 * 1024 ** 3 } });
    store.applyControllerWrites({ createInstances: [newInstance({ node: 'n1', slot: 1 }), newInstance({ node: 'n2', slot: 2 })] });
    const res = await call(app, admin, 'GET', '/v1/nodes/n1');
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body?.['labels'], { zone: 'a' });
    assert.equal(res.body?.['availability'], 'active');
    assert.deepEqual(res.body?.['capacity'], { cpus: 4, memoryBytes: 8 * 1024 ** 3 });
    const instances = res.body?.['instances'] as { node?: string; slot: number; service: string }[];
    assert.deepEqual(instances.map((i) => [i.service, i.slot]), [['web', 1]], 'only the instances on n1');
    const missing = await call(app, admin, 'GET', '/v1/nodes/nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.body?.['code'], 'NODE_NOT_FOUND');
  });

  it('sets availability and edits labels; a later registration of the agent keeps both', async () => {
    const { app, register, admin } = setup();
    register('n1', { labels: { zone: 'a', disk: 'hdd' } });
    const drained = await call(app, admin, 'PATCH', '/v1/nodes/n1', { availability: 'drain', labelsAdd: { disk: 'ssd', rack: 'r1' }, labelsRemove: ['zone'] });
    assert.equal(drained.status, 200, drained.text);
    assert.equal(drained.body?.['availability'], 'drain');
    assert.deepEqual(drained.body?.['labels'], { disk: 'ssd', rack: 'r1' });
    // The agent heartbeats with its start-up labels: the user's choices stay.
    const again = register('n1', { labels: { zone: 'b' } });
    assert.equal(again.availability, 'drain');
    assert.deepEqual(again.labels, { disk: 'ssd', rack: 'r1' });
    const replaced = await call(app, admin, 'PATCH', '/v1/nodes/n1', { labels: { only: 'this' }, availability: 'active' });
    assert.deepEqual(replaced.body?.['labels'], { only: 'this' });
    assert.equal(replaced.body?.['availability'], 'active');
  });

  it('refuses a stale version, bad availability, bad labels and odd input, changing nothing', async () => {
    const { app, store, register, admin } = setup();
    const n = register('n1');
    const stale = await call(app, admin, 'PATCH', '/v1/nodes/n1', { version: n.version - 1, availability: 'pause' });
    assert.equal(stale.status, 409);
    assert.equal(stale.body?.['code'], 'VERSION_CONFLICT');
    const cases: [unknown, RegExp][] = [
      [{ availability: 'sleep' }, /availability.*active, pause or drain/],
      [{ labelsAdd: { 'bad key!': 'x' } }, /labelsAdd/],
      [{ labelsAdd: { k: 'x'.repeat(64) } }, /labelsAdd.*label value/],
      [{ labels: { a: 'b' }, labelsRemove: ['a'] }, /either labels/],
      [{ labelsAdd: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])) }, /at most 64 labels/],
      [{ color: 'red' }, /color/],
      [[1, 2], /body/],
    ];
    for (const [payload, message] of cases) {
      const res = await call(app, admin, 'PATCH', '/v1/nodes/n1', payload);
      assert.equal(res.status, 400, `${JSON.stringify(payload).slice(0, 60)}: ${res.text}`);
      assert.equal(res.body?.['code'], 'REQUEST_INVALID');
      assert.match(String(res.body?.['message']), message);
    }
    assert.deepEqual(store.getNode('n1'), n, 'nothing changed');
  });

  it('removes a down node; a ready one only with force', async () => {
    const { app, store, register, admin } = setup();
    register('n1');
    register('n2', { ready: false });
    const refused = await call(app, admin, 'DELETE', '/v1/nodes/n1');
    assert.equal(refused.status, 409);
    assert.equal(refused.body?.['code'], 'NODE_NOT_DOWN');
    assert.match(String(refused.body?.['message']), /--force/);
    assert.match(String(refused.body?.['message']), /node grace.*retry once `berth node ls` shows it Down/, 'a user who just stopped the agent learns to wait for the grace');
    assert.equal((await call(app, admin, 'DELETE', '/v1/nodes/n2')).status, 204);
    assert.equal((await call(app, admin, 'DELETE', '/v1/nodes/n1?force=true')).status, 204);
    assert.deepEqual(store.listNodes(), []);
    assert.equal((await call(app, admin, 'DELETE', '/v1/nodes/n1')).body?.['code'], 'NODE_NOT_FOUND');
  });

  it('reading needs cluster-read and changing needs manage-nodes: grid roles get 403', async () => {
    const { app, register, gridAdmin, viewer } = setup();
    register('n1');
    for (const token of [gridAdmin, viewer]) {
      assert.equal((await call(app, token, 'GET', '/v1/nodes/n1')).status, 403);
      const patch = await call(app, token, 'PATCH', '/v1/nodes/n1', { availability: 'drain' });
      assert.equal(patch.status, 403);
      assert.equal(patch.body?.['code'], 'FORBIDDEN');
      assert.equal((await call(app, token, 'DELETE', '/v1/nodes/n1?force=true')).status, 403);
    }
  });
});
