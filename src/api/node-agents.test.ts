import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { mintToken, newSigningKey } from '../lib/index.js';
import type { Instance } from '../model/index.js';
import { parseServiceSpec } from '../model/index.js';
import { MemoryNodeLiveness, openSqliteStore } from '../store/index.js';
import { FakeTelemetry, TokenAuthenticator, createApi, nodeToken } from './index.js';
import type { LeaderRouting } from './leader-routing.js';
import type { DataPlaneAcks } from './ports.js';
import { newInstance } from './testing/fixtures.js';

const FACTS = { address: '10.9.0.2', drivers: ['process'], os: 'linux', arch: 'x86_64', capacity: { cpus: 2, memoryBytes: 2 ** 31 } };

function setup(options: { readonly leaderRouting?: LeaderRouting; readonly clusterId?: string } = {}) {
  const store = openSqliteStore(':memory:');
  const key = newSigningKey();
  const liveness = new MemoryNodeLiveness();
  // What the data-plane routes hand on: reports recorded, barriers answered with the nodes behind.
  const reports: [string, number][] = [];
  const dataPlanes: DataPlaneAcks = {
    report: (node, revision) => void reports.push([node, revision]),
    wait: async (revision, options) => reports.filter(([n, r]) => n !== options.except && r < revision).map(([n]) => n),
  };
  const app = createApi({
    store,
    authenticator: new TokenAuthenticator(store, { serviceAccountKey: key }),
    telemetry: new FakeTelemetry(),
    node: 'server',
    version: 't',
    agents: { liveness, heartbeatPeriodMs: 1000, nodeToken: (node, joinedAt) => nodeToken(node, joinedAt, key), apiToken: (i: Instance) => `sa-of-${i.id}`, dataPlanes },
    ...(options.leaderRouting ? { leaderRouting: options.leaderRouting } : {}),
    ...(options.clusterId ? { clusterId: options.clusterId, instanceRange: '127.11.88.0/24', networkRanges: { serviceRange: '127.97.8.0/24', nodePortRange: [31160, 31179] as const } } : {}),
  });
  after(() => app.close());
  const token = (role: 'cluster-admin' | 'node' | 'admin'): string => {
    const m = mintToken();
    store.createToken({ id: m.id, hash: m.hash, name: role, role, ...(role === 'admin' ? { grid: 'default' } : {}), createdAt: new Date().toISOString(), createdBy: 'test' });
    return m.token;
  };
  return { app, store, liveness, reports, join: token('node'), admin: token('cluster-admin'), gridAdmin: token('admin') };
}

async function call(app: FastifyInstance, token: string, method: 'GET' | 'POST' | 'PUT' | 'PATCH', url: string, payload?: unknown) {
  const res = await app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload: payload as object }) });
  return { status: res.statusCode, text: res.body, body: res.body === '' ? undefined : (res.json() as Record<string, unknown>) };
}

async function joined(app: FastifyInstance, join: string, name: string): Promise<string> {
  const res = await call(app, join, 'POST', '/v1/nodes/join', { name, ...FACTS, labels: { zone: 'a' } });
  assert.equal(res.status, 201, res.text);
  return String(res.body?.['token']);
}

describe('API: agents of other machines', () => {
  it('tells an agent its cluster\'s id and ranges in the join and heartbeat answers (it claims them on its machine), and GET /v1/version says them too', async () => {
    const { app, join } = setup({ clusterId: 'key:0123456789abcdef01234567' });
    const cluster = { id: 'key:0123456789abcdef01234567', instanceRange: '127.11.88.0/24', serviceRange: '127.97.8.0/24', nodePortRange: '31160-31179' };
    const res = await call(app, join, 'POST', '/v1/nodes/join', { name: 'vm2', ...FACTS });
    assert.deepEqual(res.body?.['cluster'], cluster);
    const beat = await call(app, String(res.body?.['token']), 'PUT', '/v1/nodes/vm2/heartbeat', FACTS);
    assert.equal(beat.status, 200, beat.text);
    assert.deepEqual(beat.body?.['cluster'], cluster);
    assert.deepEqual((await app.inject({ method: 'GET', url: '/v1/version' })).json().cluster, cluster);
    const plain = setup();
    assert.equal((await call(plain.app, plain.join, 'POST', '/v1/nodes/join', { name: 'vm3', ...FACTS })).body?.['cluster'], undefined, 'none without an id');
  });

  it('a join token joins a node and gets its credential; it can do nothing else', async () => {
    const { app, store, liveness, join } = setup();
    const credential = await joined(app, join, 'vm2');
    const node = store.getNode('vm2');
    assert.deepEqual([node?.ready, node?.address, node?.labels], [true, '10.9.0.2', { zone: 'a' }]);
    assert.ok(node?.joinedAt);
    assert.ok((liveness.lastRenewedMs('vm2') ?? 0) > 0, 'joining counts as a heartbeat');
    assert.match(credential, /^bnd1\./);
    for (const [method, url] of [['GET', '/v1/nodes'], ['GET', '/v1/grids/default/services'], ['PUT', '/v1/nodes/vm2/heartbeat']] as const) {
      const res = await call(app, join, method, url, method === 'PUT' ? FACTS : undefined);
      assert.equal(res.status, 403, `${method} ${url} with a join token: ${res.text}`);
    }
    const again = await call(app, join, 'POST', '/v1/nodes/join', { name: 'vm2', ...FACTS });
    assert.equal(again.status, 409, 'a ready node of that name');
    assert.equal(again.body?.['code'], 'NODE_EXISTS');
  });

  it('refuses an odd join, changing nothing: bad name, address, drivers, capacity, too many labels, unknown fields', async () => {
    const { app, store, join } = setup();
    const revision = store.revision();
    const cases: [unknown, RegExp][] = [
      [{ ...FACTS, name: 'Bad_Name' }, /name/],
      [{ ...FACTS, name: 'x'.repeat(254) }, /name/],
      [{ ...FACTS, name: 'vm2', address: 'not an ip; rm -rf /' }, /address/],
      [{ ...FACTS, name: 'vm2', drivers: ['process', 'kvm'] }, /drivers/],
      [{ ...FACTS, name: 'vm2', capacity: { cpus: -1, memoryBytes: 1 } }, /capacity/],
      [{ ...FACTS, name: 'vm2', capacity: { cpus: 1, memoryBytes: 2 ** 61 } }, /capacity/],
      [{ ...FACTS, name: 'vm2', labels: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])) }, /labels/],
      [{ ...FACTS, name: 'vm2', ready: true }, /ready/],
      [{ ...FACTS, name: 'vm2', joinedAt: 'forged' }, /joinedAt/],
      // What containers cannot do there: at most 8 sentences of 1 KiB (berth version prints them).
      [{ ...FACTS, name: 'vm2', containerNetwork: { name: 'berth', subnet: '10.213.0.0/16', gateway: '10.213.0.1', problems: Array.from({ length: 9 }, () => 'x') } }, /containerNetwork\.problems/],
      [{ ...FACTS, name: 'vm2', containerNetwork: { name: 'berth', subnet: '10.213.0.0/16', gateway: '10.213.0.1', problems: ['x'.repeat(1025)] } }, /containerNetwork\.problems/],
    ];
    for (const [payload, field] of cases) {
      const res = await call(app, join, 'POST', '/v1/nodes/join', payload);
      assert.equal(res.status, 400, `${JSON.stringify(payload).slice(0, 80)}: ${res.text}`);
      assert.equal(res.body?.['code'], 'REQUEST_INVALID');
      assert.match(String(res.body?.['message']), field);
    }
    assert.equal(store.revision(), revision, 'nothing stored');
    assert.deepEqual(store.listNodes(), []);
  });

  it('a grid admin cannot join nodes nor mint a join token', async () => {
    const { app, gridAdmin } = setup();
    const res = await call(app, gridAdmin, 'POST', '/v1/nodes/join', { name: 'vm2', ...FACTS });
    assert.equal(res.status, 403);
    const minted = await call(app, gridAdmin, 'POST', '/v1/tokens', { role: 'node' });
    assert.equal(minted.status, 403, minted.text);
  });

  it('a node credential acts for its own node only (the node authorizer)', async () => {
    const { app, store, join } = setup();
    const vm2 = await joined(app, join, 'vm2');
    await joined(app, join, 'vm3');
    const mine = newInstance({ node: 'vm2', slot: 1 });
    const theirs = newInstance({ node: 'vm3', slot: 2 });
    store.applyControllerWrites({ createInstances: [mine, theirs] });

    const list = await call(app, vm2, 'GET', '/v1/nodes/vm2/instances');
    assert.equal(list.status, 200, list.text);
    assert.deepEqual((list.body?.['items'] as { id: string }[]).map((i) => i.id), [mine.id]);
    assert.equal(typeof list.body?.['revision'], 'number');
    assert.equal((await call(app, vm2, 'GET', '/v1/nodes/vm3/instances')).status, 403, "another node's instances");
    assert.equal((await call(app, vm2, 'PUT', '/v1/nodes/vm3/heartbeat', FACTS)).status, 403, "another node's heartbeat");
    assert.equal((await call(app, vm2, 'GET', `/v1/nodes/vm2/instances/${theirs.id}/credentials`)).status, 404, "another node's instance through its own path");
    assert.equal((await call(app, vm2, 'GET', '/v1/nodes')).status, 200, 'cluster-read: the data plane needs every node');
    assert.equal((await call(app, vm2, 'PATCH', '/v1/nodes/vm2', { availability: 'drain' })).status, 403, 'a node does not set its own availability');
    assert.equal((await call(app, vm2, 'POST', '/v1/grids/default/services', { name: 'x', containers: [{ command: ['true'] }] })).status, 403);

    const now = new Date().toISOString();
    const report = await call(app, vm2, 'POST', '/v1/nodes/vm2/statuses', {
      updates: [
        { id: mine.id, status: { state: 'pending', timestamp: now, message: 'preparing' } },
        { id: theirs.id, status: { state: 'failed', timestamp: now, message: 'forged' } },
      ],
      events: [
        { grid: 'default', service: 'web', type: 'instance.started', severity: 'info', message: 'mine', instance: mine.id },
        { grid: 'default', service: 'web', type: 'instance.exited', severity: 'info', message: 'forged', instance: theirs.id },
      ],
    });
    assert.equal(report.status, 200, report.text);
    assert.deepEqual(report.body, { accepted: 1, events: 1, ignored: 2 });
    assert.equal(store.getInstance(mine.id)?.status.state, 'pending');
    assert.equal(store.getInstance(theirs.id)?.status.state, 'new', "the other node's instance is untouched");
    assert.deepEqual(store.listEvents({ grid: 'default', service: 'web' }).map((e) => e.message).filter((m) => m === 'mine' || m === 'forged'), ['mine']);
    const service = await call(app, vm2, 'POST', '/v1/nodes/vm2/statuses', { updates: [], events: [{ grid: 'default', service: 'web', type: 'service.removed', severity: 'info', message: 'x', instance: mine.id }] });
    assert.equal(service.status, 400, 'an agent reports instance events only');
  });

  it('data-plane reports and barriers: its own node only, odd values refused, nothing recorded for them', async () => {
    const { app, reports, join, gridAdmin } = setup();
    const vm2 = await joined(app, join, 'vm2');
    const vm3 = await joined(app, join, 'vm3');
    assert.equal((await call(app, vm2, 'PUT', '/v1/nodes/vm2/data-plane', { revision: 7 })).status, 204);
    assert.equal((await call(app, vm3, 'PUT', '/v1/nodes/vm3/data-plane', { revision: 3 })).status, 204);
    assert.deepEqual(reports, [['vm2', 7], ['vm3', 3]]);
    for (const body of [{ revision: -1 }, { revision: 1.5 }, { revision: '7' }, { revision: 2 ** 60 }, {}, { revision: 1, extra: true }, [], null]) {
      const res = await call(app, vm2, 'PUT', '/v1/nodes/vm2/data-plane', body);
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
    }
    for (const body of [{ revision: 5, timeoutMs: 30_001 }, { revision: 5, timeoutMs: -1 }, { revision: -5 }]) {
      const res = await call(app, vm2, 'POST', '/v1/nodes/vm2/data-plane/barrier', body);
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
    }
    assert.equal((await call(app, vm2, 'PUT', '/v1/nodes/vm3/data-plane', { revision: 99 })).status, 403, "another node's report");
    assert.equal((await call(app, vm2, 'POST', '/v1/nodes/vm3/data-plane/barrier', { revision: 1 })).status, 403, "another node's barrier");
    assert.equal((await call(app, join, 'PUT', '/v1/nodes/vm2/data-plane', { revision: 99 })).status, 403, 'a join token');
    assert.equal((await call(app, gridAdmin, 'PUT', '/v1/nodes/vm2/data-plane', { revision: 99 })).status, 403, 'a grid admin is not a node');
    assert.deepEqual(reports, [['vm2', 7], ['vm3', 3]], 'nothing refused was recorded');
    const barrier = await call(app, vm2, 'POST', '/v1/nodes/vm2/data-plane/barrier', { revision: 5, timeoutMs: 0 });
    assert.equal(barrier.status, 200, barrier.text);
    assert.deepEqual(barrier.body, { behind: ['vm3'] }, 'the asking node is not waited for; vm3 is behind');
  });

  it('gives an instance of the node its API token and exactly the secrets its env refers to', async () => {
    const { app, store, join } = setup();
    const vm2 = await joined(app, join, 'vm2');
    store.putSecret('default', 'db', { password: 'hunter2', other: 'not asked' }, 'create');
    const inst = newInstance({ node: 'vm2', slot: 1 });
    const containers = parseServiceSpec({ name: 'web', containers: [{ name: 'app', command: ['true'], env: [{ name: 'PW', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } }] }] }).containers;
    const withSecret = { ...inst, spec: { ...inst.spec, containers } };
    store.applyControllerWrites({ createInstances: [withSecret] });
    const res = await call(app, vm2, 'GET', `/v1/nodes/vm2/instances/${inst.id}/credentials`);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, { apiToken: `sa-of-${inst.id}`, secrets: { 'db/password': 'hunter2' } });
  });

  it('a removed node\'s credential stops working, even when a node of that name joins again', async () => {
    const { app, store, join, admin } = setup();
    const old = await joined(app, join, 'vm2');
    assert.equal((await call(app, admin, 'PATCH', '/v1/nodes/vm2', { availability: 'pause' })).status, 200);
    store.updateNode('vm2', { ready: false });
    assert.equal((await app.inject({ method: 'DELETE', url: '/v1/nodes/vm2', headers: { authorization: `Bearer ${admin}` } })).statusCode, 204);
    const gone = await call(app, old, 'PUT', '/v1/nodes/vm2/heartbeat', FACTS);
    assert.equal(gone.status, 401);
    assert.match(String(gone.body?.['message']), /was removed since this credential was given/);
    await new Promise((r) => setTimeout(r, 5)); // a later joinedAt
    const fresh = await joined(app, join, 'vm2');
    assert.equal((await call(app, old, 'PUT', '/v1/nodes/vm2/heartbeat', FACTS)).status, 401, 'the old credential names the old join');
    assert.equal((await call(app, fresh, 'PUT', '/v1/nodes/vm2/heartbeat', FACTS)).status, 200);
  });

  it("a heartbeat carries the telemetry listener's certificate fingerprint into the node record; a malformed one is 400", async () => {
    const { app, store, join } = setup();
    const vm2 = await joined(app, join, 'vm2');
    const fingerprint = Array.from({ length: 32 }, (_, k) => (k * 7).toString(16).padStart(2, '0').toUpperCase()).join(':');
    const beat = await call(app, vm2, 'PUT', '/v1/nodes/vm2/heartbeat', { ...FACTS, telemetryPort: 10250, telemetryFingerprint: fingerprint });
    assert.equal(beat.status, 200, beat.text);
    assert.equal(store.getNode('vm2')?.telemetryFingerprint, fingerprint);
    const bad = await call(app, vm2, 'PUT', '/v1/nodes/vm2/heartbeat', { ...FACTS, telemetryPort: 10250, telemetryFingerprint: 'ab:cd' });
    assert.equal(bad.status, 400);
    assert.match(bad.text, /telemetryFingerprint/);
    assert.equal(store.getNode('vm2')?.telemetryFingerprint, fingerprint, 'the refused beat changed nothing');
  });

  it('heartbeats of a down node bring it back; a forged credential is refused', async () => {
    const { app, store, join } = setup();
    const vm2 = await joined(app, join, 'vm2');
    store.updateNode('vm2', { ready: false });
    const beat = await call(app, vm2, 'PUT', '/v1/nodes/vm2/heartbeat', FACTS);
    assert.equal(beat.status, 200, beat.text);
    assert.equal(store.getNode('vm2')?.ready, true);
    const forged = nodeToken('vm2', String(store.getNode('vm2')?.joinedAt), newSigningKey());
    assert.equal((await call(app, forged, 'PUT', '/v1/nodes/vm2/heartbeat', FACTS)).status, 401);
  });

  it('on a leader behind its etcd backlog, a beat that only renews the liveness answers at once; one that writes waits for etcd', async () => {
    let flush!: (revision: number) => void;
    let flushes = 0;
    const routing: LeaderRouting = {
      role: () => 'leader',
      leaderUrl: () => undefined,
      servers: () => [],
      flushed: () => {
        flushes++;
        return new Promise((resolve) => (flush = resolve));
      },
      caughtUp: async () => true,
    };
    // The request reached flushed() (a fixed sleep was too short on a loaded machine: `flush` was unset).
    const flushAsked = async (n: number): Promise<void> => {
      for (const until = Date.now() + 5000; flushes < n; ) {
        if (Date.now() > until) assert.fail(`flushed() was asked ${flushes} time(s), not ${n}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    const { app, join } = setup({ leaderRouting: routing });
    const joining = call(app, join, 'POST', '/v1/nodes/join', { name: 'vm2', ...FACTS });
    await flushAsked(1);
    flush(7); // the join wrote the node: its answer waited for etcd
    const credential = String((await joining).body?.['token']);
    const before = flushes;
    const beat = await Promise.race([call(app, credential, 'PUT', '/v1/nodes/vm2/heartbeat', FACTS), new Promise<'waited'>((r) => setTimeout(() => r('waited'), 500))]);
    if (beat === 'waited') assert.fail('a beat that wrote nothing does not wait for the backlog');
    assert.equal(beat.status, 200);
    assert.equal(flushes, before, 'nor asks for a flush');
    // New facts are a write of the node record: that answer waits until etcd has it.
    let answered = false;
    const changed = call(app, credential, 'PUT', '/v1/nodes/vm2/heartbeat', { ...FACTS, address: '10.9.0.3' }).then((r) => ((answered = true), r));
    await flushAsked(before + 1);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(answered, false, 'a beat that wrote waits for etcd');
    flush(9);
    const res = await changed;
    assert.equal(res.status, 200);
    assert.equal((res.body?.['node'] as { address?: string })?.address, '10.9.0.3');
  });
});
