import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { mintToken, newSigningKey } from '../../lib/index.js';
import { parseServiceSpec } from '../../model/index.js';
import { openSqliteStore } from '../../store/index.js';
import { FakeTelemetry, TokenAuthenticator, serviceAccountToken } from '../index.js';
import { newInstance } from '../testing/fixtures.js';
import type { DockerRoutes } from './create-docker-api.js';
import { DOCKER_ROUTES, createDockerApi } from './create-docker-api.js';
import type { DockerTransport } from './docker-access.js';
import type { HostFacts, LocalImage } from './docker-ports.js';
import { nodeId } from './swarm-objects.js';

const HOST: HostFacts = { os: 'linux', goArch: 'amd64', machine: 'x86_64', kernelVersion: '6.1.0-test', operatingSystem: 'Debian GNU/Linux 12 (bookworm)', ncpu: 4, memTotal: 8 * 2 ** 30 };
const IMAGE_ID = `sha256:${'ab'.repeat(32)}`;

/** A route file of the test's own: a write, so access and body handling can be seen on a POST. */
const ECHO: DockerRoutes = {
  register: (app) => {
    app.post('/echo', async (request) => ({ got: request.body ?? null }));
    app.get('/things/:id', async (request) => ({ id: (request.params as { id: string }).id }));
  },
  access: {
    'POST /echo': { kind: 'permission', permission: 'operate', scope: 'grid' },
    'GET /things/:id': { kind: 'permission', permission: 'read', scope: 'service' },
  },
};

/** A store with this node, a unix and a tcp face over it, an admin token and a viewer token of the default grid. */
function setup(options: { containerNetwork?: boolean; imageCount?: number | 'fails' } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'berth-dface-'));
  const store = openSqliteStore(join(dir, 'berth.db'));
  store.upsertNode({
    name: 'vm1',
    address: '127.0.0.1',
    drivers: ['process'],
    ...(options.containerNetwork ? { containerNetwork: { name: 'berth-net', subnet: '10.213.0.0/16', gateway: '10.213.0.1' } } : {}),
    ready: true,
    heartbeatAt: '2026-12-01T00:00:00.000Z',
  });
  const key = newSigningKey();
  const authenticator = new TokenAuthenticator(store, { serviceAccountKey: key });
  const { imageCount } = options;
  const images = {
    inspect: async (ref: string): Promise<LocalImage | undefined> => (['nginx:latest', 'library/nginx:latest'].includes(ref) ? { id: IMAGE_ID, os: 'linux', architecture: 'amd64', size: 11776892 } : undefined),
    ...(imageCount === undefined ? {} : { count: async (): Promise<number> => (imageCount === 'fails' ? Promise.reject(new Error('engine gone')) : imageCount) }),
  };
  const face = (transport: DockerTransport): FastifyInstance => {
    const app = createDockerApi({ store, authenticator, telemetry: new FakeTelemetry(), node: 'vm1', version: '9.8.7', host: HOST, images, transport, instanceRange: '127.10.0.0/16' }, [...DOCKER_ROUTES, ECHO]);
    after(() => app.close());
    return app;
  };
  const token = (role: 'cluster-admin' | 'viewer' | 'operator'): string => {
    const minted = mintToken();
    store.createToken({ id: minted.id, hash: minted.hash, name: role, role, ...(role === 'cluster-admin' ? {} : { grid: 'default' }), createdAt: new Date().toISOString(), createdBy: 'test' });
    return minted.token;
  };
  after(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { store, key, unix: face('unix'), tcp: face('tcp'), token };
}

describe('Docker face: versions and paths', () => {
  it('refuses a version older than 1.24 in moby\'s words, in plain text as moby answers such clients', async () => {
    const { unix } = setup();
    const res = await unix.inject({ method: 'GET', url: '/v1.12/version' });
    assert.equal(res.statusCode, 400);
    assert.match(String(res.headers['content-type']), /^text\/plain/);
    assert.equal(res.body, 'client version 1.12 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version\n');
    assert.equal(res.headers['api-version'], '1.50');
    // berth's own API paths name version "1" to moby's router: a berth client pointed here learns so.
    const berth = await unix.inject({ method: 'GET', url: '/v1/version' });
    assert.equal(berth.statusCode, 400);
    assert.match(berth.body, /^client version 1 is too old/);
  });

  it('refuses a version newer than 1.50 with a JSON message', async () => {
    const { unix } = setup();
    const res = await unix.inject({ method: 'GET', url: '/v1.99/info' });
    assert.equal(res.statusCode, 400);
    assert.deepEqual(res.json(), { message: 'client version 1.99 is too new. Maximum supported API version is 1.50' });
    assert.equal(res.headers['api-version'], '1.50');
  });

  it('serves 1.24, 1.50 and unversioned paths alike, with Api-Version on every answer', async () => {
    const { unix } = setup();
    for (const url of ['/v1.24/version', '/v1.50/version', '/version', '/v1.41/version?x=1']) {
      const res = await unix.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 200, url);
      assert.equal(res.json().Version, '9.8.7', url);
      assert.equal(res.headers['content-type'], 'application/json', url);
      assert.equal(res.headers['api-version'], '1.50', url);
      assert.equal(res.headers.ostype, 'linux', url);
    }
  });

  it('answers every unknown path and method with Docker\'s 404 page not found, whatever the version prefix', async () => {
    const { unix, tcp } = setup();
    for (const [app, method, url] of [
      [unix, 'GET', '/containers/json'],
      [unix, 'GET', '/v1.50/images/json'],
      [unix, 'POST', '/_ping'],
      [unix, 'GET', '/v1.99/nothing'],
      [unix, 'GET', '/v1.50'],
      [tcp, 'DELETE', '/info'],
    ] as const) {
      const res = await app.inject({ method, url });
      assert.equal(res.statusCode, 404, `${method} ${url}`);
      assert.deepEqual(res.json(), { message: 'page not found' }, `${method} ${url}`);
      // Exactly this: the Go client decodes an error's message only then (else it prints the raw JSON).
      assert.equal(res.headers['content-type'], 'application/json', `${method} ${url}`);
      assert.equal(res.headers['api-version'], '1.50', `${method} ${url}`);
    }
  });

  it('drains a body over 1 MiB and answers 413 with a message', async () => {
    const { unix } = setup();
    const res = await unix.inject({ method: 'POST', url: '/v1.50/echo', headers: { 'content-type': 'application/json' }, payload: `"${'x'.repeat(1024 * 1024 + 10)}"` });
    assert.equal(res.statusCode, 413);
    assert.match(res.json().message, /1048576 bytes/);
    assert.deepEqual(Object.keys(res.json()), ['message']);
  });

  it('takes JSON bodies and refuses another content type as moby\'s CheckForJSON does', async () => {
    const { unix } = setup();
    const ok = await unix.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: '{"a":1}' });
    assert.deepEqual(ok.json(), { got: { a: 1 } });
    const empty = await unix.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'text/plain' }, payload: '' });
    assert.deepEqual(empty.json(), { got: null });
    const text = await unix.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'text/plain' }, payload: 'hello' });
    assert.equal(text.statusCode, 400);
    assert.deepEqual(text.json(), { message: "unsupported Content-Type header (text/plain): must be 'application/json'" });
    const bad = await unix.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: '{"a":' });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json().message, /not valid JSON/);
  });
});

describe('Docker face: system endpoints', () => {
  it('answers _ping with OK and the headers the CLI negotiates with, on GET and HEAD', async () => {
    const { tcp } = setup();
    for (const method of ['GET', 'HEAD'] as const) {
      // Public: the CLI pings before it knows anything, tokens or not.
      const res = await tcp.inject({ method, url: '/_ping' });
      assert.equal(res.statusCode, 200, method);
      assert.equal(res.body, method === 'GET' ? 'OK' : '');
      assert.equal(res.headers['api-version'], '1.50');
      assert.equal(res.headers['docker-experimental'], 'false');
      assert.equal(res.headers.ostype, 'linux');
      assert.equal(res.headers.swarm, 'active/manager');
      assert.equal(res.headers['cache-control'], 'no-cache, no-store, must-revalidate');
      assert.equal(res.headers.pragma, 'no-cache');
    }
  });

  it('reports berth as the platform and its version as the engine\'s, with API 1.50 down to 1.24', async () => {
    const { unix } = setup();
    const v = (await unix.inject({ method: 'GET', url: '/v1.50/version' })).json();
    assert.equal(v.Platform.Name, 'berth');
    assert.equal(v.Version, '9.8.7');
    assert.equal(v.ApiVersion, '1.50');
    assert.equal(v.MinAPIVersion, '1.24');
    assert.deepEqual([v.Os, v.Arch, v.KernelVersion], ['linux', 'amd64', '6.1.0-test']);
    const engine = v.Components.find((c: { Name: string }) => c.Name === 'Engine');
    assert.equal(engine.Version, '9.8.7');
    assert.equal(engine.Details.ApiVersion, '1.50');
    assert.equal(engine.Details.MinAPIVersion, '1.24');
  });

  it('shows an active swarm with this node as its one manager, and berth\'s counts', async () => {
    const { unix, store } = setup();
    store.createService({ grid: 'default', spec: parseServiceSpec({ name: 'web', containers: [{ command: ['x'] }] }), deploy: true });
    store.applyControllerWrites({ createInstances: [1, 2, 3].map((slot) => newInstance({ id: `web-${slot}-a`, slot })) });
    const at = new Date().toISOString();
    store.setInstanceStatuses([
      { id: 'web-1-a', status: { state: 'running', timestamp: at, message: 'started' } },
      { id: 'web-2-a', status: { state: 'failed', timestamp: at, message: 'exited with code 3', exitCode: 3 } },
    ]);
    const info = (await unix.inject({ method: 'GET', url: '/info' })).json();
    assert.equal(info.Swarm.LocalNodeState, 'active');
    assert.equal(info.Swarm.ControlAvailable, true);
    assert.equal(info.Swarm.NodeID, nodeId('vm1'));
    assert.equal(info.Swarm.NodeAddr, '127.0.0.1');
    assert.equal(info.Swarm.Managers, 1);
    assert.equal(info.Swarm.Nodes, 1);
    assert.match(info.Swarm.Cluster.ID, /^[0-9a-z]{25}$/);
    assert.equal(info.Swarm.Cluster.Spec.Orchestration.TaskHistoryRetentionLimit, 5);
    assert.ok(Date.parse(info.Swarm.Cluster.CreatedAt) > 0);
    assert.equal(info.Name, 'vm1');
    assert.equal(info.ServerVersion, '9.8.7');
    assert.equal(info.OperatingSystem, 'berth 9.8.7 on Debian GNU/Linux 12 (bookworm)');
    assert.deepEqual([info.NCPU, info.MemTotal, info.OSType, info.Architecture], [4, 8 * 2 ** 30, 'linux', 'x86_64']);
    assert.deepEqual([info.Containers, info.ContainersRunning, info.ContainersStopped, info.ContainersPaused], [3, 1, 1, 0]);
    // The same cluster id on every call: it is derived, not random.
    assert.equal((await unix.inject({ method: 'GET', url: '/info' })).json().Swarm.Cluster.ID, info.Swarm.Cluster.ID);
    assert.equal(info.Images, 0, 'no count of images: 0');
  });

  it('counts the node engine\'s images, and says 0 rather than failing when the engine does not answer', async () => {
    assert.equal((await setup({ imageCount: 7 }).unix.inject({ method: 'GET', url: '/info' })).json().Images, 7);
    const failing = await setup({ imageCount: 'fails' }).unix.inject({ method: 'GET', url: '/info' });
    assert.equal(failing.statusCode, 200);
    assert.equal(failing.json().Images, 0);
  });
});

describe('Docker face: nodes, networks, distribution', () => {
  it('lists berth\'s nodes as ready swarm managers and finds one by id, name or id prefix', async () => {
    const { unix, store } = setup();
    store.upsertNode({ name: 'vm2', address: '192.0.2.7', drivers: ['process'], ready: false, heartbeatAt: '2026-12-01T00:00:00.000Z' });
    const nodes = (await unix.inject({ method: 'GET', url: '/v1.50/nodes' })).json();
    assert.equal(nodes.length, 2);
    const self = nodes.find((n: { Description: { Hostname: string } }) => n.Description.Hostname === 'vm1');
    assert.equal(self.ID, nodeId('vm1'));
    assert.deepEqual(self.Status, { State: 'ready', Addr: '127.0.0.1' });
    assert.deepEqual([self.Spec.Role, self.Spec.Availability], ['manager', 'active']);
    assert.deepEqual(self.ManagerStatus, { Leader: true, Reachability: 'reachable', Addr: '127.0.0.1:2377' });
    assert.equal(self.Description.Engine.EngineVersion, '9.8.7');
    const other = nodes.find((n: { Description: { Hostname: string } }) => n.Description.Hostname === 'vm2');
    assert.deepEqual([other.Status.State, other.Spec.Role, other.ManagerStatus], ['down', 'worker', undefined]);

    for (const key of [nodeId('vm1'), 'vm1', nodeId('vm1').slice(0, 6)]) {
      const res = await unix.inject({ method: 'GET', url: `/nodes/${key}` });
      assert.equal(res.statusCode, 200, key);
      assert.equal(res.json().Description.Hostname, 'vm1', key);
    }
    const missing = await unix.inject({ method: 'GET', url: '/nodes/nope' });
    assert.deepEqual([missing.statusCode, missing.json()], [404, { message: 'node nope not found' }]);
    const role = await unix.inject({ method: 'GET', url: `/nodes?filters=${encodeURIComponent('{"role":{"manager":true}}')}` });
    assert.deepEqual(role.json().map((n: { Description: { Hostname: string } }) => n.Description.Hostname), ['vm1']);
    store.updateNode('vm2', { labels: { zone: 'b', disk: 'ssd' }, availability: 'drain' });
    const hostnames = async (filters: string): Promise<string[]> =>
      (await unix.inject({ method: 'GET', url: `/nodes?filters=${encodeURIComponent(filters)}` })).json().map((n: { Description: { Hostname: string } }) => n.Description.Hostname);
    assert.deepEqual(await hostnames('{"node.label":{"zone=b":true}}'), ['vm2']);
    assert.deepEqual(await hostnames('{"node.label":{"zone":true,"disk=ssd":true}}'), ['vm2'], 'every value must hold');
    assert.deepEqual(await hostnames('{"node.label":{"zone=a":true}}'), []);
    const vm2 = (await unix.inject({ method: 'GET', url: '/nodes/vm2' })).json();
    assert.deepEqual([vm2.Spec.Labels, vm2.Spec.Availability], [{ zone: 'b', disk: 'ssd' }, 'drain']);
    const badKey = await unix.inject({ method: 'GET', url: `/nodes?filters=${encodeURIComponent('{"colour":["red"]}')}` });
    assert.deepEqual([badKey.statusCode, badKey.json()], [400, { message: "invalid filter 'colour'" }]);
  });

  it('shows the node\'s container network as a swarm overlay, or the instance range for processes', async () => {
    const withNet = setup({ containerNetwork: true });
    const list = (await withNet.unix.inject({ method: 'GET', url: '/networks' })).json();
    assert.deepEqual(
      list.map((n: { Name: string; Scope: string; Driver: string; IPAM: { Config: unknown } }) => [n.Name, n.Scope, n.Driver, n.IPAM.Config]),
      [['berth-net', 'swarm', 'overlay', [{ Subnet: '10.213.0.0/16', Gateway: '10.213.0.1' }]]],
    );
    const id = list[0].Id as string;
    for (const key of [id, 'berth-net', id.slice(0, 5)]) assert.equal((await withNet.unix.inject({ method: 'GET', url: `/networks/${key}` })).json().Name, 'berth-net', key);
    const missing = await withNet.unix.inject({ method: 'GET', url: '/networks/ingress' });
    assert.deepEqual([missing.statusCode, missing.json()], [404, { message: 'network ingress not found' }]);
    const none = await withNet.unix.inject({ method: 'GET', url: `/networks?filters=${encodeURIComponent('{"driver":{"bridge":true}}')}` });
    assert.deepEqual(none.json(), []);

    const processes = setup();
    const only = (await processes.unix.inject({ method: 'GET', url: '/networks' })).json();
    assert.deepEqual(only.map((n: { Name: string; IPAM: { Config: unknown } }) => [n.Name, n.IPAM.Config]), [['berth', [{ Subnet: '127.10.0.0/16' }]]]);
  });

  it('answers a distribution inspect from the local image, with slashes in the name, and 404 without it', async () => {
    const { unix } = setup();
    for (const name of ['nginx:latest', 'library/nginx:latest']) {
      const res = await unix.inject({ method: 'GET', url: `/v1.50/distribution/${name}/json` });
      assert.equal(res.statusCode, 200, name);
      assert.deepEqual(res.json(), {
        Descriptor: { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: IMAGE_ID, size: 11776892 },
        Platforms: [{ architecture: 'amd64', os: 'linux' }],
      });
    }
    const absent = await unix.inject({ method: 'GET', url: '/v1.50/distribution/redis:7/json' });
    assert.deepEqual([absent.statusCode, absent.json()], [404, { message: 'No such image: redis:7' }]);
    const invalid = await unix.inject({ method: 'GET', url: '/v1.50/distribution/Not_Valid/json' });
    assert.equal(invalid.statusCode, 400);
    assert.equal((await unix.inject({ method: 'GET', url: '/v1.50/distribution/nginx:latest' })).statusCode, 404);
  });
});

describe('Docker face: access', () => {
  it('makes every request on the unix socket the cluster admin, token or not', async () => {
    const { unix } = setup();
    assert.equal((await unix.inject({ method: 'GET', url: '/info' })).statusCode, 200);
    assert.equal((await unix.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: '{}' })).statusCode, 200);
    assert.equal((await unix.inject({ method: 'GET', url: '/info', headers: { authorization: 'Bearer nonsense' } })).statusCode, 200);
  });

  it('refuses a request on TCP without a valid token with 401 and berth\'s message, and serves it with one', async () => {
    const { tcp, token } = setup();
    const none = await tcp.inject({ method: 'GET', url: '/v1.50/info' });
    assert.equal(none.statusCode, 401);
    assert.deepEqual(Object.keys(none.json()), ['message']);
    assert.match(none.json().message, /no bearer token/);
    assert.equal(none.headers['www-authenticate'], 'Bearer realm="berth"');
    const forged = await tcp.inject({ method: 'GET', url: '/info', headers: { authorization: `Bearer berth_000000000000_${'a'.repeat(43)}` } });
    assert.equal(forged.statusCode, 401);
    assert.match(forged.json().message, /unknown or was revoked/);
    const ok = await tcp.inject({ method: 'GET', url: '/info', headers: { authorization: `Bearer ${token('cluster-admin')}` } });
    assert.equal(ok.statusCode, 200);
  });

  it('lets a viewer read but not write, with berth\'s 403 naming the role needed', async () => {
    const { tcp, token } = setup();
    const viewer = token('viewer');
    assert.equal((await tcp.inject({ method: 'GET', url: '/nodes', headers: { authorization: `Bearer ${viewer}` } })).statusCode, 200);
    const write = await tcp.inject({ method: 'POST', url: '/echo', headers: { authorization: `Bearer ${viewer}`, 'content-type': 'application/json' }, payload: '{}' });
    assert.equal(write.statusCode, 403);
    assert.match(write.json().message, /^forbidden: .* cannot change services in grid "default": this needs the role operator or higher/);
    const operator = token('operator');
    assert.equal((await tcp.inject({ method: 'POST', url: '/echo', headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' }, payload: '{}' })).statusCode, 200);
  });

  it('scopes a service rule to the service its :id names, by name or id prefix, as Docker looks services up', async () => {
    const { tcp, store, key } = setup();
    const spec = (name: string) => parseServiceSpec({ name, containers: [{ command: ['x'] }] });
    const web = store.createService({ grid: 'default', spec: spec('web'), deploy: false });
    store.createService({ grid: 'default', spec: spec('db'), deploy: false });
    // web's own service account: it may read web (model/access.ts), nothing else.
    const own = { authorization: `Bearer ${serviceAccountToken({ grid: 'default', service: 'web', serviceId: web.id }, key)}` };
    for (const id of ['web', web.id, web.id.slice(0, 8)]) assert.equal((await tcp.inject({ method: 'GET', url: `/things/${id}`, headers: own })).statusCode, 200, id);
    for (const id of ['db', 'nope']) {
      const res = await tcp.inject({ method: 'GET', url: `/things/${id}`, headers: own });
      assert.equal(res.statusCode, 403, id);
      assert.match(res.json().message, /^forbidden: service "web" in grid "default"/);
    }
  });

  it('fails to build when a route has no access rule (fail closed)', () => {
    const { store } = setup();
    const unruled: DockerRoutes = { register: (app) => app.get('/secret', async () => 'x'), access: {} };
    const deps = { store, authenticator: { authenticate: () => assert.fail('not reached') }, telemetry: new FakeTelemetry(), node: 'vm1', version: '1', host: HOST };
    assert.throws(() => createDockerApi(deps, [...DOCKER_ROUTES, unruled]), /GET \/secret has no access rule/);
  });
});
