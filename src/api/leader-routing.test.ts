import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { openSqliteStore } from '../store/index.js';
import { FakeTelemetry, createApi } from './index.js';
import type { LeaderRouting } from './leader-routing.js';
import { CONTROL_PLANE_SERVERS_HEADER, STORE_REVISION_HEADER } from './leader-routing.js';
import { adminAuthenticator } from './testing/fixtures.js';

const spec = { name: 'web', replicas: 1, containers: [{ command: ['sleep', '60'] }] };

/** A server of several, with its role and the leader's URL set by the test. */
function server(routing: Partial<LeaderRouting> & { role: LeaderRouting['role'] }) {
  const store = openSqliteStore(':memory:');
  const full: LeaderRouting = { leaderUrl: () => undefined, servers: () => [], flushed: async () => 1, caughtUp: async () => true, ...routing };
  const app = createApi({ store, authenticator: adminAuthenticator, telemetry: new FakeTelemetry(), node: 'n1', version: 't', leaderRouting: full });
  after(() => app.close());
  return { app, store };
}

const auth = { authorization: 'Bearer x' };

void describe('API: writes with several servers (api/leader-routing.ts)', () => {
  void it('the leader answers a write once it is durable, with etcd\'s revision; reads are not held', async () => {
    let flushes = 0;
    const { app } = server({ role: () => 'leader', flushed: async () => (flushes++, 42) });
    const created = await app.inject({ method: 'POST', url: '/v1/grids/default/services', headers: auth, payload: { spec } });
    assert.equal(created.statusCode, 201, created.body);
    assert.equal(created.headers[STORE_REVISION_HEADER], '42');
    assert.equal(flushes, 1);
    const read = await app.inject({ method: 'GET', url: '/v1/grids/default/services/web', headers: auth });
    assert.equal(read.statusCode, 200);
    assert.equal(read.headers[STORE_REVISION_HEADER], undefined);
    assert.equal(flushes, 1, 'a read waits for nothing');
  });

  void it('a write the leader could not make durable is answered 503, never 2xx', async () => {
    const { app } = server({ role: () => 'leader', flushed: async () => Promise.reject(new Error('fence failed')) });
    const res = await app.inject({ method: 'POST', url: '/v1/grids/default/services', headers: auth, payload: { spec } });
    assert.equal(res.statusCode, 503, res.body);
    assert.equal(res.json().code, 'STORE_UNAVAILABLE');
  });

  void it('while electing, writes get 503 NO_LEADER and change nothing; reads are served', async () => {
    const { app, store } = server({ role: () => 'electing' });
    const res = await app.inject({ method: 'POST', url: '/v1/grids/default/services', headers: auth, payload: { spec } });
    assert.equal(res.statusCode, 503);
    assert.equal(res.json().code, 'NO_LEADER');
    assert.equal(store.listServices().length, 0);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/grids/default/services', headers: auth })).statusCode, 200);
    const version = (await app.inject({ method: 'GET', url: '/v1/version' })).json();
    assert.deepEqual(version.controlPlane, { role: 'electing', servers: [] });
  });

  void it('a follower passes a write on to the leader and answers once its replica has it; a write passed on once is never passed on again', async () => {
    const leader = server({ role: () => 'leader', flushed: async () => 7 });
    const url = await leader.app.listen({ host: '127.0.0.1', port: 0 });
    const waited: number[] = [];
    const follower = server({
      role: () => 'follower',
      leaderUrl: () => url,
      servers: () => [{ id: 'aaaa', url }, { id: 'bbbb', url: 'http://127.0.0.1:9' }],
      caughtUp: async (rev) => (waited.push(rev), true),
    });
    const res = await follower.app.inject({ method: 'POST', url: '/v1/grids/default/services?dryRun=All', headers: auth, payload: { spec } });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.json().name, 'web');
    assert.deepEqual(waited, [7], 'waited for its replica to reach the leader\'s revision');
    const real = await follower.app.inject({ method: 'POST', url: '/v1/grids/default/services', headers: auth, payload: { spec } });
    assert.equal(real.statusCode, 201);
    assert.equal(leader.store.getService('default', 'web')?.name, 'web', 'written on the leader');
    assert.equal(follower.store.getService('default', 'web'), undefined, 'not on the follower (its replica gets it from etcd)');
    const version = (await follower.app.inject({ method: 'GET', url: '/v1/version' })).json();
    assert.deepEqual(version.controlPlane, { role: 'follower', leader: url, servers: [{ id: 'aaaa', url, leader: true }, { id: 'bbbb', url: 'http://127.0.0.1:9', leader: false }] });
    // Every answer names the cluster's servers, so a client learns where else to go (client/http-transport.ts).
    const servers = `${url},http://127.0.0.1:9`;
    assert.equal(real.headers[CONTROL_PLANE_SERVERS_HEADER], servers, 'on a write passed on');
    assert.equal((await follower.app.inject({ method: 'GET', url: '/v1/grids/default/services', headers: auth })).headers[CONTROL_PLANE_SERVERS_HEADER], servers, 'on a read');
    assert.equal((await follower.app.inject({ method: 'GET', url: '/v1/grids/default/services/nope', headers: auth })).headers[CONTROL_PLANE_SERVERS_HEADER], servers, 'on an error');

    // A follower that (wrongly) believes another follower leads: the second does not pass it on again.
    const second = server({ role: () => 'follower', leaderUrl: () => 'http://127.0.0.1:9' });
    const secondUrl = await second.app.listen({ host: '127.0.0.1', port: 0 });
    const first = server({ role: () => 'follower', leaderUrl: () => secondUrl });
    const looped = await first.app.inject({ method: 'POST', url: '/v1/grids/default/services', headers: auth, payload: { spec: { ...spec, name: 'other' } } });
    assert.equal(looped.statusCode, 503);
    assert.equal(looped.json().code, 'NO_LEADER');
  });

  void it('a leader that does not answer: 503 NO_LEADER naming it', async () => {
    const { app } = server({ role: () => 'follower', leaderUrl: () => 'http://127.0.0.1:9' });
    const res = await app.inject({ method: 'DELETE', url: '/v1/grids/default/services/web', headers: auth });
    assert.equal(res.statusCode, 503);
    assert.equal(res.json().code, 'NO_LEADER');
    assert.match(res.json().message, /127\.0\.0\.1:9/);
  });
});
