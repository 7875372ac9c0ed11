import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Service } from '../../model/index.js';
import { addInstance, deployService, dockerFace } from '../testing/docker-fixtures.js';
import { networkIdOf, nodeIdOf, taskIdOf } from './swarm-ids.js';
import type { SwarmTask } from './task-mapping.js';
import { PROCESS_NETWORK } from './network-routes.js';
import { TASK_ACCESS } from './task-routes.js';

function setup() {
  const face = dockerFace();
  after(() => face.app.close());
  return face;
}

/**
 * `web`, 2 replicas: slot 1 failed once (web-1-old, replaced by web-1-new), slot 2 runs web-2-a;
 * `api`, 1 replica, labelled tier=back: api-1-a.
 */
function withServices(face: ReturnType<typeof setup>): { web: Service; api: Service } {
  const { store } = face;
  const web = deployService(store, { name: 'web', labels: { tier: 'front' } });
  const api = deployService(store, { name: 'api', replicas: 1, labels: { tier: 'back' } });
  addInstance(store, web, { id: 'web-1-old', slot: 1, status: { state: 'failed', exitCode: 1, message: 'exited with code 1', finishedAt: '2026-03-01T11:59:00.000Z' } });
  addInstance(store, web, { id: 'web-1-new', slot: 1, status: {} });
  addInstance(store, web, { id: 'web-2-a', slot: 2, status: {} });
  addInstance(store, api, { id: 'api-1-a', slot: 1, status: {} });
  return { web, api };
}

async function tasks(app: FastifyInstance, filters?: unknown): Promise<{ status: number; body: unknown }> {
  const url = filters === undefined ? '/v1.50/tasks' : `/v1.50/tasks?filters=${encodeURIComponent(typeof filters === 'string' ? filters : JSON.stringify(filters))}`;
  const res = await app.inject({ method: 'GET', url });
  return { status: res.statusCode, body: res.json() };
}

/** The instance a task id names (tasks' ids are taskIdOf(instance id)), among the instances these tests make. */
const INSTANCE_IDS = ['web-1-old', 'web-1-new', 'web-2-a', 'api-1-a', 'db-1-a', 'api-2-x', 'web-3-b', 'web-1-a', 'web-3-a'];
const byTaskId = new Map(INSTANCE_IDS.map((id) => [taskIdOf(id), id]));
const instanceOf = (taskId: string): string => byTaskId.get(taskId) ?? `not a task id: ${taskId}`;

/** The instances of the tasks GET /tasks answers, sorted. */
async function taskIds(app: FastifyInstance, filters?: unknown): Promise<string[]> {
  const { status, body } = await tasks(app, filters);
  assert.equal(status, 200, JSON.stringify(body));
  return (body as SwarmTask[]).map((t) => instanceOf(t.ID)).sort();
}

describe('Docker face: GET /tasks', () => {
  it('lists every instance of the grid’s services as a task, the replaced one desired shutdown with its error', async () => {
    const face = setup();
    const { web } = withServices(face);
    const { status, body } = await tasks(face.app);
    assert.equal(status, 200);
    const list = body as SwarmTask[];
    assert.deepEqual(list.map((t) => instanceOf(t.ID)).sort(), ['api-1-a', 'web-1-new', 'web-1-old', 'web-2-a']);
    for (const t of list) assert.match(t.ID, /^[0-9a-z]{25}$/, 'a Swarm-style task id');
    const old = list.find((t) => t.ID === taskIdOf('web-1-old'));
    assert.equal(old?.ServiceID, web.id);
    assert.equal(old?.Slot, 1);
    assert.equal(old?.DesiredState, 'shutdown');
    assert.equal(old?.Status.State, 'failed');
    assert.equal(old?.Status.Err, 'task: non-zero exit (1)');
    const current = list.find((t) => t.ID === taskIdOf('web-1-new'));
    assert.equal(current?.DesiredState, 'running');
    assert.equal(current?.Status.State, 'running');
    assert.equal(current?.NodeID, nodeIdOf('node-1'));
    assert.equal(current?.Status.Err, undefined);
  });

  it('answers without a version prefix too, and shows only the face’s grid and no service being removed', async () => {
    const face = setup();
    withServices(face);
    face.store.createGrid({ name: 'other' });
    const elsewhere = deployService(face.store, { grid: 'other', name: 'db', replicas: 1 });
    addInstance(face.store, elsewhere, { id: 'db-1-a', slot: 1, status: {} });
    face.store.updateServiceIntent('default', 'api', { desired: 'removing' });
    const res = await face.app.inject({ method: 'GET', url: '/tasks' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual((res.json() as SwarmTask[]).map((t) => instanceOf(t.ID)).sort(), ['web-1-new', 'web-1-old', 'web-2-a']);
  });

  it('filters by service: a name, an id or an id prefix, in the CLI’s map form and docker-py’s list form', async () => {
    const face = setup();
    const { web, api } = withServices(face);
    assert.deepEqual(await taskIds(face.app, { service: { web: true } }), ['web-1-new', 'web-1-old', 'web-2-a']);
    assert.deepEqual(await taskIds(face.app, { service: [api.id] }), ['api-1-a']);
    assert.deepEqual(await taskIds(face.app, { service: { [web.id.slice(0, 6)]: true } }), ['web-1-new', 'web-1-old', 'web-2-a']);
    assert.deepEqual(await taskIds(face.app, { service: ['web', 'api'] }), ['api-1-a', 'web-1-new', 'web-1-old', 'web-2-a']);
    const missing = await tasks(face.app, { service: ['nope'] });
    assert.deepEqual(missing, { status: 404, body: { message: 'service nope not found' } });
  });

  it('filters by desired state, as `docker service ps -f desired-state=…`', async () => {
    const face = setup();
    withServices(face);
    assert.deepEqual(await taskIds(face.app, { service: ['web'], 'desired-state': ['running'] }), ['web-1-new', 'web-2-a']);
    assert.deepEqual(await taskIds(face.app, { service: ['web'], 'desired-state': { shutdown: true } }), ['web-1-old']);
    assert.deepEqual(await taskIds(face.app, { service: ['web'], 'desired-state': ['accepted'] }), []);
    const bad = await tasks(face.app, { 'desired-state': ['sleeping'] });
    assert.deepEqual(bad, { status: 400, body: { message: "Invalid desired-state filter: 'sleeping'" } });
  });

  it('filters by node id or name, and answers an unknown node with 404', async () => {
    const face = setup();
    withServices(face);
    face.store.upsertNode({ name: 'node-2', address: '127.0.0.2', drivers: ['process'], ready: true, heartbeatAt: new Date().toISOString() });
    const api = face.store.getService('default', 'api') as Service;
    addInstance(face.store, api, { id: 'api-2-x', slot: 2, node: 'node-2', status: {} });
    assert.deepEqual(await taskIds(face.app, { node: [nodeIdOf('node-2')] }), ['api-2-x']);
    assert.deepEqual(await taskIds(face.app, { node: ['node-2'] }), ['api-2-x']);
    assert.equal((await taskIds(face.app, { node: [nodeIdOf('node-1').slice(0, 8)] })).length, 4);
    assert.deepEqual(await tasks(face.app, { node: ['node-9'] }), { status: 404, body: { message: 'node node-9 not found' } });
  });

  it('filters by id prefix, by name prefix (swarmkit’s `web.1.<id>`) and by the service’s labels', async () => {
    const face = setup();
    withServices(face);
    assert.deepEqual(await taskIds(face.app, { id: ['web-1'] }), ['web-1-new', 'web-1-old'], 'berth’s instance ids work as prefixes too');
    assert.deepEqual(await taskIds(face.app, { id: [taskIdOf('web-2-a').slice(0, 12)] }), ['web-2-a']);
    assert.deepEqual(await taskIds(face.app, { name: ['web.2'] }), ['web-2-a']);
    assert.deepEqual(await taskIds(face.app, { name: [`web.1.${taskIdOf('web-1-new').slice(0, 6)}`] }), ['web-1-new']);
    assert.deepEqual(await taskIds(face.app, { label: ['tier=back'] }), ['api-1-a']);
    assert.deepEqual(await taskIds(face.app, { label: ['tier'] }), ['api-1-a', 'web-1-new', 'web-1-old', 'web-2-a']);
    assert.deepEqual(await taskIds(face.app, { label: ['tier=none'] }), []);
    assert.deepEqual(await taskIds(face.app, { runtime: ['container'] }), ['api-1-a', 'web-1-new', 'web-1-old', 'web-2-a']);
    assert.deepEqual(await taskIds(face.app, { runtime: ['plugin'] }), []);
  });

  it('keeps only the instances that run the deployed containers with `_up-to-date` (the CLI’s progress display)', async () => {
    const face = setup();
    const { web } = withServices(face);
    const changed = web.spec.containers.map((c) => ({ ...c, command: ['sh', '-c', 'echo two'] }));
    const updated = face.store.updateServiceIntent('default', 'web', { spec: { ...web.spec, replicas: 3, containers: changed }, deploy: true });
    addInstance(face.store, updated, { id: 'web-3-b', slot: 3, status: { state: 'starting', message: 'starting containers', startedAt: undefined } });
    const ids = await taskIds(face.app, { service: { [web.id]: true }, '_up-to-date': { true: true } });
    assert.deepEqual(ids, ['web-3-b']);
    const { body } = await tasks(face.app, { service: ['web'], '_up-to-date': ['true'] });
    assert.equal((body as SwarmTask[])[0]?.Status.State, 'starting');
  });

  it('counts the running instances as up to date after a scale (docker service scale: only replicas changed), as swarmkit’s IsTaskDirty', async () => {
    const face = setup();
    const { web } = withServices(face);
    const scaled = face.store.updateServiceIntent('default', 'web', { spec: { ...web.spec, replicas: 3 }, deploy: true });
    assert.ok((scaled.deployment?.generation ?? 0) > (web.deployment?.generation ?? 0), 'a new generation');
    addInstance(face.store, scaled, { id: 'web-3-b', slot: 3, status: {} });
    assert.deepEqual(await taskIds(face.app, { service: ['web'], '_up-to-date': ['true'] }), ['web-1-new', 'web-1-old', 'web-2-a', 'web-3-b']);
  });

  it('refuses an unknown filter and a filters value that is not JSON, with moby’s words', async () => {
    const face = setup();
    assert.deepEqual(await tasks(face.app, { bogus: ['x'] }), { status: 400, body: { message: "invalid filter 'bogus'" } });
    assert.deepEqual(await tasks(face.app, '{not json'), { status: 400, body: { message: 'invalid filter' } });
    assert.deepEqual(await tasks(face.app, { service: 'web' }), { status: 400, body: { message: 'invalid filter' } });
  });

  it('attaches a process instance to the loopback range, and an image instance to its node’s bridge network', async () => {
    const face = setup();
    const web = deployService(face.store, { name: 'web', replicas: 2 });
    addInstance(face.store, web, { id: 'web-1-a', slot: 1, status: {}, address: '127.10.0.9' });
    const plain = (await tasks(face.app)).body as SwarmTask[];
    assert.deepEqual(plain[0]?.NetworksAttachments, [{ Network: { ID: networkIdOf(PROCESS_NETWORK), Spec: { Name: 'berth', Labels: {} } }, Addresses: ['127.10.0.9/16'] }]);

    face.store.upsertNode({
      name: 'node-1', address: '127.0.0.1', drivers: ['process', 'docker'], ready: true, heartbeatAt: new Date().toISOString(),
      containerNetwork: { name: 'berth-net', subnet: '10.250.0.0/24', gateway: '10.250.0.1' },
    });
    addInstance(face.store, web, { id: 'web-2-a', slot: 2, status: {}, address: '10.250.0.5' });
    addInstance(face.store, web, { id: 'web-3-a', slot: 3, status: {}, address: '192.168.9.9' });
    const { body } = await tasks(face.app);
    const byId = new Map((body as SwarmTask[]).map((t) => [instanceOf(t.ID), t]));
    const onBridge = { ID: networkIdOf('berth-net'), Spec: { Name: 'berth-net', Labels: {} } };
    assert.deepEqual(byId.get('web-2-a')?.NetworksAttachments, [{ Network: onBridge, Addresses: ['10.250.0.5/24'] }]);
    assert.deepEqual(byId.get('web-1-a')?.NetworksAttachments, [{ Network: onBridge, Addresses: ['127.10.0.9/16'] }], 'the node’s one network, with the range the address is in');
    assert.equal(byId.get('web-3-a')?.NetworksAttachments, undefined, 'an address in no known range: no attachment');
  });
});

describe('Docker face: tasks agree with /nodes and /networks', () => {
  it('gives a task the NodeID /nodes shows (the CLI’s progress display skips other ids) and the network /networks shows', async () => {
    const face = setup();
    withServices(face);
    const list = (await tasks(face.app)).body as SwarmTask[];
    const nodes = (await face.app.inject({ method: 'GET', url: '/v1.50/nodes' })).json() as { ID: string }[];
    const networks = (await face.app.inject({ method: 'GET', url: '/v1.50/networks' })).json() as { Id: string; Name: string }[];
    assert.deepEqual(new Set(list.map((t) => t.NodeID)), new Set(nodes.map((n) => n.ID)));
    const attached = new Set(list.flatMap((t) => (t.NetworksAttachments ?? []).map((a) => `${a.Network.ID} ${a.Network.Spec.Name}`)));
    assert.deepEqual(attached, new Set(networks.map((n) => `${n.Id} ${n.Name}`)));
  });
});

describe('Docker face: GET /tasks/{id}', () => {
  it('finds a task by full id, by unique id prefix and by its full Swarm name', async () => {
    const face = setup();
    withServices(face);
    const id = taskIdOf('web-2-a');
    for (const ref of [id, id.slice(0, 12), id.slice(0, 4), `web.2.${id}`, 'web-2-a', 'web-2']) {
      const res = await face.app.inject({ method: 'GET', url: `/v1.41/tasks/${ref}` });
      assert.equal(res.statusCode, 200, ref);
      assert.equal((res.json() as SwarmTask).ID, id, ref);
    }
  });

  it('gives the replicas of a long-named service task ids whose 12 shown characters differ (the CLI cuts ids to 12)', async () => {
    const face = setup();
    const long = deployService(face.store, { name: 'a-rather-long-service-name', replicas: 3 });
    for (const slot of [1, 2, 3]) addInstance(face.store, long, { id: `a-rather-long-service-name-${slot}-x7k2p`, slot, status: {} });
    const list = (await tasks(face.app)).body as SwarmTask[];
    const shown = list.map((t) => t.ID.slice(0, 12));
    assert.equal(new Set(shown).size, 3, shown.join(' '));
    for (const [i, cut] of shown.entries()) {
      const res = await face.app.inject({ method: 'GET', url: `/v1.50/tasks/${cut}` });
      assert.equal(res.statusCode, 200, cut);
      assert.equal((res.json() as SwarmTask).ID, list[i]?.ID);
    }
  });

  it('answers an unknown task with 404 and an ambiguous prefix with 400, in Docker’s words', async () => {
    const face = setup();
    withServices(face);
    const missing = await face.app.inject({ method: 'GET', url: '/v1.50/tasks/nope' });
    assert.equal(missing.statusCode, 404);
    assert.deepEqual(missing.json(), { message: 'task nope not found' });
    const ambiguous = await face.app.inject({ method: 'GET', url: '/v1.50/tasks/web-1' });
    assert.equal(ambiguous.statusCode, 400);
    assert.deepEqual(ambiguous.json(), { message: 'task web-1 is ambiguous (2 matches found)' });
  });

  it('has an access rule for every task route', () => {
    assert.deepEqual(Object.keys(TASK_ACCESS).sort(), ['GET /tasks', 'GET /tasks/:id']);
    for (const rule of Object.values(TASK_ACCESS)) assert.deepEqual(rule, { kind: 'permission', permission: 'read', scope: 'grid' });
  });
});

