import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import Database from 'better-sqlite3';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newSigningKey } from '../lib/index.js';
import { openSqliteStore } from '../store/index.js';
import { installAccessControl } from './access-control.js';
import { FakeTelemetry, TokenAuthenticator, createApi, serviceAccountToken } from './index.js';

const BASE = '/v1/grids/default/services';
let now = Date.parse('2026-12-01T00:00:00Z');
const clock = { now: () => now, sleep: () => Promise.resolve() };

/** An API with the real TokenAuthenticator over a store on disk, and its bootstrap admin token. */
async function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'berth-access-'));
  const store = openSqliteStore(join(dir, 'berth.db'), { clock });
  const key = newSigningKey();
  const instancePolicy = { defaultUser: 'berth', defaultUid: 998, allowedWorkingDirRoots: ['/srv/apps'] };
  const app = createApi({ store, authenticator: new TokenAuthenticator(store, { serviceAccountKey: key, clock }), telemetry: new FakeTelemetry(), clock, node: 'n', version: 't', instancePolicy });
  after(() => app.close());
  // The first admin token, as the server makes at first start (app/credentials.ts).
  const { mintToken } = await import('../lib/index.js');
  const minted = mintToken();
  store.createToken({ id: minted.id, hash: minted.hash, name: 'admin', role: 'cluster-admin', createdAt: new Date(now).toISOString(), createdBy: 'test' });
  return { app, store, key, admin: minted.token, dbPath: join(dir, 'berth.db') };
}

async function call(app: FastifyInstance, token: string | undefined, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) {
  const res = await app.inject({ method, url, headers: token ? { authorization: `Bearer ${token}` } : {}, ...(payload === undefined ? {} : { payload: payload as object }) });
  return { status: res.statusCode, headers: res.headers, body: res.body === '' ? undefined : (res.json() as Record<string, unknown>) };
}

async function tokenFor(app: FastifyInstance, by: string, body: Record<string, unknown>): Promise<string> {
  const res = await call(app, by, 'POST', '/v1/tokens', body);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body?.token as string;
}

const spec = (name: string, extra: Record<string, unknown> = {}) => ({ name, containers: [{ command: ['sleep', '1000'], env: { DB_PASSWORD: 'hunter2' } }], ...extra });

describe('API access: authentication', () => {
  it('answers 401 with a Bearer challenge to a request without a token, and changes nothing', async () => {
    const { app, store } = await setup();
    const res = await call(app, undefined, 'POST', BASE, { spec: spec('web') });
    assert.equal(res.status, 401);
    assert.equal(res.body?.code, 'UNAUTHENTICATED');
    assert.match(String(res.body?.message), /Authorization: Bearer/);
    assert.equal(res.headers['www-authenticate'], 'Bearer realm="berth"');
    assert.equal(store.listServices().length, 0);
  });

  it('answers 401 to malformed, unknown, forged and revoked tokens', async () => {
    const { app, admin } = await setup();
    const viewer = await tokenFor(app, admin, { role: 'viewer', grid: 'default' });
    for (const header of ['Basic abc', 'Bearer', 'Bearer not-a-token', `Bearer ${admin.slice(0, -1)}x`, `Bearer berth_000000000000_${'a'.repeat(43)}`, `Bearer bsa1.e30.AAAA`]) {
      const res = await app.inject({ method: 'GET', url: BASE, headers: { authorization: header } });
      assert.equal(res.statusCode, 401, header);
      assert.equal(res.json().code, 'UNAUTHENTICATED');
    }
    assert.equal((await call(app, viewer, 'GET', BASE)).status, 200);
    const id = viewer.split('_')[1] as string;
    assert.equal((await call(app, admin, 'DELETE', `/v1/tokens/${id}`)).status, 204);
    const revoked = await call(app, viewer, 'GET', BASE);
    assert.equal(revoked.status, 401);
    assert.match(String(revoked.body?.message), /unknown or was revoked/);
  });

  it('a token with a ttl stops working when it expires', async () => {
    const { app, admin } = await setup();
    const short = await tokenFor(app, admin, { role: 'viewer', grid: 'default', ttl: '1h' });
    assert.equal((await call(app, short, 'GET', BASE)).status, 200);
    now += 3_600_001;
    const res = await call(app, short, 'GET', BASE);
    assert.equal(res.status, 401);
    assert.match(String(res.body?.message), /expired/);
  });

  it('keeps only a hash of each token: the database holds no token secret', async () => {
    const { app, admin, store, dbPath } = await setup();
    const viewer = await tokenFor(app, admin, { role: 'viewer', grid: 'default' });
    store.close();
    const db = new Database(dbPath, { readonly: true });
    const dump = (db.prepare('SELECT json FROM tokens').all() as { json: string }[]).map((r) => r.json).join('\n');
    db.close();
    const raw = readFileSync(dbPath).toString('latin1') + readFileSync(`${dbPath}-wal`).toString('latin1');
    for (const token of [admin, viewer]) {
      const secret = token.slice('berth_'.length + 12 + 1); // base64url: the secret itself may hold '_'
      assert.ok(!dump.includes(secret) && !raw.includes(secret), 'the secret part of a token is not stored');
    }
    assert.match(dump, /"hash":"[0-9a-f]{64}"/);
  });

  it('version and the API document need no token; whoami tells who the token is', async () => {
    const { app, admin } = await setup();
    assert.equal((await call(app, undefined, 'GET', '/v1/version')).status, 200);
    assert.equal((await call(app, undefined, 'GET', '/v1/openapi.json')).status, 200);
    const me = await call(app, admin, 'GET', '/v1/whoami');
    assert.deepEqual(me.body?.grants, [{ role: 'cluster-admin' }]);
  });

  it('refuses to build an API with a route that has no access rule (fail closed)', () => {
    const app = Fastify();
    installAccessControl(app, { store: openSqliteStore(':memory:'), authenticator: { authenticate: () => assert.fail('not called') } });
    assert.throws(() => app.get('/v1/secret-backdoor', async () => 'x'), /has no entry in ROUTE_ACCESS/);
  });
});

describe('API access: roles', () => {
  it('a viewer reads but every write is 403 naming the role it needs, and nothing changes', async () => {
    const { app, admin, store } = await setup();
    assert.equal((await call(app, admin, 'POST', BASE, { spec: spec('web') })).status, 201);
    const viewer = await tokenFor(app, admin, { role: 'viewer', grid: 'default' });
    assert.equal((await call(app, viewer, 'GET', `${BASE}/web`)).status, 200);
    const version = store.getService('default', 'web')?.version;
    const writes: [method: 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown][] = [
      ['POST', BASE, { spec: spec('other') }],
      ['PUT', `${BASE}/web`, { spec: spec('web', { replicas: 3 }) }],
      ['DELETE', `${BASE}/web`],
      ['POST', `${BASE}/web/deploy`, {}],
      ['POST', `${BASE}/web/scale`, { replicas: 5 }],
      ['POST', `${BASE}/web/stop`, {}],
      ['POST', `${BASE}/web/restart`, {}],
      ['POST', `${BASE}/web/rollback`, {}],
      ['PUT', `${BASE}/web/endpoints`, { addresses: ['10.0.0.1:80'] }],
      ['DELETE', `${BASE}/web/instances/1`],
      ['POST', '/v1/tokens', { role: 'viewer', grid: 'default' }],
      ['POST', '/v1/grids', { name: 'mine' }],
    ];
    for (const [method, url, body] of writes) {
      const res = await call(app, viewer, method, url, body);
      assert.equal(res.status, 403, `${method} ${url}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body?.code, 'FORBIDDEN');
      assert.match(String(res.body?.message), /needs the role (operator|admin|cluster-admin)/);
    }
    const logs = await call(app, viewer, 'GET', `${BASE}/web/logs`);
    assert.equal(logs.status, 403, 'logs need operator');
    assert.equal(store.getService('default', 'web')?.version, version, 'nothing changed');
    assert.deepEqual(store.listServices().map((s) => s.name), ['web']);
  });

  it('an operator deploys and scales but makes no tokens', async () => {
    const { app, admin } = await setup();
    const operator = await tokenFor(app, admin, { role: 'operator', grid: 'default' });
    assert.equal((await call(app, operator, 'POST', BASE, { spec: spec('web'), deploy: true })).status, 201);
    assert.equal((await call(app, operator, 'POST', `${BASE}/web/scale`, { replicas: 2 })).status, 200);
    const res = await call(app, operator, 'POST', '/v1/tokens', { role: 'viewer', grid: 'default' });
    assert.equal(res.status, 403);
    assert.equal(res.body?.code, 'FORBIDDEN');
  });

  it('a grid admin hands out roles of its own grid up to admin, nothing else', async () => {
    const { app, admin } = await setup();
    assert.equal((await call(app, admin, 'POST', '/v1/grids', { name: 'shop' })).status, 201);
    const shopAdmin = await tokenFor(app, admin, { role: 'admin', grid: 'shop' });
    assert.equal((await call(app, shopAdmin, 'POST', '/v1/tokens', { role: 'operator', grid: 'shop' })).status, 201);
    assert.equal((await call(app, shopAdmin, 'POST', '/v1/tokens', { role: 'viewer', grid: 'default' })).status, 403);
    assert.equal((await call(app, shopAdmin, 'POST', '/v1/tokens', { role: 'cluster-admin' })).status, 403);
    const listed = await call(app, shopAdmin, 'GET', '/v1/tokens');
    assert.deepEqual((listed.body?.items as { grid?: string }[]).map((t) => t.grid), ['shop', 'shop']);
    assert.equal((await call(app, shopAdmin, 'GET', `${BASE}`)).status, 403, 'no access to the default grid');
    assert.deepEqual(((await call(app, shopAdmin, 'GET', '/v1/grids')).body?.items as { name: string }[]).map((g) => g.name), ['shop']);
  });

  it('a token request names its field when it is wrong', async () => {
    const { app, admin } = await setup();
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ role: 'root' }, /role: must be one of/],
      [{ role: 'viewer' }, /grid: required for the role viewer/],
      [{ role: 'cluster-admin', grid: 'default' }, /grid: a cluster-admin token holds every grid/],
      [{ role: 'viewer', grid: 'default', ttl: 'forever' }, /ttl: must be a duration/],
      [{ role: 'viewer', grid: 'default', ttl: '0s' }, /ttl: must be more than 0/],
      [{ role: 'viewer', grid: 'default', name: 'a\nb' }, /name: must not hold control characters/],
    ];
    for (const [body, message] of cases) {
      const res = await call(app, admin, 'POST', '/v1/tokens', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(String(res.body?.message), message);
    }
    const unknownGrid = await call(app, admin, 'POST', '/v1/tokens', { role: 'viewer', grid: 'nope' });
    assert.equal(unknownGrid.status, 404);
    assert.equal(unknownGrid.body?.code, 'GRID_NOT_FOUND');
  });

  it('grids: unknown → 404 GRID_NOT_FOUND; a grid with services cannot be removed; default never', async () => {
    const { app, admin } = await setup();
    const missing = await call(app, admin, 'GET', '/v1/grids/nope/services');
    assert.equal(missing.status, 404);
    assert.equal(missing.body?.code, 'GRID_NOT_FOUND');
    assert.equal((await call(app, admin, 'POST', '/v1/grids/nope/services', { spec: spec('web') })).status, 404);
    assert.equal((await call(app, admin, 'POST', '/v1/grids', { name: 'shop' })).status, 201);
    assert.equal((await call(app, admin, 'POST', '/v1/grids', { name: 'shop' })).body?.code, 'GRID_EXISTS');
    assert.equal((await call(app, admin, 'POST', '/v1/grids', { name: 'Bad_Name' })).status, 400);
    assert.equal((await call(app, admin, 'POST', '/v1/grids/shop/services', { spec: spec('web') })).status, 201);
    const notEmpty = await call(app, admin, 'DELETE', '/v1/grids/shop');
    assert.equal(notEmpty.status, 409);
    assert.equal(notEmpty.body?.code, 'GRID_NOT_EMPTY');
    assert.equal((await call(app, admin, 'DELETE', '/v1/grids/default')).status, 400);
  });
});

describe('API access: privileged specs (Pod Security: restricted vs privileged)', () => {
  it('user root, another user or a workingDir outside the allowed roots need cluster-admin: 403 naming each field, nothing stored', async () => {
    const { app, admin, store } = await setup();
    const gridAdmin = await tokenFor(app, admin, { role: 'admin', grid: 'default' });
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ user: 'root' }, /spec\.containers\[0\]\.user: "root" runs as root/],
      [{ user: '0' }, /runs as root \(uid 0\)/],
      [{ user: 'postgres' }, /"postgres" is not the default instance user/],
      [{ workingDir: '/root' }, /spec\.containers\[0\]\.workingDir: "\/root" is outside/],
      [{ workingDir: '/srv/apps/../../root' }, /workingDir/],
    ];
    for (const [container, message] of cases) {
      const res = await call(app, gridAdmin, 'POST', BASE, { spec: { name: 'priv', containers: [{ command: ['id'], ...container }] } });
      assert.equal(res.status, 403, JSON.stringify(container));
      assert.equal(res.body?.code, 'FORBIDDEN');
      assert.match(String(res.body?.message), message);
      assert.match(String(res.body?.message), /needs the role cluster-admin/);
      assert.equal(store.getService('default', 'priv'), undefined);
    }
    for (const ok of [{ user: 'berth' }, { user: '998' }, { workingDir: '/srv/apps/shop' }, {}]) {
      const res = await call(app, gridAdmin, 'POST', BASE, { spec: { name: 'fine', containers: [{ command: ['id'], ...ok }] } });
      assert.equal(res.status, 201, JSON.stringify(ok));
      store.applyControllerWrites({ deleteServices: [{ grid: 'default', name: 'fine' }] });
    }
    const root = await call(app, admin, 'POST', BASE, { spec: { name: 'priv', containers: [{ command: ['id'], user: 'root', workingDir: '/root' }] } });
    assert.equal(root.status, 201, 'a cluster admin may');
    await call(app, admin, 'POST', BASE, { spec: { name: 'plain', containers: [{ command: ['id'] }] } });
    const update = await call(app, gridAdmin, 'PUT', `${BASE}/plain`, { spec: { name: 'plain', containers: [{ command: ['id'], user: 'root' }] } });
    assert.equal(update.status, 403, 'an update is checked as a create is');
  });

  it('a bind mount of a host path needs cluster-admin; a named volume and a tmpfs do not', async () => {
    const { app, admin, store } = await setup();
    const gridAdmin = await tokenFor(app, admin, { role: 'admin', grid: 'default' });
    const bind = { name: 'site', containers: [{ image: 'nginx:1.27', mounts: [{ type: 'bind', source: '/etc', target: '/site', readOnly: true }] }] };
    const refused = await call(app, gridAdmin, 'POST', BASE, { spec: bind });
    assert.equal(refused.status, 403);
    assert.equal(refused.body?.code, 'FORBIDDEN');
    assert.match(String(refused.body?.message), /spec\.containers\[0\]\.mounts\[0\]: a bind mount of the host path "\/etc" .*needs the role cluster-admin/);
    assert.equal(store.getService('default', 'site'), undefined, 'nothing stored');
    const volumes = { name: 'cache', containers: [{ image: 'nginx:1.27', mounts: [{ type: 'volume', source: 'cache', target: '/cache' }, { type: 'tmpfs', target: '/tmp' }] }] };
    assert.equal((await call(app, gridAdmin, 'POST', BASE, { spec: volumes })).status, 201);
    assert.equal((await call(app, admin, 'POST', BASE, { spec: bind })).status, 201, 'a cluster admin may');
  });
});

describe('API access: service accounts', () => {
  it('an instance\'s token reads its own service only: it cannot read or delete another service', async () => {
    const { app, admin, store, key } = await setup();
    await call(app, admin, 'POST', BASE, { spec: spec('web') });
    await call(app, admin, 'POST', BASE, { spec: spec('db') });
    const web = store.getService('default', 'web');
    assert.ok(web);
    const token = serviceAccountToken({ grid: 'default', service: 'web', serviceId: web.id }, key);
    assert.equal((await call(app, token, 'GET', `${BASE}/web`)).status, 200);
    const read = await call(app, token, 'GET', `${BASE}/db`);
    assert.equal(read.status, 403);
    assert.doesNotMatch(JSON.stringify(read.body), /hunter2/);
    assert.equal((await call(app, token, 'DELETE', `${BASE}/db`)).status, 403);
    assert.equal((await call(app, token, 'GET', BASE)).status, 403);
    assert.equal((await call(app, token, 'DELETE', `${BASE}/web`)).status, 403);
    assert.equal((await call(app, token, 'GET', '/v1/nodes')).status, 403);
    assert.equal(store.getService('default', 'db')?.desired, 'running', 'db was not touched');
  });

  it('a service account token dies with its service, even when a new one takes the name', async () => {
    const { app, admin, store, key } = await setup();
    await call(app, admin, 'POST', BASE, { spec: spec('web') });
    const old = store.getService('default', 'web');
    assert.ok(old);
    const token = serviceAccountToken({ grid: 'default', service: 'web', serviceId: old.id }, key);
    store.applyControllerWrites({ deleteServices: [{ grid: 'default', name: 'web' }] });
    await call(app, admin, 'POST', BASE, { spec: spec('web') });
    const res = await call(app, token, 'GET', `${BASE}/web`);
    assert.equal(res.status, 401);
    assert.match(String(res.body?.message), /was removed/);
    const forged = serviceAccountToken({ grid: 'default', service: 'web', serviceId: store.getService('default', 'web')?.id ?? '' }, Buffer.alloc(32));
    assert.equal((await call(app, forged, 'GET', `${BASE}/web`)).status, 401, 'a token signed with another key');
  });

  it('a spec may give its instances a role only if its creator holds it', async () => {
    const { app, admin, store, key } = await setup();
    const operator = await tokenFor(app, admin, { role: 'operator', grid: 'default' });
    const refused = await call(app, operator, 'POST', BASE, { spec: spec('ci', { serviceAccount: { role: 'admin' } }) });
    assert.equal(refused.status, 403);
    assert.match(String(refused.body?.message), /spec\.serviceAccount\.role/);
    assert.equal(store.getService('default', 'ci'), undefined);
    assert.equal((await call(app, operator, 'POST', BASE, { spec: spec('ci', { serviceAccount: { role: 'operator' } }) })).status, 201);
    const ci = store.getService('default', 'ci');
    assert.ok(ci);
    const token = serviceAccountToken({ grid: 'default', service: 'ci', serviceId: ci.id }, key);
    assert.equal((await call(app, token, 'POST', BASE, { spec: spec('made-by-ci') })).status, 201, 'an operator service account deploys');
    assert.equal((await call(app, token, 'POST', '/v1/tokens', { role: 'viewer', grid: 'default' })).status, 403);
  });
});

describe('API access: the route table', () => {
  it('gives every documented route an access rule and documents every rule', async () => {
    const { OPERATIONS } = await import('./openapi.js');
    const { ROUTE_ACCESS } = await import('./access-control.js');
    const documented = OPERATIONS.map((op) => `${op.method.toUpperCase()} ${op.path.replace(/\{(\w+)\}/g, ':$1')}`).sort();
    const api = Object.keys(ROUTE_ACCESS).filter((k) => k.split(' ')[1]?.startsWith('/v1'));
    assert.deepEqual(api.sort(), documented);
    // Outside /v1 only the console's pages and files (api/console-routes.ts), public: they hold no data.
    const pages = Object.entries(ROUTE_ACCESS).filter(([k]) => !api.includes(k));
    assert.deepEqual(pages, [
      ['GET /', { kind: 'public' }],
      ['GET /*', { kind: 'public' }],
    ]);
  });
});
