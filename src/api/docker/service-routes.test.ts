import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Service } from '../../model/index.js';
import { openSqliteStore } from '../../store/index.js';
import type { Store } from '../../store/index.js';
import { FakeTelemetry, createApi } from '../index.js';
import { adminAuthenticator } from '../testing/fixtures.js';
import { createDockerApi } from './create-docker-api.js';
import { SERVICE_ACCESS } from './service-routes.js';
import { networkIdOf } from './swarm-ids.js';
import type { SwarmService, SwarmServiceSpec } from './swarm-types.js';

interface Setup {
  readonly store: Store;
  /** The Docker face. */
  readonly docker: FastifyInstance;
  /** berth's own API over the same store. */
  readonly berth: FastifyInstance;
}

function setup(options: { readonly ids?: readonly string[] } = {}): Setup {
  const ids = [...(options.ids ?? [])];
  const store = openSqliteStore(':memory:', ids.length > 0 ? { newId: () => ids.shift() ?? crypto.randomUUID() } : {});
  const deps = { authenticator: adminAuthenticator, store, telemetry: new FakeTelemetry(), node: 'node-1', version: '0.0.0-test' };
  // On TCP every request is authenticated: the test authenticator makes each the cluster admin.
  const docker = createDockerApi(deps);
  const berth = createApi(deps);
  after(async () => {
    await docker.close();
    await berth.close();
  });
  return { store, docker, berth };
}

async function call(app: FastifyInstance, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) {
  const res = await app.inject({ method, url, ...(payload === undefined ? {} : { payload: payload as object }) });
  return { status: res.statusCode, text: res.body, body: res.body === '' ? undefined : (res.json() as unknown) };
}

function swarmSpec(name = 'web', extra: Partial<SwarmServiceSpec> = {}): SwarmServiceSpec {
  return { Name: name, TaskTemplate: { ContainerSpec: { Image: 'busybox:local', Command: ['sh', '-c', 'while true; do echo hi; sleep 0.2; done'] } }, ...extra };
}

async function create(app: FastifyInstance, spec: SwarmServiceSpec): Promise<string> {
  const res = await call(app, 'POST', '/v1.41/services/create', spec);
  assert.equal(res.status, 201, res.text);
  return (res.body as { ID: string }).ID;
}

async function inspect(app: FastifyInstance, idOrName: string): Promise<SwarmService> {
  const res = await call(app, 'GET', `/v1.41/services/${idOrName}`);
  assert.equal(res.status, 200, res.text);
  return res.body as SwarmService;
}

async function list(app: FastifyInstance, query = ''): Promise<SwarmService[]> {
  const res = await call(app, 'GET', `/v1.41/services${query}`);
  assert.equal(res.status, 200, res.text);
  return res.body as SwarmService[];
}

const filters = (f: unknown): string => `?filters=${encodeURIComponent(JSON.stringify(f))}`;

describe('Docker face: POST /services/create', () => {
  it('answers 201 with the ID and no warnings, and creates and deploys the service at once (Swarm has no separate deploy)', async () => {
    const { docker, store } = setup();
    const res = await call(docker, 'POST', '/v1.41/services/create', swarmSpec());
    assert.equal(res.status, 201);
    const service = store.getService('default', 'web');
    assert.deepEqual(res.body, { ID: service?.id, Warnings: [] });
    assert.equal(service?.deployment?.generation, 1, 'deployed');
    assert.deepEqual(service?.spec.containers[0]?.command, ['sh', '-c', 'while true; do echo hi; sleep 0.2; done']);
  });

  it('refuses a taken name with 409 and swarmkit\'s message', async () => {
    const { docker } = setup();
    await create(docker, swarmSpec());
    const res = await call(docker, 'POST', '/services/create', swarmSpec());
    assert.equal(res.status, 409);
    assert.deepEqual(res.body, { message: 'rpc error: code = AlreadyExists desc = name conflicts with an existing object: service web already exists' });
  });

  it('names an unnamed service, as Swarm does', async () => {
    const { docker, store } = setup();
    const id = await create(docker, swarmSpec(''));
    assert.match(store.listServices().find((s) => s.id === id)?.name ?? '', /^service-[a-z0-9]{8}$/);
  });

  it('answers 400 with berth\'s field message inside for an invalid spec, and stores nothing', async () => {
    const { docker, store } = setup();
    const res = await call(docker, 'POST', '/services/create', swarmSpec('Web_1'));
    assert.equal(res.status, 400);
    assert.match((res.body as { message: string }).message, /^rpc error: code = InvalidArgument desc = Service "Web_1" is invalid: spec\.name: Invalid value: "Web_1"/);
    const secrets = await call(docker, 'POST', '/services/create', swarmSpec('web', { TaskTemplate: { ContainerSpec: { Image: 'busybox:local', Secrets: [{ SecretName: 'x' }] } } }));
    assert.equal(secrets.status, 400);
    assert.match((secrets.body as { message: string }).message, /TaskTemplate\.ContainerSpec\.Secrets: /);
    assert.deepEqual(store.listServices(), []);
  });

  it('reads field names case-insensitively, as the engine\'s encoding/json: docker-py\'s ServiceMode sends {"replicated": {"Replicas": N}}', async () => {
    const { docker, store } = setup();
    // docker-py 7.1: services.create(image, mode=ServiceMode('replicated', replicas=3)) and ServiceMode('global').
    await create(docker, { ...swarmSpec('web'), Mode: { replicated: { Replicas: 3 } } } as SwarmServiceSpec);
    assert.equal(store.getService('default', 'web')?.spec.replicas, 3);
    await create(docker, { ...swarmSpec('agent'), mode: { global: {} } } as SwarmServiceSpec);
    assert.equal(store.getService('default', 'agent')?.spec.mode, 'global');
    // Any depth; map keys (Labels) keep their case; an exact name wins over a folded one.
    await create(docker, {
      name: 'low',
      labels: { Team: 'A' },
      taskTemplate: { containerSpec: { image: 'busybox:local', ENV: ['A=1'] }, restartPolicy: { condition: 'none' } },
      Mode: { Replicated: { Replicas: 2 }, replicated: { Replicas: 5 } },
    } as unknown as SwarmServiceSpec);
    const low = (await inspect(docker, 'low')).Spec;
    assert.deepEqual([low.Labels, low.TaskTemplate?.ContainerSpec?.Image, low.TaskTemplate?.ContainerSpec?.Env, low.TaskTemplate?.RestartPolicy?.Condition, low.Mode], [{ Team: 'A' }, 'busybox:local', ['A=1'], 'none', { Replicated: { Replicas: 2 } }]);
    // docker-py's service.scale(4) on a replicated service: update with the lowercase mode key.
    const { Spec, Version } = await inspect(docker, 'web');
    const { Mode: _mode, ...rest } = Spec;
    const scaled = await call(docker, 'POST', `/services/web/update?version=${Version.Index}`, { ...rest, Mode: { replicated: { Replicas: 4 } } });
    assert.equal(scaled.status, 200, scaled.text);
    assert.equal(store.getService('default', 'web')?.spec.replicas, 4);
    // A refused field is refused whatever its case.
    const secrets = await call(docker, 'POST', '/services/create', swarmSpec('sec', { TaskTemplate: { ContainerSpec: { Image: 'busybox:local', secrets: [{ SecretName: 'x' }] } as never } }));
    assert.equal(secrets.status, 400);
    assert.match((secrets.body as { message: string }).message, /TaskTemplate\.ContainerSpec\.Secrets: /);
  });

  it('refuses a placement no node meets, naming the constraint and the node\'s value', async () => {
    const { docker, store } = setup();
    store.upsertNode({ name: 'node-1', address: '127.0.0.1', drivers: ['process', 'docker'], ready: true, heartbeatAt: new Date().toISOString() });
    const res = await call(docker, 'POST', '/services/create', swarmSpec('web', { TaskTemplate: { ContainerSpec: { Image: 'busybox:local' }, Placement: { Constraints: ['node.role==worker'] } } }));
    assert.equal(res.status, 400);
    assert.match((res.body as { message: string }).message, /spec\.placement\.constraints\[0\]: Invalid value: "node\.role==worker": no node meets it \(node node-1 has node\.role=manager\)/);
    await create(docker, swarmSpec('web', { TaskTemplate: { ContainerSpec: { Image: 'busybox:local' }, Placement: { Constraints: ['node.role==manager', 'node.hostname==node-1'] } } }));
    assert.deepEqual((await inspect(docker, 'web')).Spec.TaskTemplate?.Placement, { Constraints: ['node.role==manager', 'node.hostname==node-1'] });
  });
});

describe('Docker face: GET /services', () => {
  async function three(): Promise<Setup & { ids: Record<string, string> }> {
    const s = setup({ ids: ['aaaa1111-0000-4000-8000-000000000001', 'aaaa2222-0000-4000-8000-000000000002', 'bbbb3333-0000-4000-8000-000000000003'] });
    await create(s.docker, swarmSpec('web', { Labels: { tier: 'front', team: 'a' } }));
    await create(s.docker, swarmSpec('web-admin', { Labels: { tier: 'back' } }));
    await create(s.docker, swarmSpec('worker', { Mode: { Global: {} } }));
    return { ...s, ids: { web: 'aaaa1111-0000-4000-8000-000000000001', 'web-admin': 'aaaa2222-0000-4000-8000-000000000002', worker: 'bbbb3333-0000-4000-8000-000000000003' } };
  }
  const names = (items: SwarmService[]): string[] => items.map((s) => s.Spec.Name ?? '');

  it('lists every service of the grid, by name', async () => {
    const { docker } = await three();
    assert.deepEqual(names(await list(docker)), ['web', 'web-admin', 'worker']);
  });

  it('filters by name prefix, in the map form and the old list form', async () => {
    const { docker } = await three();
    assert.deepEqual(names(await list(docker, filters({ name: { web: true } }))), ['web', 'web-admin']);
    assert.deepEqual(names(await list(docker, filters({ name: ['web-'] }))), ['web-admin']);
    assert.deepEqual(names(await list(docker, filters({ name: { worker: true, 'web-a': true } }))), ['web-admin', 'worker'], 'values of one filter are alternatives');
  });

  it('filters by id prefix, label (key or key=value) and mode', async () => {
    const { docker, ids } = await three();
    assert.deepEqual(names(await list(docker, filters({ id: { aaaa: true } }))), ['web', 'web-admin']);
    assert.deepEqual(names(await list(docker, filters({ id: [ids.worker] }))), ['worker']);
    assert.deepEqual(names(await list(docker, filters({ label: ['tier'] }))), ['web', 'web-admin']);
    assert.deepEqual(names(await list(docker, filters({ label: ['tier=front', 'team=a'] }))), ['web']);
    assert.deepEqual(names(await list(docker, filters({ label: ['tier=front', 'team=b'] }))), [], 'labels must all hold');
    assert.deepEqual(names(await list(docker, filters({ mode: ['global'] }))), ['worker']);
    assert.deepEqual(names(await list(docker, filters({ mode: { replicated: true } }))), ['web', 'web-admin']);
  });

  it('refuses an unknown filter and a malformed one with 400', async () => {
    const { docker } = await three();
    const unknown = await call(docker, 'GET', `/services${filters({ color: ['red'] })}`);
    assert.deepEqual({ status: unknown.status, body: unknown.body }, { status: 400, body: { message: "invalid filter 'color'" } });
    assert.equal((await call(docker, 'GET', '/services?filters=%7Bnot-json')).status, 400);
  });

  it('adds ServiceStatus with status=true only', async () => {
    const { docker } = await three();
    assert.equal((await list(docker))[0]?.ServiceStatus, undefined);
    const withStatus = await list(docker, '?status=true');
    assert.deepEqual(withStatus.find((s) => s.Spec.Name === 'web')?.ServiceStatus, { RunningTasks: 0, DesiredTasks: 1, CompletedTasks: 0 });
  });
});

describe('Docker face: GET /services/{id}', () => {
  it('finds a service by full id, unique id prefix and name; an ambiguous prefix is 400, none 404', async () => {
    const { docker } = setup({ ids: ['abc12345-0000-4000-8000-000000000001', 'abc99999-0000-4000-8000-000000000002'] });
    await create(docker, swarmSpec('web'));
    await create(docker, swarmSpec('api'));
    assert.equal((await inspect(docker, 'abc12345-0000-4000-8000-000000000001')).Spec.Name, 'web');
    assert.equal((await inspect(docker, 'abc1')).Spec.Name, 'web');
    assert.equal((await inspect(docker, 'api')).ID, 'abc99999-0000-4000-8000-000000000002');
    assert.equal((await inspect(docker, 'api?insertDefaults=true')).Spec.Name, 'api');
    const ambiguous = await call(docker, 'GET', '/services/abc');
    assert.deepEqual({ status: ambiguous.status, body: ambiguous.body }, { status: 400, body: { message: 'service abc is ambiguous (2 matches found)' } });
    const none = await call(docker, 'GET', '/services/nope');
    assert.deepEqual({ status: none.status, body: none.body }, { status: 404, body: { message: 'service nope not found' } });
  });

  it('shows what was sent, Version.Index = berth\'s version and ID = berth\'s id', async () => {
    const { docker, store } = setup();
    const sent = swarmSpec('web', { Labels: { a: 'b' }, Mode: { Replicated: { Replicas: 2 } }, EndpointSpec: { Mode: 'vip', Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 18080, PublishMode: 'ingress' }] } });
    const id = await create(docker, sent);
    const shown = await inspect(docker, 'web');
    const stored = store.getService('default', 'web') as Service;
    assert.equal(shown.ID, id);
    assert.deepEqual(shown.Version, { Index: stored.version });
    assert.deepEqual(shown.Spec.Labels, { a: 'b' });
    assert.deepEqual(shown.Spec.Mode, { Replicated: { Replicas: 2 } });
    assert.deepEqual(shown.Spec.EndpointSpec, sent.EndpointSpec);
    assert.deepEqual(shown.Endpoint.Ports, [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 18080, PublishMode: 'ingress' }]);
    assert.equal(shown.Endpoint.VirtualIPs?.[0]?.Addr, `${stored.spec.clusterIP}/16`);
    assert.equal(shown.PreviousSpec, undefined);
  });

  it('gives an automatic published port from 30000–32767 and shows it in Endpoint.Ports, 0 in the spec', async () => {
    const { docker } = setup();
    await create(docker, swarmSpec('web', { EndpointSpec: { Ports: [{ TargetPort: 80 }] } }));
    const shown = await inspect(docker, 'web');
    assert.equal(shown.Spec.EndpointSpec?.Ports?.[0]?.PublishedPort, 0);
    const published = shown.Endpoint.Ports?.[0]?.PublishedPort ?? 0;
    assert.ok(published >= 30000 && published <= 32767, String(published));
  });
});

describe('Docker face: POST /services/{id}/update', () => {
  it('updates with the version from inspect and deploys at once; a stale version is 500 "update out of sequence"', async () => {
    const { docker, store } = setup();
    const id = await create(docker, swarmSpec());
    const before = await inspect(docker, id);
    const changed: SwarmServiceSpec = { ...before.Spec, TaskTemplate: { ...before.Spec.TaskTemplate, ContainerSpec: { ...before.Spec.TaskTemplate?.ContainerSpec, Command: ['sh', '-c', 'echo two'] } } };
    const ok = await call(docker, 'POST', `/v1.41/services/${id}/update?version=${before.Version.Index}&registryAuthFrom=spec`, changed);
    assert.deepEqual({ status: ok.status, body: ok.body }, { status: 200, body: { Warnings: [] } });
    const service = store.getService('default', 'web') as Service;
    assert.deepEqual(service.deployment?.spec.containers[0]?.command, ['sh', '-c', 'echo two'], 'deployed');
    assert.equal(service.deployment?.generation, 2);
    const after = await inspect(docker, id);
    assert.ok(after.Version.Index > before.Version.Index);
    assert.deepEqual(after.PreviousSpec?.TaskTemplate?.ContainerSpec?.Command, before.Spec.TaskTemplate?.ContainerSpec?.Command, 'PreviousSpec from berth\'s spec history');
    const stale = await call(docker, 'POST', `/services/${id}/update?version=${before.Version.Index}`, changed);
    assert.deepEqual({ status: stale.status, body: stale.body }, { status: 500, body: { message: 'rpc error: code = Unknown desc = update out of sequence' } });
    assert.equal((store.getService('default', 'web') as Service).version, service.version, 'nothing stored');
  });

  it('needs a version (400 as the engine) and refuses renames and mode changes (501 as swarmkit)', async () => {
    const { docker } = setup();
    await create(docker, swarmSpec());
    const { Spec, Version } = await inspect(docker, 'web');
    const missing = await call(docker, 'POST', '/services/web/update', Spec);
    assert.deepEqual({ status: missing.status, body: missing.body }, { status: 400, body: { message: `invalid service version '': strconv.ParseUint: parsing "": invalid syntax` } });
    const renamed = await call(docker, 'POST', `/services/web/update?version=${Version.Index}`, { ...Spec, Name: 'web2' });
    assert.deepEqual({ status: renamed.status, body: renamed.body }, { status: 501, body: { message: 'rpc error: code = Unimplemented desc = renaming services is not supported' } });
    const unnamed = await call(docker, 'POST', `/services/web/update?version=${Version.Index}`, { ...Spec, Name: undefined });
    assert.equal(unnamed.status, 501, 'docker-py without name= sends none: Swarm names it anew, then refuses the rename');
    const global = await call(docker, 'POST', `/services/web/update?version=${Version.Index}`, { ...Spec, Mode: { Global: {} } });
    assert.deepEqual({ status: global.status, body: global.body }, { status: 501, body: { message: 'rpc error: code = Unimplemented desc = service mode change is not allowed' } });
    const bad = await call(docker, 'POST', `/services/web/update?version=${Version.Index}&rollback=sideways`, Spec);
    assert.equal(bad.status, 400);
  });

  it('replaces every instance when ForceUpdate changes (docker service update --force)', async () => {
    const { docker, store } = setup();
    await create(docker, swarmSpec());
    const { Spec, Version } = await inspect(docker, 'web');
    const forced = { ...Spec, TaskTemplate: { ...Spec.TaskTemplate, ForceUpdate: (Spec.TaskTemplate?.ForceUpdate ?? 0) + 1 } };
    assert.equal((await call(docker, 'POST', `/services/web/update?version=${Version.Index}`, forced)).status, 200);
    assert.equal(store.getService('default', 'web')?.deployment?.restartGeneration, 1);
    assert.equal((await inspect(docker, 'web')).Spec.TaskTemplate?.ForceUpdate, 1, 'shown as sent');
  });

  it('rolls back to PreviousSpec with rollback=previous, and refuses it without one (400 FailedPrecondition)', async () => {
    const { docker, store } = setup();
    await create(docker, swarmSpec());
    const first = await inspect(docker, 'web');
    const none = await call(docker, 'POST', `/services/web/update?version=${first.Version.Index}&rollback=previous`, first.Spec);
    assert.equal(none.status, 400);
    assert.match((none.body as { message: string }).message, /^rpc error: code = FailedPrecondition desc = service web does not have a previous spec/);
    const changed = { ...first.Spec, TaskTemplate: { ...first.Spec.TaskTemplate, ContainerSpec: { ...first.Spec.TaskTemplate?.ContainerSpec, Command: ['sh', '-c', 'echo two'] } } };
    assert.equal((await call(docker, 'POST', `/services/web/update?version=${first.Version.Index}`, changed)).status, 200);
    const second = await inspect(docker, 'web');
    const back = await call(docker, 'POST', `/services/web/update?version=${second.Version.Index}&rollback=previous`, second.Spec);
    assert.deepEqual({ status: back.status, body: back.body }, { status: 200, body: { Warnings: [] } });
    const service = store.getService('default', 'web') as Service;
    assert.deepEqual(service.deployment?.spec.containers[0]?.command, first.Spec.TaskTemplate?.ContainerSpec?.Command);
    assert.equal(service.deployment?.cause, 'rollback');
    assert.deepEqual((await inspect(docker, 'web')).PreviousSpec?.TaskTemplate?.ContainerSpec?.Command, ['sh', '-c', 'echo two'], 'a second rollback toggles back, as Swarm\'s');
  });
});

describe('Docker face: DELETE /services/{id}', () => {
  it('answers 200 with an empty body; the service is gone from the face at once while berth stops its instances', async () => {
    const { docker, store } = setup();
    const id = await create(docker, swarmSpec());
    const res = await call(docker, 'DELETE', `/v1.41/services/${id.slice(0, 8)}`);
    assert.deepEqual({ status: res.status, text: res.text }, { status: 200, text: '' });
    assert.equal(store.getService('default', 'web')?.desired, 'removing');
    assert.equal((await call(docker, 'GET', `/services/${id}`)).status, 404);
    assert.deepEqual(await list(docker), []);
    assert.equal((await call(docker, 'DELETE', '/services/web')).status, 404);
  });
});

describe('Docker face: a name freed by a removal', () => {
  it('a create of a name whose service is being removed waits until it is gone, as Swarm frees the name at once', async () => {
    const { docker, store } = setup();
    const first = await create(docker, swarmSpec());
    assert.equal((await call(docker, 'DELETE', '/services/web')).status, 200);
    assert.equal(store.getService('default', 'web')?.desired, 'removing', 'its instances drain first');
    // Over a real socket: a request whose body was read counts as destroyed, its socket does not.
    const url = await docker.listen({ host: '127.0.0.1', port: 0 });
    const started = Date.now();
    const again = fetch(`${url}/v1.41/services/create`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(swarmSpec()) });
    await new Promise((r) => setTimeout(r, 300));
    // The controller ends the removal: the record goes.
    store.applyControllerWrites({ deleteServices: [{ grid: 'default', name: 'web' }] });
    const res = await again;
    const text = await res.text();
    assert.equal(res.status, 201, text);
    assert.ok(Date.now() - started >= 300, 'it waited for the removal');
    assert.notEqual((JSON.parse(text) as { ID: string }).ID, first, 'a new service');
  });

  it('answers 409 when the removal outlasts the wait, and at once for a service that is not being removed', async () => {
    const { store } = setup();
    const docker = createDockerApi({ authenticator: adminAuthenticator, store, telemetry: new FakeTelemetry(), node: 'node-1', version: '0.0.0-test', nameFreedWaitMs: 200 });
    after(() => docker.close());
    await create(docker, swarmSpec());
    const started = Date.now();
    const taken = await call(docker, 'POST', '/v1.41/services/create', swarmSpec());
    assert.equal(taken.status, 409);
    assert.ok(Date.now() - started < 150, 'a live service of that name: 409 at once');
    assert.equal((await call(docker, 'DELETE', '/services/web')).status, 200);
    const waited = await call(docker, 'POST', '/v1.41/services/create', swarmSpec());
    assert.equal(waited.status, 409);
    assert.match(waited.text, /name conflicts with an existing object: service web already exists/);
    assert.ok(Date.now() - started >= 200, 'it waited for the bound first');
  });
});

describe('Docker face and berth\'s own API: one engine', () => {
  it('lists a service created through berth\'s API, and berth lists one created through the face', async () => {
    const { docker, berth } = setup();
    const made = await call(berth, 'POST', '/v1/grids/default/services', { spec: { name: 'native', containers: [{ command: ['sleep', '1000'] }] } });
    assert.equal(made.status, 201, made.text);
    const swarmy = await create(docker, swarmSpec('swarmy'));
    assert.deepEqual((await list(docker)).map((s) => [s.Spec.Name, s.ID]), [['native', (made.body as Service).id], ['swarmy', swarmy]]);
    const own = await call(berth, 'GET', '/v1/grids/default/services');
    assert.deepEqual(((own.body as { items: Service[] }).items).map((s) => s.name).sort(), ['native', 'swarmy']);
    // A process service made with berth's API is updated through the face without losing its command.
    const native = await inspect(docker, 'native');
    assert.equal(native.Spec.TaskTemplate?.ContainerSpec?.Image, '');
    const scaled = { ...native.Spec, Mode: { Replicated: { Replicas: 3 } } };
    assert.equal((await call(docker, 'POST', `/services/native/update?version=${native.Version.Index}`, scaled)).status, 200);
    const after = await call(berth, 'GET', '/v1/grids/default/services/native');
    assert.equal((after.body as Service).spec.replicas, 3);
    assert.deepEqual((after.body as Service).spec.containers[0]?.command, ['sleep', '1000']);
  });

  it('has an access rule for every route it registers', () => {
    const { docker } = setup();
    for (const key of Object.keys(SERVICE_ACCESS)) {
      const [method, url] = key.split(' ') as ['GET' | 'POST' | 'DELETE', string];
      assert.ok(docker.hasRoute({ method, url }), key);
    }
    assert.deepEqual(Object.keys(SERVICE_ACCESS).sort(), ['DELETE /services/:id', 'GET /services', 'GET /services/:id', 'POST /services/:id/update', 'POST /services/create']);
  });
});

describe('Docker face: GET /services remembers views, never stale ones', () => {
  const withVip = (name: string): SwarmServiceSpec => swarmSpec(name, { EndpointSpec: { Mode: 'vip', Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 18081, PublishMode: 'ingress' }] } });

  it('shows a service changed through berth\'s API at the next list', async () => {
    const { docker, berth } = setup();
    await create(docker, swarmSpec('web'));
    const before = (await list(docker))[0] as SwarmService;
    assert.deepEqual(before.Spec.Mode, { Replicated: { Replicas: 1 } });
    const current = (await call(berth, 'GET', '/v1/grids/default/services/web')).body as Service;
    const scaled = await call(berth, 'PUT', '/v1/grids/default/services/web', { spec: { ...current.spec, replicas: 4 }, version: current.version });
    assert.equal(scaled.status, 200, scaled.text);
    const afterScale = (await list(docker))[0] as SwarmService;
    assert.deepEqual(afterScale.Spec.Mode, { Replicated: { Replicas: 4 } });
    assert.ok(afterScale.Version.Index > before.Version.Index);
    // An unchanged service answers the same view again.
    assert.deepEqual(await list(docker), [afterScale]);
  });

  it('shows the network of a node that reports one after the first list', async () => {
    const { docker, store } = setup();
    await create(docker, withVip('web'));
    assert.equal((await list(docker))[0]?.Endpoint.VirtualIPs?.[0]?.NetworkID, networkIdOf('berth'));
    store.upsertNode({ name: 'node-1', address: '127.0.0.1', drivers: ['docker'], containerNetwork: { name: 'berth-net', subnet: '10.213.0.0/16', gateway: '10.213.0.1' }, ready: true, heartbeatAt: '2026-12-01T00:00:00.000Z' });
    assert.equal((await list(docker))[0]?.Endpoint.VirtualIPs?.[0]?.NetworkID, networkIdOf('berth-net'));
  });
});
