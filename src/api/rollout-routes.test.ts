import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Instance, Service, ServiceExplanation, ServiceSpecInput, SpecHistory } from '../model/index.js';
import { openSqliteStore } from '../store/index.js';
import { FakeTelemetry, createApi } from './index.js';
import { ExplanationSchema, InstanceSchema, ServiceSchema, ServiceWithExplanationSchema, SpecHistorySchema } from './response-schemas.js';
import { newInstance, adminAuthenticator } from './testing/fixtures.js';

const BASE = '/v1/grids/default/services';
const NOW = Date.parse('2026-03-01T12:00:00Z');

function setup() {
  let t = NOW;
  // Every read of the clock moves it on by a second, so versions are deployed at different times.
  const clock = { now: () => (t += 1000), sleep: () => Promise.resolve() };
  const store = openSqliteStore(':memory:', { clock });
  const telemetry = new FakeTelemetry();
  const app = createApi({ authenticator: adminAuthenticator, store, telemetry, clock, node: 'node-1', version: '0.0.0-test', networkRanges: { serviceRange: '127.96.0.0/24', nodePortRange: [30000, 30010] } });
  after(() => app.close());
  return { store, telemetry, app };
}

function spec(overrides: Partial<ServiceSpecInput> = {}): ServiceSpecInput {
  return { name: 'web', containers: [{ command: ['node', 'server.js'], ports: [{ containerPort: 8080 }] }], ...overrides };
}

async function call<T = Record<string, unknown>>(app: FastifyInstance, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) {
  const res = await app.inject({ method, url, ...(payload === undefined ? {} : { payload: payload as object }) });
  return { status: res.statusCode, body: (res.body === '' ? undefined : res.json()) as T & { code?: string; message?: string; details?: Record<string, unknown> } };
}

/** web deployed at generation 1 (replicas 1), then 2 (replicas 2), then 3 (replicas 3). */
async function threeVersions(app: FastifyInstance): Promise<Service> {
  assert.equal((await call(app, 'POST', BASE, { spec: spec(), deploy: true })).status, 201);
  assert.equal((await call(app, 'PUT', `${BASE}/web`, { spec: spec({ replicas: 2 }), deploy: true })).status, 200);
  const v3 = await call<Service>(app, 'PUT', `${BASE}/web`, { spec: spec({ replicas: 3 }), deploy: true });
  assert.equal(v3.body.generation, 3);
  return v3.body;
}

describe('API: spec history and rollback', () => {
  it('lists every version oldest first with its cause, and which generation is deployed', async () => {
    const { app } = setup();
    await call(app, 'POST', BASE, { spec: spec() });
    await call(app, 'PUT', `${BASE}/web`, { spec: spec({ replicas: 2 }) });
    await call(app, 'POST', `${BASE}/web/deploy`, {});
    await call(app, 'POST', `${BASE}/web/scale`, { replicas: 4 });
    const res = await call<SpecHistory>(app, 'GET', `${BASE}/web/history`);
    assert.equal(res.status, 200);
    const history = SpecHistorySchema.parse(res.body);
    assert.deepEqual(history.items.map((r) => [r.generation, r.cause, r.spec.replicas, r.deployedAt !== undefined]), [
      [1, 'create', 1, false],
      [2, 'update', 2, true],
      [3, 'update', 4, true],
    ]);
    assert.equal(history.deployedGeneration, 3);
    assert.equal((await call(app, 'GET', `${BASE}/nope/history`)).body.code, 'SERVICE_NOT_FOUND');
  });

  it('rolls back to the generation deployed before, as a new generation, and a second rollback toggles back', async () => {
    const { app, store } = setup();
    await threeVersions(app);
    const first = await call<Service>(app, 'POST', `${BASE}/web/rollback`, {});
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const svc = ServiceSchema.parse(first.body) as unknown as Service;
    assert.equal(svc.generation, 4);
    assert.equal(svc.spec.replicas, 2, 'the spec of generation 2');
    assert.deepEqual([svc.deployment?.generation, svc.deployment?.cause, svc.deployment?.rollbackTo], [4, 'rollback', 2]);
    const history = store.listSpecHistory('default', 'web');
    assert.equal(history[history.length - 1]?.cause, 'rollback to 2');
    const events = store.listEvents({ grid: 'default', service: 'web' });
    assert.equal(events[events.length - 1]?.message, 'rollback to generation 2 requested: its spec is deployed as generation 4');

    const second = await call<Service>(app, 'POST', `${BASE}/web/rollback`, {});
    assert.deepEqual([second.body.generation, second.body.spec.replicas, second.body.deployment?.rollbackTo], [5, 3, 3], 'back to the version rolled back from');
  });

  it('rolls back to a named generation with to', async () => {
    const { app } = setup();
    await threeVersions(app);
    const res = await call<Service>(app, 'POST', `${BASE}/web/rollback`, { to: 1 });
    assert.equal(res.status, 200);
    assert.deepEqual([res.body.generation, res.body.spec.replicas, res.body.deployment?.rollbackTo], [4, 1, 1]);
  });

  it('answers 404 REVISION_NOT_FOUND for a generation the history does not hold, naming to and the kept range', async () => {
    const { app } = setup();
    await threeVersions(app);
    const res = await call(app, 'POST', `${BASE}/web/rollback`, { to: 9 });
    assert.equal(res.status, 404);
    assert.equal(res.body.code, 'REVISION_NOT_FOUND');
    assert.match(res.body.message ?? '', /^to: service "web" in grid "default" has no generation 9 in its history \(kept: 1–3\)/);
    assert.equal((await call(app, 'POST', `${BASE}/web/rollback`, { to: 0 })).body.code, 'REQUEST_INVALID');
  });

  it('answers 409 NOTHING_TO_ROLL_BACK without a deployment, without an earlier version, or for the version that runs', async () => {
    const { app } = setup();
    await call(app, 'POST', BASE, { spec: spec() });
    const never = await call(app, 'POST', `${BASE}/web/rollback`, {});
    assert.equal(never.status, 409);
    assert.equal(never.body.code, 'NOTHING_TO_ROLL_BACK');
    assert.match(never.body.message ?? '', /never been deployed/);
    await call(app, 'POST', `${BASE}/web/deploy`, {});
    const once = await call(app, 'POST', `${BASE}/web/rollback`, {});
    assert.equal(once.body.code, 'NOTHING_TO_ROLL_BACK');
    assert.match(once.body.message ?? '', /no other version of it was deployed before generation 1/);
    const same = await call(app, 'POST', `${BASE}/web/rollback`, { to: 1 });
    assert.equal(same.body.code, 'NOTHING_TO_ROLL_BACK');
    assert.match(same.body.message ?? '', /generation 1 has the spec that is deployed now/);
  });

  it('answers a stale version with 409 VERSION_CONFLICT for rollback and deploy, changing nothing', async () => {
    const { app, store } = setup();
    const v3 = await threeVersions(app);
    await call(app, 'PUT', `${BASE}/web`, { spec: spec({ replicas: 5 }) });
    const before = store.getService('default', 'web');
    for (const [path, body] of [['rollback', { version: v3.version }], ['deploy', { version: v3.version, force: true }]] as const) {
      const res = await call(app, 'POST', `${BASE}/web/${path}`, body);
      assert.equal(res.status, 409, path);
      assert.equal(res.body.code, 'VERSION_CONFLICT');
      assert.deepEqual(res.body.details, { expectedVersion: v3.version, currentVersion: before?.version });
    }
    assert.deepEqual(store.getService('default', 'web'), before);
    assert.equal((await call(app, 'POST', `${BASE}/web/deploy`, { version: before?.version })).status, 200, 'the current version is accepted');
  });

  it('runs the network allocation checks again: a node port taken since is refused with 422', async () => {
    const { app, store } = setup();
    const nodePort = (port: number) => ({ type: 'NodePort' as const, ports: [{ port: 80, targetPort: 8080, nodePort: port }] });
    await call(app, 'POST', BASE, { spec: spec(nodePort(30001)), deploy: true });
    await call(app, 'PUT', `${BASE}/web`, { spec: spec(nodePort(30002)), deploy: true });
    assert.equal((await call(app, 'POST', BASE, { spec: spec({ name: 'api', ...nodePort(30001) }) })).status, 201);
    const before = store.getService('default', 'web');
    const res = await call(app, 'POST', `${BASE}/web/rollback`, {});
    assert.equal(res.status, 422);
    assert.equal(res.body.code, 'PORT_ALLOCATED');
    assert.match(res.body.message ?? '', /spec\.ports\[0\]\.nodePort: Invalid value: 30001: provided port is already allocated/);
    assert.deepEqual(store.getService('default', 'web'), before);
  });
});

describe('API: removing one instance', () => {
  function deployed() {
    const s = setup();
    return s;
  }

  it('asks the live instance of a slot to stop with the reason "removed by user" and answers 202', async () => {
    const { app, store } = deployed();
    await call(app, 'POST', BASE, { spec: spec({ replicas: 2 }), deploy: true });
    store.applyControllerWrites({ createInstances: [newInstance({ id: 'web-1-a', slot: 1 }), newInstance({ id: 'web-2-a', slot: 2 })] });
    const res = await call<Instance>(app, 'DELETE', `${BASE}/web/instances/2`);
    assert.equal(res.status, 202);
    const removed = InstanceSchema.parse(res.body);
    assert.deepEqual([removed.id, removed.desiredState, removed.desiredReason], ['web-2-a', 'shutdown', 'removed by user']);
    assert.equal(store.getInstance('web-1-a')?.desiredState, 'running', 'only that one');
    const events = store.listEvents({ grid: 'default', service: 'web' });
    assert.equal(events[events.length - 1]?.message, 'web-2 (web-2-a) removed by user: it stops, and a new instance takes slot 2');
    const byId = await call<Instance>(app, 'DELETE', `${BASE}/web/instances/web-1-a`);
    assert.equal(byId.body.desiredState, 'shutdown');
  });

  it('answers 404 INSTANCE_NOT_FOUND for a slot without a live instance or an unknown id', async () => {
    const { app, store } = deployed();
    await call(app, 'POST', BASE, { spec: spec(), deploy: true });
    store.applyControllerWrites({ createInstances: [newInstance({ id: 'web-1-a', slot: 1 })] });
    const slot = await call(app, 'DELETE', `${BASE}/web/instances/7`);
    assert.equal(slot.status, 404);
    assert.equal(slot.body.code, 'INSTANCE_NOT_FOUND');
    assert.match(slot.body.message ?? '', /^slot 7 of service "web" has no running instance/);
    assert.equal((await call(app, 'DELETE', `${BASE}/web/instances/web-9-x`)).body.code, 'INSTANCE_NOT_FOUND');
    assert.equal((await call(app, 'DELETE', `${BASE}/nope/instances/1`)).body.code, 'SERVICE_NOT_FOUND');
  });
});

describe('API: why', () => {
  it('explains a crashed instance with its exit code and the last 5 lines it wrote', async () => {
    const { app, store, telemetry } = setup();
    await call(app, 'POST', BASE, { spec: spec(), deploy: true });
    store.applyControllerWrites({ createInstances: [newInstance({ id: 'web-1-a', slot: 1 })] });
    store.setInstanceStatuses([{ id: 'web-1-a', status: { state: 'failed', timestamp: new Date(NOW).toISOString(), message: 'exited with code 3', exitCode: 3, startedAt: new Date(NOW).toISOString(), finishedAt: new Date(NOW).toISOString() } }]);
    telemetry.lines = Array.from({ length: 7 }, (_, k) => ({ time: `2026-03-01T12:00:0${k}.000000000Z`, stream: 'stderr' as const, text: `line ${k + 1}`, instance: 'web-1-a', slot: 1, container: 'web' }));
    const res = await call<ServiceExplanation>(app, 'GET', `${BASE}/web/why`);
    assert.equal(res.status, 200);
    const why = ExplanationSchema.parse(res.body);
    assert.equal(why.verdict, 'failed');
    const [root] = why.reasons;
    assert.equal(root?.kind, 'crashed');
    assert.equal(root?.evidence.exitCode, 3);
    assert.deepEqual(root?.evidence.lastLogLines, ['line 3', 'line 4', 'line 5', 'line 6', 'line 7']);
    assert.deepEqual(telemetry.logsCalls[0]?.instances.map((i) => i.id), ['web-1-a']);

    const shown = await call<Service & { explanation: ServiceExplanation }>(app, 'GET', `${BASE}/web`);
    const parsed = ServiceWithExplanationSchema.parse(shown.body);
    assert.equal(parsed.explanation.verdict, 'failed', 'GET of the service carries the same verdict');
    assert.equal(parsed.explanation.reasons[0]?.evidence.lastLogLines, undefined, 'without log lines');
  });

  it('leaves the log lines out when the logs cannot be read, and still answers', async () => {
    const { app, store, telemetry } = setup();
    await call(app, 'POST', BASE, { spec: spec(), deploy: true });
    store.applyControllerWrites({ createInstances: [newInstance({ id: 'web-1-a', slot: 1 })] });
    store.setInstanceStatuses([{ id: 'web-1-a', status: { state: 'rejected', timestamp: new Date(NOW).toISOString(), message: 'spawn nodez ENOENT' } }]);
    telemetry.logsError = new Error('no logs');
    const res = await call<ServiceExplanation>(app, 'GET', `${BASE}/web/why`);
    assert.equal(res.status, 200);
    assert.equal(res.body.reasons[0]?.message, 'web-1 could not start: spawn nodez ENOENT');
    assert.equal(res.body.reasons[0]?.evidence.lastLogLines, undefined);
  });

  it('answers 404 for an unknown service', async () => {
    const { app } = setup();
    assert.equal((await call(app, 'GET', `${BASE}/nope/why`)).body.code, 'SERVICE_NOT_FOUND');
  });
});
