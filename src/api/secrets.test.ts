import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { mintToken, newSigningKey } from '../lib/index.js';
import { openSqliteStore } from '../store/index.js';
import { FakeTelemetry, TokenAuthenticator, createApi } from './index.js';

const G = '/v1/grids/default';

function setup() {
  const store = openSqliteStore(':memory:');
  const app = createApi({ store, authenticator: new TokenAuthenticator(store, { serviceAccountKey: newSigningKey() }), telemetry: new FakeTelemetry(), node: 'n', version: 't' });
  after(() => app.close());
  const token = (role: 'cluster-admin' | 'viewer' | 'operator'): string => {
    const m = mintToken();
    store.createToken({ id: m.id, hash: m.hash, name: role, role, ...(role === 'cluster-admin' ? {} : { grid: 'default' }), createdAt: new Date().toISOString(), createdBy: 'test' });
    return m.token;
  };
  return { app, store, admin: token('cluster-admin'), viewer: token('viewer'), operator: token('operator') };
}

async function call(app: FastifyInstance, token: string, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) {
  const res = await app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload: payload as object }) });
  return { status: res.statusCode, text: res.body, body: res.body === '' ? undefined : (res.json() as Record<string, unknown>) };
}

const withSecretEnv = (key = 'password') => ({ name: 'api', containers: [{ command: ['sleep', '100'], env: [{ name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key } } }] }] });

describe('API: secrets', () => {
  it('takes values in and never gives them back, to any role', async () => {
    const { app, admin, viewer, operator } = setup();
    const created = await call(app, operator, 'POST', `${G}/secrets`, { name: 'db', data: { password: 'hunter2', user: 'app' } });
    assert.equal(created.status, 201, created.text);
    assert.deepEqual(created.body?.keys, ['password', 'user']);
    for (const [who, token] of [['admin', admin], ['operator', operator], ['viewer', viewer]] as const) {
      for (const url of [`${G}/secrets`, `${G}/secrets/db`]) {
        const res = await call(app, token, 'GET', url);
        assert.equal(res.status, 200, `${who} ${url}`);
        assert.doesNotMatch(res.text, /hunter2/, `${who} ${url} shows no value`);
      }
    }
    assert.equal((await call(app, viewer, 'POST', `${G}/secrets`, { name: 'x', data: { a: 'b' } })).status, 403);
    assert.equal((await call(app, viewer, 'PUT', `${G}/secrets/db`, { data: { a: 'b' } })).status, 403);
    assert.equal((await call(app, operator, 'POST', `${G}/secrets`, { name: 'db', data: { a: 'b' } })).body?.code, 'SECRET_EXISTS');
  });

  it('merges or replaces keys, and refuses bad names, keys, values and sizes with the field named', async () => {
    const { app, operator } = setup();
    await call(app, operator, 'POST', `${G}/secrets`, { name: 'db', data: { password: 'a' } });
    assert.deepEqual((await call(app, operator, 'PUT', `${G}/secrets/db`, { data: { user: 'u' }, merge: true })).body?.keys, ['password', 'user']);
    assert.deepEqual((await call(app, operator, 'PUT', `${G}/secrets/db`, { data: { only: 'x' } })).body?.keys, ['only']);
    assert.equal((await call(app, operator, 'PUT', `${G}/secrets/nope`, { data: { a: 'b' } })).body?.code, 'SECRET_NOT_FOUND');
    const bad: [unknown, RegExp][] = [
      [{ name: 'Bad_Name', data: { a: 'b' } }, /^name: /],
      [{ name: 'ok', data: { 'a b': 'c' } }, /^data\./],
      [{ name: 'ok', data: { a: 1 } }, /data\.a: values must be strings/],
      [{ name: 'ok', data: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, 'v'])) }, /at most 100 keys/],
      [{ name: 'ok', data: { a: 'x'.repeat(300 * 1024) } }, /at most 262144 bytes/],
      [{ name: 'ok' }, /^data: /],
    ];
    for (const [body, message] of bad) {
      const res = await call(app, operator, 'POST', `${G}/secrets`, body);
      assert.equal(res.status, 400, JSON.stringify(body).slice(0, 80));
      assert.match(String(res.body?.message), message);
    }
  });

  it('a spec refers to secrets it can resolve (400 naming the field otherwise); the stored spec holds the reference only', async () => {
    const { app, operator, store } = setup();
    const missing = await call(app, operator, 'POST', `${G}/services`, { spec: withSecretEnv() });
    assert.equal(missing.status, 400);
    assert.match(String(missing.body?.message), /spec\.containers\[0\]\.env\[0\]\.valueFrom\.secretKeyRef\.name: Not found: "db"/);
    await call(app, operator, 'POST', `${G}/secrets`, { name: 'db', data: { password: 'hunter2' } });
    const wrongKey = await call(app, operator, 'POST', `${G}/services`, { spec: withSecretEnv('pasword') });
    assert.match(String(wrongKey.body?.message), /secretKeyRef\.key: .*has no key "pasword" \(it has: password\)/);
    const both = await call(app, operator, 'POST', `${G}/services`, { spec: { name: 'x', containers: [{ command: ['a'], env: [{ name: 'A', value: 'v', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } }] }] } });
    assert.equal(both.status, 400);
    assert.match(String(both.body?.message), /value or valueFrom, not both/);
    assert.equal((await call(app, operator, 'POST', `${G}/services`, { spec: withSecretEnv(), deploy: true })).status, 201);
    assert.doesNotMatch(JSON.stringify(store.getService('default', 'api')), /hunter2/);
    assert.equal(store.getSecretValue('default', 'db', 'password'), 'hunter2');
    const inUse = await call(app, operator, 'DELETE', `${G}/secrets/db`);
    assert.equal(inUse.status, 409);
    assert.equal(inUse.body?.code, 'SECRET_IN_USE');
    assert.match(String(inUse.body?.message), /in use by the following service\(s\): api/);
  });
});
