import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { newInstance } from '../api/testing/fixtures.js';
import { serveRealApi } from '../../test/real-api.js';
import { parseServiceSpec } from '../model/index.js';
import { planWhatIf } from '../reconcile/index.js';
import { openSqliteStore } from '../store/index.js';
import type { SqliteStore } from '../store/index.js';
import { runCli } from './testing/run-cli.js';

/* `berth plan` against the real API with the real planner (in-process, on a loopback port). */

describe('berth plan (real API and planner)', () => {
  let store: SqliteStore;
  let app: FastifyInstance;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    store = openSqliteStore(':memory:');
    const now = new Date().toISOString();
    for (const name of ['a', 'b', 'c']) store.upsertNode({ name, address: '127.0.0.1', drivers: ['process'], ready: true, heartbeatAt: now, capacity: { cpus: 4, memoryBytes: 8 * 1024 ** 3 } });
    const spec = parseServiceSpec({ name: 'web', replicas: 3, containers: [{ command: ['x'] }], updateConfig: { minHealth: 1 } });
    const service = store.createService({ grid: 'default', spec, deploy: true });
    const created = ['a', 'b', 'c'].map((node, k) => newInstance({ node, slot: k + 1, serviceId: service.id, spec: { ...newInstance().spec, containers: spec.containers, address: `127.10.0.${k + 1}` } }));
    store.applyControllerWrites({ createInstances: created });
    for (const state of ['pending', 'running'] as const) store.setInstanceStatuses(created.map((c) => ({ id: c.id, status: { state, timestamp: now, message: state, ...(state === 'running' ? { startedAt: now } : {}) } })));
    ({ app, env } = await serveRealApi({ store, node: 'a', planner: (change) => planWhatIf({ services: store.listServices(), instances: store.listInstances(), nodes: store.listNodes(), now: Date.now() }, change) }));
  });
  after(async () => {
    await app?.close();
  });

  it('--fail-node prints the move and the service that drops below its minHealth, and changes nothing', async () => {
    const revision = store.revision();
    const r = await runCli(['plan', '--fail-node', 'c'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^What if node c failed/);
    assert.match(r.stdout, /move\s+web\s+3\s+c\s+[ab]\s+/);
    assert.match(r.stdout, /Services below their replicas or minHealth:\n.*\nweb\s+3\s+3\s+2\s+3\s+100% \(below\)/);
    assert.equal(store.revision(), revision, 'nothing written');
    const json = JSON.parse((await runCli(['plan', '--fail-node', 'c', '-o', 'json'], { env })).stdout) as { moves: { slot: number; from: string }[] };
    assert.deepEqual(json.moves.map((m) => [m.slot, m.from]), [[3, 'c']]);
  });

  it('--add-node with a label: nothing moves (no instance is moved for a better node)', async () => {
    const r = await runCli(['plan', '--add-node', 'zone=d', '--name', 'd'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /What if a node d with zone=d joined:\n\nNothing would change\./);
  });

  it('--fail-node of a node that is down already says so', async () => {
    store.upsertNode({ name: 'gone', address: '127.0.0.1', drivers: ['process'], ready: false, heartbeatAt: new Date().toISOString() });
    const r = await runCli(['plan', '--fail-node', 'gone'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Nothing would change\./);
    assert.match(r.stderr, /node gone is down already: what its failure does has been done/);
    const up = await runCli(['plan', '--fail-node', 'c'], { env });
    assert.doesNotMatch(up.stderr, /down already/);
  });

  it('refuses no change, two changes, and an unknown node', async () => {
    const none = await runCli(['plan'], { env });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /exactly one of --fail-node/);
    const two = await runCli(['plan', '--fail-node', 'a', '--drain', 'b'], { env });
    assert.equal(two.code, 2);
    const unknown = await runCli(['plan', '--drain', 'zz'], { env });
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /node "zz" not found/);
  });
});
