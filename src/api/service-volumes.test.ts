import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { SlotVolume } from '../model/index.js';
import { openSqliteStore } from '../store/index.js';
import { FakeTelemetry, createApi } from './index.js';
import { adminAuthenticator } from './testing/fixtures.js';
import { ServiceSchema, SlotVolumeListSchema } from './response-schemas.js';

const BASE = '/v1/grids/default/services';

function setup(volumes: SlotVolume[] = []) {
  const store = openSqliteStore(':memory:');
  const asked: (string | undefined)[][] = [];
  const app = createApi({ authenticator: adminAuthenticator,
    store, telemetry: new FakeTelemetry(), node: 'node-1', version: '0.0.0-test',
    volumes: {
      list: (grid, service) => {
        asked.push([grid, service]);
        return volumes.filter((v) => v.grid === grid && (service === undefined || v.service === service));
      },
    },
  });
  after(() => app.close());
  return { store, app, asked };
}

async function createDb(app: ReturnType<typeof setup>['app']): Promise<void> {
  const res = await app.inject({ method: 'POST', url: BASE, payload: { spec: { name: 'db', stateful: true, replicas: 2, containers: [{ command: ['sleep', '60'] }] } } });
  assert.equal(res.statusCode, 201, res.body);
}

describe('API: removing a stateful service and its data directories', () => {
  it('keeps the data by default: DELETE without volumes sets no deleteVolumes', async () => {
    const { app } = setup();
    await createDb(app);
    const res = await app.inject({ method: 'DELETE', url: `${BASE}/db` });
    assert.equal(res.statusCode, 202, res.body);
    const body = ServiceSchema.parse(res.json());
    assert.equal(body.deleteVolumes, undefined);
  });

  it('DELETE ?volumes=true records deleteVolumes and says so in the removal event', async () => {
    const { app, store } = setup();
    await createDb(app);
    const res = await app.inject({ method: 'DELETE', url: `${BASE}/db?volumes=true` });
    assert.equal(res.statusCode, 202, res.body);
    assert.equal(ServiceSchema.parse(res.json()).deleteVolumes, true);
    assert.equal(store.getService('default', 'db')?.deleteVolumes, true);
    const removing = store.listEvents({ grid: 'default', service: 'db' }).find((e) => e.type === 'service.removing');
    assert.match(removing?.message ?? '', /and its data directories with it/);
  });

  it('a second DELETE with volumes=true while removing still records it', async () => {
    const { app, store } = setup();
    await createDb(app);
    assert.equal((await app.inject({ method: 'DELETE', url: `${BASE}/db` })).statusCode, 202);
    assert.equal((await app.inject({ method: 'DELETE', url: `${BASE}/db?volumes=true` })).statusCode, 202);
    assert.equal(store.getService('default', 'db')?.deleteVolumes, true);
  });

  it('refuses a volumes value that is not a flag, naming it, and stores nothing', async () => {
    const { app, store } = setup();
    await createDb(app);
    const res = await app.inject({ method: 'DELETE', url: `${BASE}/db?volumes=maybe` });
    assert.equal(res.statusCode, 400, res.body);
    assert.match(res.body, /volumes/);
    assert.equal(store.getService('default', 'db')?.desired, 'running');
  });

  it('GET /v1/grids/:grid/volumes lists the nodes\' data directories, of one service on ?service=', async () => {
    const v = (service: string, slot: number): SlotVolume => ({ grid: 'default', service, slot, node: 'node-1', path: `/data/volumes/default/${service}/${slot}` });
    const { app, asked } = setup([v('db', 1), v('db', 2), v('gone', 1)]);
    const all = await app.inject({ method: 'GET', url: '/v1/grids/default/volumes' });
    assert.equal(all.statusCode, 200, all.body);
    assert.equal(SlotVolumeListSchema.parse(all.json()).items.length, 3);
    const one = SlotVolumeListSchema.parse((await app.inject({ method: 'GET', url: '/v1/grids/default/volumes?service=gone' })).json());
    assert.deepEqual(one.items, [v('gone', 1)], 'a service that no longer exists still has its leftovers listed');
    assert.deepEqual(asked.at(-1), ['default', 'gone']);
  });
});
