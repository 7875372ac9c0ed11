import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Service, ServiceSpecInput } from '../model/index.js';
import { openSqliteStore } from '../store/index.js';
import { FakeTelemetry, createApi } from './index.js';
import { newInstance, adminAuthenticator } from './testing/fixtures.js';
import { InstanceListSchema, ServiceListSchema, ServiceWithExplanationSchema } from './response-schemas.js';

const BASE = '/v1/grids/default/services';

function setup() {
  const store = openSqliteStore(':memory:');
  const telemetry = new FakeTelemetry();
  const app = createApi({ authenticator: adminAuthenticator, store, telemetry, node: 'node-1', version: '0.0.0-test' });
  after(() => app.close());
  return { store, telemetry, app };
}

function spec(overrides: Partial<ServiceSpecInput> = {}): ServiceSpecInput {
  return { name: 'web', containers: [{ command: ['node', 'server.js'], ports: [{ containerPort: 8080, name: 'http' }] }], ...overrides };
}

const instance = newInstance;

async function call(app: FastifyInstance, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) {
  const res = await app.inject({ method, url, ...(payload === undefined ? {} : { payload: payload as object }) });
  return { status: res.statusCode, body: res.body === '' ? undefined : (res.json() as Record<string, unknown>) };
}

async function create(app: FastifyInstance, overrides: Partial<ServiceSpecInput> = {}, deploy = false): Promise<Service> {
  const res = await call(app, 'POST', BASE, { spec: spec(overrides), deploy });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body as unknown as Service;
}

describe('API: services', () => {
  it('creates a service that shows its spec, no instances, status initialized and no deployment', async () => {
    const { app } = setup();
    const created = await create(app);
    const shown = await call(app, 'GET', `${BASE}/web`);
    assert.equal(shown.status, 200);
    const svc = ServiceWithExplanationSchema.parse(shown.body) as unknown as Service;
    const { explanation, ...rest } = shown.body as Record<string, unknown> & { explanation: { verdict: string } };
    assert.deepEqual(rest, created);
    assert.equal(explanation.verdict, 'not_deployed', 'GET adds the explanation');
    assert.equal(svc.spec.containers[0]?.name, 'web', 'defaults are filled in');
    assert.equal(svc.status.phase, 'initialized');
    assert.equal(svc.deployment, null);
    const instances = (await call(app, 'GET', `${BASE}/web/instances`)).body;
    assert.deepEqual(instances?.items, []);
    assert.ok(Number.isInteger(instances?.revision) && (instances?.revision as number) >= 1, 'a list carries the store revision it was read at');
  });

  it('answers 409 SERVICE_EXISTS for a taken name', async () => {
    const { app } = setup();
    await create(app);
    const res = await call(app, 'POST', BASE, { spec: spec() });
    assert.equal(res.status, 409);
    assert.equal(res.body?.code, 'SERVICE_EXISTS');
  });

  it('answers a stale version with 409 carrying the current version, and changes nothing', async () => {
    const { app, store } = setup();
    const v1 = await create(app);
    const v2 = (await call(app, 'PUT', `${BASE}/web`, { spec: spec({ replicas: 2 }), version: v1.version })).body as unknown as Service;
    assert.equal(v2.generation, 2);
    const res = await call(app, 'PUT', `${BASE}/web`, { spec: spec({ replicas: 7 }), version: v1.version });
    assert.equal(res.status, 409);
    assert.equal(res.body?.code, 'VERSION_CONFLICT');
    assert.deepEqual(res.body?.details, { expectedVersion: v1.version, currentVersion: v2.version });
    assert.deepEqual(store.getService('default', 'web'), v2);
    // Actions check the version too.
    assert.equal((await call(app, 'POST', `${BASE}/web/scale`, { replicas: 3, version: v1.version })).status, 409);
    assert.equal((await call(app, 'DELETE', `${BASE}/web?version=${v1.version}`)).status, 409);
    assert.equal(store.getService('default', 'web')?.spec.replicas, 2);
  });

  it('refuses a PUT whose spec.name differs from the path, naming spec.name', async () => {
    const { app } = setup();
    await create(app);
    const res = await call(app, 'PUT', `${BASE}/web`, { spec: spec({ name: 'api' }) });
    assert.equal(res.status, 400);
    assert.equal(res.body?.code, 'SPEC_INVALID');
    assert.deepEqual((res.body?.details as { causes: { field: string }[] }).causes.map((c) => c.field), ['spec.name']);
  });

  it('updates without deploying, and records what changed', async () => {
    const { app, store } = setup();
    await create(app, {}, true);
    const res = await call(app, 'PUT', `${BASE}/web`, { spec: spec({ replicas: 4, labels: { tier: 'front' } }) });
    const svc = res.body as unknown as Service;
    assert.equal(svc.generation, 2);
    assert.equal(svc.deployment?.generation, 1);
    const events = store.listEvents({ grid: 'default', service: 'web' });
    assert.equal(events.at(-1)?.type, 'service.updated');
    assert.equal(events.at(-1)?.message, 'spec updated to generation 2: labels, replicas changed');
    const deployed = (await call(app, 'PUT', `${BASE}/web`, { spec: spec({ replicas: 4, labels: { tier: 'front' } }), deploy: true })).body as unknown as Service;
    assert.equal(deployed.generation, 2, 'the same spec again is not a new generation');
    assert.equal(deployed.deployment?.generation, 2);
  });

  it('scales a replicated service: sets replicas, deploys, records "scaled to N replicas (was M)"', async () => {
    const { app, store } = setup();
    await create(app, { replicas: 3 }, true);
    const res = await call(app, 'POST', `${BASE}/web/scale`, { replicas: 5 });
    assert.equal(res.status, 200);
    const svc = res.body as unknown as Service;
    assert.equal(svc.spec.replicas, 5);
    assert.equal(svc.deployment?.spec.replicas, 5);
    assert.equal(svc.deployment?.generation, 2);
    assert.equal(store.listEvents({ grid: 'default', service: 'web', tail: 1 })[0]?.message, 'scaled to 5 replicas (was 3)');
  });

  it('refuses to scale a global service, and a bad replica count, naming replicas', async () => {
    const { app } = setup();
    await create(app, { mode: 'global' });
    const global = await call(app, 'POST', `${BASE}/web/scale`, { replicas: 2 });
    assert.equal(global.status, 400);
    assert.equal(global.body?.code, 'REQUEST_INVALID');
    assert.match(String(global.body?.message), /global mode/);
    for (const replicas of [-1, 1.5, '3', null]) {
      const bad = await call(app, 'POST', `${BASE}/web/scale`, { replicas });
      assert.equal(bad.status, 400, String(replicas));
      assert.equal(bad.body?.message, 'replicas: must be an integer >= 0');
    }
    const missing = await call(app, 'POST', `${BASE}/web/scale`, {});
    assert.equal(missing.status, 400);
    assert.match(String(missing.body?.message), /^replicas: /);
  });

  it('deploys, force-deploys and restarts by bumping the restart generation', async () => {
    const { app } = setup();
    await create(app);
    const restartFirst = await call(app, 'POST', `${BASE}/web/restart`);
    assert.equal(restartFirst.status, 409);
    assert.equal(restartFirst.body?.code, 'SERVICE_NOT_DEPLOYED');
    const deployed = (await call(app, 'POST', `${BASE}/web/deploy`, {})).body as unknown as Service;
    assert.equal(deployed.deployment?.generation, 1);
    assert.equal(deployed.deployment?.restartGeneration, 0);
    const forced = (await call(app, 'POST', `${BASE}/web/deploy`, { force: true })).body as unknown as Service;
    assert.equal(forced.deployment?.restartGeneration, 1);
    const restarted = (await call(app, 'POST', `${BASE}/web/restart`)).body as unknown as Service;
    assert.equal(restarted.deployment?.restartGeneration, 2);
  });

  it('stops and starts by desired state, recording each change once', async () => {
    const { app, store } = setup();
    await create(app, {}, true);
    assert.equal(((await call(app, 'POST', `${BASE}/web/stop`)).body as unknown as Service).desired, 'stopped');
    const again = await call(app, 'POST', `${BASE}/web/stop`, {});
    assert.equal(again.status, 200);
    assert.equal(((await call(app, 'POST', `${BASE}/web/start`)).body as unknown as Service).desired, 'running');
    const types = store.listEvents({ grid: 'default', service: 'web' }).map((e) => e.type);
    assert.deepEqual(types, ['service.created', 'service.deploy', 'service.stopped', 'service.started']);
  });

  it('removes with 202 and desired removing; further changes are 409; GET is 404 once the record goes', async () => {
    const { app, store } = setup();
    await create(app, {}, true);
    store.applyControllerWrites({ createInstances: [instance()] });
    const res = await call(app, 'DELETE', `${BASE}/web`);
    assert.equal(res.status, 202);
    assert.equal((res.body as unknown as Service).desired, 'removing');
    assert.equal((await call(app, 'DELETE', `${BASE}/web`)).status, 202, 'removing twice is fine');
    const scale = await call(app, 'POST', `${BASE}/web/scale`, { replicas: 2 });
    assert.equal(scale.status, 409);
    assert.equal(scale.body?.code, 'SERVICE_REMOVING');
    // What the controllers do at the end of a removal:
    const ids = store.listInstances({ service: 'web' }).map((i) => i.id);
    store.applyControllerWrites({ deleteInstances: ids, deleteServices: [{ grid: 'default', name: 'web' }] });
    const gone = await call(app, 'GET', `${BASE}/web`);
    assert.equal(gone.status, 404);
    assert.equal(gone.body?.code, 'SERVICE_NOT_FOUND');
  });

  it('lists services by name, filtered by labels', async () => {
    const { app } = setup();
    await create(app, { name: 'web', labels: { tier: 'front' } });
    await create(app, { name: 'api', labels: { tier: 'back' } });
    await create(app, { name: 'db' });
    const all = await call(app, 'GET', BASE);
    assert.deepEqual((ServiceListSchema.parse(all.body).items as { name: string }[]).map((s) => s.name), ['api', 'db', 'web']);
    const front = await call(app, 'GET', `${BASE}?label=tier=front`);
    assert.deepEqual((front.body?.items as Service[]).map((s) => s.name), ['web']);
    const both = await call(app, 'GET', `${BASE}?label=tier=front&label=tier`);
    assert.deepEqual((both.body?.items as Service[]).map((s) => s.name), ['web']);
    const unknown = await call(app, 'GET', '/v1/grids/other/services');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body?.code, 'GRID_NOT_FOUND');
    assert.equal((await call(app, 'POST', '/v1/grids', { name: 'other' })).status, 201);
    const other = (await call(app, 'GET', '/v1/grids/other/services')).body;
    assert.deepEqual(other?.items, []);
    const before = other?.revision as number;
    assert.equal((await call(app, 'POST', '/v1/grids/other/services', { spec: { name: 'one', containers: [{ command: ['sleep', '1'] }] } })).status, 201);
    assert.ok(((await call(app, 'GET', '/v1/grids/other/services')).body?.revision as number) > before, 'the revision moves with a write');
  });

  it('lists instances by slot, newest first within a slot, and only active ones on request', async () => {
    const { app, store } = setup();
    await create(app, { replicas: 2 }, true);
    store.applyControllerWrites({ createInstances: [instance({ id: 'web-2-a', slot: 2 }), instance({ id: 'web-1-a', slot: 1 })] });
    store.applyControllerWrites({ createInstances: [instance({ id: 'web-1-b', slot: 1 })] });
    store.setInstanceStatuses([{ id: 'web-1-a', status: { state: 'failed', timestamp: '2026-01-01T00:00:00Z', message: 'exited 1' } }]);
    const all = await call(app, 'GET', `${BASE}/web/instances`);
    assert.deepEqual((InstanceListSchema.parse(all.body).items as { id: string }[]).map((i) => i.id), ['web-1-b', 'web-1-a', 'web-2-a']);
    const active = await call(app, 'GET', `${BASE}/web/instances?active=true`);
    assert.deepEqual((active.body?.items as { id: string }[]).map((i) => i.id), ['web-1-b', 'web-2-a']);
    assert.equal((await call(app, 'GET', `${BASE}/web/instances?active=maybe`)).body?.message, 'active: must be true or false');
  });

  it('returns stats of running instances only', async () => {
    const { app, store, telemetry } = setup();
    await create(app, { replicas: 2 }, true);
    store.applyControllerWrites({ createInstances: [instance({ id: 'web-1-a' }), instance({ id: 'web-2-a', slot: 2 })] });
    store.setInstanceStatuses([{ id: 'web-1-a', status: { state: 'running', timestamp: '2026-01-01T00:00:00Z', message: 'started' } }]);
    const res = await call(app, 'GET', `${BASE}/web/stats`);
    assert.equal(res.status, 200);
    assert.deepEqual((res.body?.items as { instance: string }[]).map((s) => s.instance), ['web-1-a']);
    assert.deepEqual(telemetry.statsCalls.map((c) => c.map((i) => i.id)), [['web-1-a']]);
  });
});

describe('API: errors', () => {
  it('answers 404 SERVICE_NOT_FOUND for unknown services on every service route', async () => {
    const { app } = setup();
    for (const [method, path] of [['GET', ''], ['PUT', ''], ['DELETE', ''], ['POST', '/deploy'], ['POST', '/scale'], ['POST', '/stop'], ['GET', '/instances'], ['GET', '/logs'], ['GET', '/stats'], ['GET', '/events']] as const) {
      const body = method === 'PUT' ? { spec: spec({ name: 'nope' }) } : method === 'POST' && path === '/scale' ? { replicas: 1 } : undefined;
      const res = await call(app, method, `${BASE}/nope${path}`, body);
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.equal(res.body?.code, 'SERVICE_NOT_FOUND', `${method} ${path}`);
    }
  });

  it('answers unknown routes with 404 ROUTE_NOT_FOUND in the error shape', async () => {
    const { app } = setup();
    const res = await call(app, 'GET', '/v1/nothing-here');
    assert.equal(res.status, 404);
    assert.equal(res.body?.code, 'ROUTE_NOT_FOUND');
    assert.equal(typeof res.body?.message, 'string');
  });

  it('answers malformed JSON and unknown fields with REQUEST_INVALID, a wrong content type with 415, a huge body with 413, never 500', async () => {
    const { app } = setup();
    const badJson = await app.inject({ method: 'POST', url: BASE, payload: '{"spec": ', headers: { 'content-type': 'application/json' } });
    assert.equal(badJson.statusCode, 400);
    assert.equal(badJson.json().code, 'REQUEST_INVALID');
    const xml = await app.inject({ method: 'POST', url: BASE, payload: '<spec/>', headers: { 'content-type': 'application/xml' } });
    assert.equal(xml.statusCode, 415);
    assert.equal(xml.json().code, 'UNSUPPORTED_MEDIA_TYPE');
    assert.match(xml.json().message, /application\/json/);
    const unknown = await call(app, 'POST', BASE, { spec: spec(), deplyo: true });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body?.message, 'deplyo: unknown field; expected one of: spec, deploy');
    const notObject = await call(app, 'POST', BASE, [1, 2]);
    assert.equal(notObject.body?.message, 'body: must be a JSON object');
    const huge = await app.inject({ method: 'POST', url: BASE, payload: JSON.stringify({ spec: spec(), pad: 'x'.repeat(2 * 1024 * 1024) }), headers: { 'content-type': 'application/json' } });
    assert.equal(huge.statusCode, 413);
    assert.equal(huge.json().code, 'BODY_TOO_LARGE');
    assert.match(huge.json().message, /1048576 bytes/);
  });

  it('accepts an action with an empty JSON body', async () => {
    const { app } = setup();
    await create(app, {}, true);
    const res = await app.inject({ method: 'POST', url: `${BASE}/web/stop`, payload: '', headers: { 'content-type': 'application/json' } });
    assert.equal(res.statusCode, 200);
  });

  it('refuses a grid that is not a DNS-1035 label', async () => {
    const { app } = setup();
    const res = await call(app, 'GET', '/v1/grids/Not_A_Grid/services');
    assert.equal(res.status, 400);
    assert.deepEqual((res.body?.details as { causes: { field: string }[] }).causes.map((c) => c.field), ['grid']);
  });

  it('turns an unexpected failure into 500 INTERNAL with the error shape', async () => {
    const { app, telemetry, store } = setup();
    await create(app, {}, true);
    store.applyControllerWrites({ createInstances: [instance({ id: 'web-1-a' })] });
    store.setInstanceStatuses([{ id: 'web-1-a', status: { state: 'running', timestamp: '2026-01-01T00:00:00Z', message: 'started' } }]);
    telemetry.statsError = new Error('proc went away');
    const res = await call(app, 'GET', `${BASE}/web/stats`);
    assert.equal(res.status, 500);
    assert.equal(res.body?.code, 'INTERNAL');
  });
});

describe('API: version and nodes', () => {
  it('reports version, api version and node', async () => {
    const { app, store } = setup();
    assert.deepEqual((await call(app, 'GET', '/v1/version')).body, { version: '0.0.0-test', apiVersion: 'v1', node: 'node-1' });
    store.upsertNode({ name: 'node-1', address: '127.0.0.1', drivers: ['process'], ready: true, heartbeatAt: '2026-01-01T00:00:00.000Z' });
    assert.equal(((await call(app, 'GET', '/v1/nodes')).body?.items as unknown[]).length, 1);
  });
});

describe('API: images need a node with the Docker driver', () => {
  const image = { containers: [{ image: 'nginx:latest', ports: [{ containerPort: 80 }] }] };

  it('refuses a deploy of an image service at once with 422 DRIVER_UNAVAILABLE, naming each node\'s reason, and stores nothing', async () => {
    const { app, store } = setup();
    store.upsertNode({ name: 'node-1', address: '127.0.0.1', drivers: ['process'], unavailableDrivers: { docker: 'no Docker engine answers at unix:///var/run/docker.sock' }, ready: true, heartbeatAt: new Date().toISOString() });
    const res = await call(app, 'POST', BASE, { spec: spec(image), deploy: true });
    assert.equal(res.status, 422);
    assert.equal(res.body?.code, 'DRIVER_UNAVAILABLE');
    assert.match(String(res.body?.message), /node node-1: no Docker engine answers at unix:\/\/\/var\/run\/docker\.sock/);
    assert.equal((await call(app, 'GET', `${BASE}/web`)).status, 404, 'nothing was stored');
    // Kontena's create does not deploy: creating is fine, deploying is what is refused.
    await create(app, image);
    const deploy = await call(app, 'POST', `${BASE}/web/deploy`, {});
    assert.equal(deploy.status, 422);
    assert.equal(deploy.body?.code, 'DRIVER_UNAVAILABLE');
    assert.equal(store.listInstances().length, 0);
  });

  it('deploys an image service when a node has the Docker driver, and a process service whatever the nodes have', async () => {
    const { app, store } = setup();
    store.upsertNode({ name: 'node-1', address: '127.0.0.1', drivers: ['process'], unavailableDrivers: { docker: 'turned off (BERTH_DOCKER=off)' }, ready: true, heartbeatAt: new Date().toISOString() });
    await create(app, {}, true);
    store.upsertNode({ name: 'node-1', address: '127.0.0.1', drivers: ['process', 'docker'], ready: true, heartbeatAt: new Date().toISOString() });
    await create(app, { name: 'img', ...image }, true);
  });
});

describe('API: a dry run of an image deploy on a node without Docker', () => {
  it('answers what the store would hold (no driver check, as Kubernetes\' dry run does not schedule) and stores nothing', async () => {
    const { app, store } = setup();
    store.upsertNode({ name: 'node-1', address: '127.0.0.1', drivers: ['process'], unavailableDrivers: { docker: 'turned off (BERTH_DOCKER=off)' }, ready: true, heartbeatAt: new Date().toISOString() });
    const res = await call(app, 'POST', `${BASE}?dryRun=All`, { spec: spec({ containers: [{ image: 'nginx:latest' }] }), deploy: true });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal((await call(app, 'GET', `${BASE}/web`)).status, 404);
  });
});
