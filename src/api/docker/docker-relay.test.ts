import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Identity } from '../../model/index.js';
import { UnauthenticatedError } from '../../model/index.js';
import { openSqliteStore } from '../../store/index.js';
import type { Authenticator } from '../authenticator.js';
import { FakeTelemetry, createApi, createDockerApi } from '../index.js';
import type { LeaderRouting } from '../leader-routing.js';
import { STORE_REVISION_HEADER } from '../leader-routing.js';
import type { DockerTransport } from './docker-access.js';
import { DOCKER_RELAY_HEADER, DOCKER_RELAY_PATH, RELAY_TOKEN_TTL_MS, dispatchDockerRelay, dockerRelayToken, relayIdentity } from './docker-relay.js';

/*
 * The Docker face on several servers (docker-relay.ts): a follower's face passes its writes on to the
 * leader's berth API listener, where the leader's relay app makes them; reads stay on the follower.
 */

const KEY = Buffer.alloc(32, 7);
const OPERATOR: Identity = { kind: 'user', subject: 'token t1 (ci)', grants: [{ role: 'operator', grid: 'default' }] };
/** Knows one bearer token, `Bearer good` (an operator of the grid `default`); refuses anything else. */
const oneToken: Authenticator = {
  authenticate: (authorization) => {
    if (authorization === 'Bearer good') return OPERATOR;
    throw new UnauthenticatedError(`invalid bearer token: ${authorization ?? 'none'}`);
  },
};

/** A Swarm ServiceSpec the docker CLI would send for `docker service create --name NAME busybox`. */
const create = (name: string) => ({ Name: name, TaskTemplate: { ContainerSpec: { Image: 'busybox:latest', Command: ['sleep', '600'] } }, Mode: { Replicated: { Replicas: 1 } } });

function routingOf(partial: Partial<LeaderRouting> & { role: LeaderRouting['role'] }): LeaderRouting {
  return { leaderUrl: () => undefined, servers: () => [], flushed: async () => 1, caughtUp: async () => true, ...partial };
}

/** The leader: its berth API listener (HTTPS with `https`) with the relay, over its own store. */
async function leader(options: { revision?: number; https?: { key: Buffer; cert: Buffer } } = {}) {
  const store = openSqliteStore(':memory:');
  const routing = routingOf({ role: () => 'leader', flushed: async () => options.revision ?? 9 });
  const deps = { store, authenticator: oneToken, telemetry: new FakeTelemetry(), node: 'control-plane aaaa', version: 't', leaderRouting: routing };
  const relay = createDockerApi({ ...deps, transport: 'relay', relayKey: KEY });
  await relay.ready();
  const api = createApi({ ...deps, dockerRelay: dispatchDockerRelay(relay), ...(options.https ? { https: options.https } : {}) });
  await api.listen({ host: '127.0.0.1', port: 0 });
  const address = api.server.address();
  assert.ok(address && typeof address === 'object');
  const url = `${options.https ? 'https' : 'http'}://127.0.0.1:${address.port}`;
  after(async () => {
    await api.close();
    await relay.close();
  });
  return { store, url };
}

/** A follower's face (one listener of `transport`) over a store of its own, passing writes on to `leaderUrl` (trusting `ca`). */
function follower(transport: DockerTransport, leaderUrl: string, ca?: Buffer) {
  const store = openSqliteStore(':memory:');
  const waited: number[] = [];
  const routing = routingOf({ role: () => 'follower', leaderUrl: () => leaderUrl, caughtUp: async (revision) => (waited.push(revision), true), ...(ca ? { ca } : {}) });
  const app = createDockerApi({ store, authenticator: oneToken, telemetry: new FakeTelemetry(), node: 'control-plane bbbb', version: 't', leaderRouting: routing, transport, relayKey: KEY });
  after(() => app.close());
  return { app, store, waited };
}

describe('Docker face on several servers: writes go to the leader', () => {
  it('a follower’s unix socket passes a service create on: the leader makes it as the socket’s owner; the follower answers once its replica caught up', async () => {
    const lead = await leader({ revision: 41 });
    const { app, store, waited } = follower('unix', lead.url);
    const res = await app.inject({ method: 'POST', url: '/v1.50/services/create', payload: create('web') });
    assert.equal(res.statusCode, 201, res.body);
    const made = lead.store.getService('default', 'web');
    assert.ok(made, 'the leader made the service');
    assert.equal(res.json().ID, made.id, 'the answer is the leader’s, in Docker’s shape');
    assert.equal(store.getService('default', 'web'), undefined, 'nothing written on the follower');
    assert.deepEqual(waited, [41], 'it waited for its replica to hold the leader’s revision');
    assert.equal(res.headers[STORE_REVISION_HEADER], '41');
    // The request had no bearer token (the leader's authenticator knows only `Bearer good`): the relay credential let it in.
  });

  it('over HTTPS between the servers (--tls-cert): the leader’s listener serves berth’s routes and the relay alike', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-relay-tls-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=berth-test', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const https = { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
    const lead = await leader({ https });
    assert.match(lead.url, /^https:/);
    const { app } = follower('unix', lead.url, https.cert);
    const res = await app.inject({ method: 'POST', url: '/v1.50/services/create', payload: create('web') });
    assert.equal(res.statusCode, 201, res.body);
    assert.ok(lead.store.getService('default', 'web'));
    const version = await new Promise<number>((resolve, reject) => {
      httpsGet(`${lead.url}/v1/version`, { ca: https.cert }, (r) => resolve(r.statusCode ?? 0)).on('error', reject);
    });
    assert.equal(version, 200, 'berth’s own routes on the same HTTPS listener');
  });

  it('update and remove pass on too, the leader checking the version the client read', async () => {
    const lead = await leader();
    const { app } = follower('unix', lead.url);
    assert.equal((await app.inject({ method: 'POST', url: '/v1.50/services/create', payload: create('web') })).statusCode, 201);
    const version = lead.store.getService('default', 'web')?.version ?? 0;
    const updated = await app.inject({ method: 'POST', url: `/v1.50/services/web/update?version=${version}`, payload: { ...create('web'), Mode: { Replicated: { Replicas: 3 } } } });
    assert.equal(updated.statusCode, 200, updated.body);
    assert.equal(lead.store.getService('default', 'web')?.spec.replicas, 3);
    const stale = await app.inject({ method: 'POST', url: `/v1.50/services/web/update?version=${version}`, payload: create('web') });
    assert.ok(stale.statusCode >= 400, 'a stale version is refused by the leader');
    const removed = await app.inject({ method: 'DELETE', url: '/v1.50/services/web' });
    assert.equal(removed.statusCode, 200, removed.body);
    assert.equal(lead.store.getService('default', 'web')?.desired, 'removing');
  });

  it('a follower’s TCP listener passes the client’s own token on, and drops a relay credential the client sent', async () => {
    const lead = await leader();
    const { app } = follower('tcp', lead.url);
    const forged = dockerRelayToken({ method: 'POST', url: '/v1.50/services/create' }, { key: Buffer.alloc(32, 1), server: 'mallory', nowMs: Date.now() });
    const refused = await app.inject({ method: 'POST', url: '/v1.50/services/create', headers: { authorization: 'Bearer stolen?' }, payload: create('web') });
    assert.equal(refused.statusCode, 401, refused.body);
    assert.match(refused.json().message, /invalid bearer token/);
    // A genuine credential of the cluster's key, sent by a TCP client: dropped, so only the bearer token counts.
    const genuine = dockerRelayToken({ method: 'POST', url: '/v1.50/services/create' }, { key: KEY, server: 'x', nowMs: Date.now() });
    const noBearer = await app.inject({ method: 'POST', url: '/v1.50/services/create', headers: { [DOCKER_RELAY_HEADER]: genuine }, payload: create('web') });
    assert.equal(noBearer.statusCode, 401, 'a TCP client cannot pass itself off as a socket owner');
    const ok = await app.inject({ method: 'POST', url: '/v1.50/services/create', headers: { authorization: 'Bearer good', [DOCKER_RELAY_HEADER]: forged }, payload: create('web') });
    assert.equal(ok.statusCode, 201, ok.body);
    assert.ok(lead.store.getService('default', 'web'));
  });

  it('reads stay on the follower (its replica), and no leader means 503 with berth’s NO_LEADER words', async () => {
    const lead = await leader();
    const { app } = follower('unix', lead.url);
    await app.inject({ method: 'POST', url: '/v1.50/services/create', payload: create('web') });
    const list = await app.inject({ method: 'GET', url: '/v1.50/services' });
    assert.deepEqual(list.json(), [], 'the follower lists from its own store, which the test does not replicate');
    const electing = createDockerApi({ store: openSqliteStore(':memory:'), authenticator: oneToken, telemetry: new FakeTelemetry(), node: 'n', version: 't', leaderRouting: routingOf({ role: () => 'electing' }), transport: 'unix', relayKey: KEY });
    after(() => electing.close());
    const res = await electing.inject({ method: 'POST', url: '/v1.50/services/create', payload: create('web') });
    assert.equal(res.statusCode, 503);
    assert.match(res.json().message, /^no server leads yet/);
  });

  it('the leader’s relay refuses a credential it did not sign, one for another request, and takes no reads', async () => {
    const lead = await leader();
    const post = (headers: Record<string, string>, path = '/v1.50/services/create') => fetch(`${lead.url}${DOCKER_RELAY_PATH}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(create('web')) });
    const forged = dockerRelayToken({ method: 'POST', url: '/v1.50/services/create' }, { key: Buffer.alloc(32, 1), server: 'mallory', nowMs: Date.now() });
    const a = await post({ [DOCKER_RELAY_HEADER]: forged });
    assert.equal(a.status, 401);
    assert.match(((await a.json()) as { message: string }).message, /not signed by a server of this cluster/);
    const otherPath = dockerRelayToken({ method: 'DELETE', url: '/v1.50/services/web' }, { key: KEY, server: 'b', nowMs: Date.now() });
    assert.equal((await post({ [DOCKER_RELAY_HEADER]: otherPath })).status, 401);
    assert.equal(lead.store.getService('default', 'web'), undefined);
    const read = await fetch(`${lead.url}${DOCKER_RELAY_PATH}/v1.50/services`, { headers: { authorization: 'Bearer good' } });
    assert.equal(read.status, 404, 'a read under the relay path is not relayed: berth’s own routes have none there');
    const good = dockerRelayToken({ method: 'POST', url: '/v1.50/services/create' }, { key: KEY, server: 'b', nowMs: Date.now() });
    assert.equal((await post({ [DOCKER_RELAY_HEADER]: good })).status, 201);
  });

  it('a relay credential is the socket’s owner of the server that signed it, for one method and path, until it expires', () => {
    const now = 1_800_000_000_000;
    const token = dockerRelayToken({ method: 'POST', url: '/v1.50/services/create' }, { key: KEY, server: 'control-plane bbbb', nowMs: now });
    const identity = relayIdentity(token, { method: 'POST', url: '/v1.50/services/create' }, { key: KEY, nowMs: now + 1000 });
    assert.deepEqual(identity, { kind: 'user', subject: 'the owner of the Docker API socket of control-plane bbbb', grants: [{ role: 'cluster-admin' }] });
    assert.throws(() => relayIdentity(token, { method: 'POST', url: '/v1.50/services/create' }, { key: KEY, nowMs: now + RELAY_TOKEN_TTL_MS }), /expired/);
    assert.throws(() => relayIdentity(token, { method: 'POST', url: '/v1.50/services/x/update' }, { key: KEY, nowMs: now }), /another request/);
    assert.throws(() => relayIdentity(`${token}x`, { method: 'POST', url: '/v1.50/services/create' }, { key: KEY, nowMs: now }), /not signed/);
  });
});
