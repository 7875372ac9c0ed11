import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Service } from '../model/index.js';
import { openSqliteStore } from '../store/index.js';
import { FakeTelemetry, createApi } from './index.js';
import { adminAuthenticator } from './testing/fixtures.js';

/*
 * ?dryRun=All on create, update and deploy (Kubernetes' server-side dry run): the same validation,
 * limits and allocations as the real request, the answer is what would be stored, and nothing is —
 * no revision, no watch event, no service event, no history entry.
 */

const BASE = '/v1/grids/default/services';
const spec = (extra: Record<string, unknown> = {}) => ({ name: 'web', containers: [{ command: ['sleep', '1000'] }], ...extra });

function setup(options: { maxReplicas?: number } = {}) {
  const store = openSqliteStore(':memory:');
  store.upsertNode({ name: 'node-1', address: '127.0.0.1', drivers: ['process'], ready: true, heartbeatAt: new Date().toISOString() });
  const app = createApi({
    authenticator: adminAuthenticator,
    store, telemetry: new FakeTelemetry(), node: 'node-1', version: 'test', instanceRange: '127.12.0.0/28',
    ...(options.maxReplicas ? { limits: { maxReplicas: options.maxReplicas } } : {}),
  });
  after(() => app.close());
  const watched: unknown[] = [];
  const watch = store.watch(store.revision(), (e) => watched.push(e));
  after(() => watch.dispose());
  return { store, app, watched };
}

describe('API: dry runs', () => {
  it('answers a dry-run create with the service it would store (VIP allocated, deployed) and stores nothing', async () => {
    const { store, app, watched } = setup();
    const revision = store.revision();
    const res = await app.inject({ method: 'POST', url: `${BASE}?dryRun=All`, payload: { spec: spec({ replicas: 3 }), deploy: true } });
    assert.equal(res.statusCode, 201, res.body);
    const would = res.json() as Service;
    assert.equal(would.name, 'web');
    assert.equal(would.spec.replicas, 3);
    assert.equal(would.spec.clusterIP, '127.96.0.1', 'the allocation it would make');
    assert.equal(would.deployment?.generation, 1);
    assert.equal(store.revision(), revision);
    assert.deepEqual(store.listServices(), []);
    assert.deepEqual(store.listEvents({ grid: 'default', service: 'web' }), []);
    assert.deepEqual(store.listSpecHistory('default', 'web'), []);
    assert.deepEqual(watched, [], 'no watcher saw anything');
    // The real create still gets the same address: the dry run reserved nothing.
    const real = await app.inject({ method: 'POST', url: BASE, payload: { spec: spec({ replicas: 3 }) } });
    assert.equal((real.json() as Service).spec.clusterIP, '127.96.0.1');
  });

  it('accepts dryRun=true too, and dryRun=false is a real write', async () => {
    const { store, app } = setup();
    assert.equal((await app.inject({ method: 'POST', url: `${BASE}?dryRun=true`, payload: { spec: spec() } })).statusCode, 201);
    assert.equal(store.listServices().length, 0);
    assert.equal((await app.inject({ method: 'POST', url: `${BASE}?dryRun=false`, payload: { spec: spec() } })).statusCode, 201);
    assert.equal(store.listServices().length, 1);
  });

  it('answers a dry-run update with the next generation and a dry-run deploy with the deployment, storing neither', async () => {
    const { store, app, watched } = setup();
    const created = (await app.inject({ method: 'POST', url: BASE, payload: { spec: spec() } })).json() as Service;
    const before = store.getService('default', 'web');
    const revision = store.revision();
    watched.length = 0;
    const update = await app.inject({ method: 'PUT', url: `${BASE}/web?dryRun=All`, payload: { spec: spec({ replicas: 4 }), version: created.version, deploy: true } });
    assert.equal(update.statusCode, 200, update.body);
    const updated = update.json() as Service;
    assert.equal(updated.generation, 2);
    assert.equal(updated.spec.replicas, 4);
    assert.equal(updated.deployment?.generation, 2);
    const deploy = await app.inject({ method: 'POST', url: `${BASE}/web/deploy?dryRun=All`, payload: {} });
    assert.equal(deploy.statusCode, 200, deploy.body);
    assert.equal((deploy.json() as Service).deployment?.generation, 1);
    assert.equal(store.revision(), revision);
    assert.deepEqual(store.getService('default', 'web'), before);
    assert.equal(store.listSpecHistory('default', 'web').length, 1);
    assert.deepEqual(watched, []);
  });

  it('gives a dry run the same errors as the real request: invalid spec, stale version, taken name, no addresses left', async () => {
    const { store, app } = setup();
    await app.inject({ method: 'POST', url: BASE, payload: { spec: spec({ replicas: 10 }), deploy: true } });
    const revision = store.revision();
    const invalid = await app.inject({ method: 'POST', url: `${BASE}?dryRun=All`, payload: { spec: spec({ name: 'api', replicas: 5000 }) } });
    assert.equal(invalid.statusCode, 400);
    assert.equal(invalid.json().details.causes[0].field, 'spec.replicas');
    const stale = await app.inject({ method: 'PUT', url: `${BASE}/web?dryRun=All`, payload: { spec: spec(), version: 1 } });
    assert.equal(stale.statusCode, 409);
    assert.equal(stale.json().code, 'VERSION_CONFLICT');
    const taken = await app.inject({ method: 'POST', url: `${BASE}?dryRun=All`, payload: { spec: spec() } });
    assert.equal(taken.json().code, 'SERVICE_EXISTS');
    const full = await app.inject({ method: 'POST', url: `${BASE}?dryRun=All`, payload: { spec: spec({ name: 'api', replicas: 5 }), deploy: true } });
    assert.equal(full.statusCode, 422);
    assert.equal(full.json().code, 'ADDRESS_EXHAUSTED');
    assert.equal(full.json().details.left, 4, 'how many addresses are left');
    assert.equal(store.revision(), revision);
  });
});

describe('API: the server\'s replica limit', () => {
  it('takes the limit from createApi({limits}) for create, update and scale', async () => {
    const { app } = setup({ maxReplicas: 5 });
    const over = await app.inject({ method: 'POST', url: BASE, payload: { spec: spec({ replicas: 6 }) } });
    assert.equal(over.statusCode, 400);
    assert.match(over.json().message, /spec\.replicas: Invalid value: 6: must be an integer from 0 to 5/);
    assert.equal((await app.inject({ method: 'POST', url: BASE, payload: { spec: spec({ replicas: 5 }) } })).statusCode, 201);
    const scale = await app.inject({ method: 'POST', url: `${BASE}/web/scale`, payload: { replicas: 6 } });
    assert.equal(scale.statusCode, 400);
    assert.match(scale.json().message, /^replicas: must be no more than 5/);
  });

  it('refuses to deploy a stored spec past a limit lowered since, naming the field', async () => {
    const store = openSqliteStore(':memory:');
    const roomy = createApi({ authenticator: adminAuthenticator, store, telemetry: new FakeTelemetry(), node: 'node-1', version: 'test' });
    after(() => roomy.close());
    assert.equal((await roomy.inject({ method: 'POST', url: BASE, payload: { spec: spec({ replicas: 8 }) } })).statusCode, 201);
    const strict = createApi({ authenticator: adminAuthenticator, store, telemetry: new FakeTelemetry(), node: 'node-1', version: 'test', limits: { maxReplicas: 4 } });
    after(() => strict.close());
    const revision = store.revision();
    const deploy = await strict.inject({ method: 'POST', url: `${BASE}/web/deploy`, payload: {} });
    assert.equal(deploy.statusCode, 400);
    assert.equal(deploy.json().details.causes[0].field, 'spec.replicas');
    assert.equal(store.revision(), revision);
    assert.equal((await strict.inject({ method: 'POST', url: `${BASE}/web/scale`, payload: { replicas: 4 } })).statusCode, 200, 'scaling within the limit fixes it');
  });

  it('counts a service past the limits by the instances it runs, not by the replicas it asks for', async () => {
    const store = openSqliteStore(':memory:');
    store.upsertNode({ name: 'node-1', address: '127.0.0.1', drivers: ['process'], ready: true, heartbeatAt: new Date().toISOString() });
    const roomy = createApi({ authenticator: adminAuthenticator, store, telemetry: new FakeTelemetry(), node: 'node-1', version: 'test', limits: { maxReplicas: 100 } });
    after(() => roomy.close());
    assert.equal((await roomy.inject({ method: 'POST', url: BASE, payload: { spec: spec({ replicas: 50 }), deploy: true } })).statusCode, 201);
    const strict = createApi({ authenticator: adminAuthenticator, store, telemetry: new FakeTelemetry(), node: 'node-1', version: 'test', limits: { maxReplicas: 4 }, instanceRange: '127.12.0.0/28' });
    after(() => strict.close());
    const res = await strict.inject({ method: 'POST', url: BASE, payload: { spec: spec({ name: 'api', replicas: 3 }), deploy: true } });
    assert.equal(res.statusCode, 201, res.body);
  });

  it('refuses a rollback to a generation past a limit lowered since, and a start the instance range cannot hold', async () => {
    const store = openSqliteStore(':memory:');
    store.upsertNode({ name: 'node-1', address: '127.0.0.1', drivers: ['process'], ready: true, heartbeatAt: new Date().toISOString() });
    const roomy = createApi({ authenticator: adminAuthenticator, store, telemetry: new FakeTelemetry(), node: 'node-1', version: 'test', instanceRange: '127.12.0.0/28' });
    after(() => roomy.close());
    assert.equal((await roomy.inject({ method: 'POST', url: BASE, payload: { spec: spec({ replicas: 8 }), deploy: true } })).statusCode, 201);
    assert.equal((await roomy.inject({ method: 'PUT', url: `${BASE}/web`, payload: { spec: spec({ replicas: 2 }), deploy: true } })).statusCode, 200);
    const strict = createApi({ authenticator: adminAuthenticator, store, telemetry: new FakeTelemetry(), node: 'node-1', version: 'test', instanceRange: '127.12.0.0/28', limits: { maxReplicas: 4 } });
    after(() => strict.close());
    const revision = store.revision();
    const rollback = await strict.inject({ method: 'POST', url: `${BASE}/web/rollback`, payload: {} });
    assert.equal(rollback.statusCode, 400, rollback.body);
    assert.equal(rollback.json().details.causes[0].field, 'spec.replicas');
    assert.match(rollback.json().message, /in the spec of generation 1/);
    assert.equal(store.revision(), revision);

    // web stopped holds no address (no instance runs); api then takes 13 of the 14; web's 2 do not fit in the 1 left.
    assert.equal((await roomy.inject({ method: 'POST', url: `${BASE}/web/stop`, payload: {} })).statusCode, 200);
    assert.equal((await roomy.inject({ method: 'POST', url: BASE, payload: { spec: spec({ name: 'api', replicas: 13 }), deploy: true } })).statusCode, 201);
    const start = await roomy.inject({ method: 'POST', url: `${BASE}/web/start`, payload: {} });
    assert.equal(start.statusCode, 422, start.body);
    assert.equal(start.json().code, 'ADDRESS_EXHAUSTED');
    assert.equal(start.json().details.left, 1);
  });
});
