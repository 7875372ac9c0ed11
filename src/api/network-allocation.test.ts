import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Service, ServiceSpecInput } from '../model/index.js';
import { openSqliteStore } from '../store/index.js';
import { FakeTelemetry, createApi } from './index.js';
import { adminAuthenticator } from './testing/fixtures.js';

const BASE = '/v1/grids/default/services';

function setup() {
  const store = openSqliteStore(':memory:');
  const app = createApi({ authenticator: adminAuthenticator, store, telemetry: new FakeTelemetry(), node: 'node-1', version: '0.0.0-test' });
  after(() => app.close());
  const create = (spec: ServiceSpecInput) => app.inject({ method: 'POST', url: BASE, payload: { spec } });
  return { store, app, create };
}

const svc = (name: string, extra: Partial<ServiceSpecInput> = {}): ServiceSpecInput => ({
  name,
  containers: [{ command: ['srv'], ports: [{ name: 'http', containerPort: 80 }] }],
  ports: [{ port: 80, targetPort: 80 }],
  ...extra,
});

describe('virtual IP and node port allocation', () => {
  it('gives each service a virtual IP from 127.96.0.0/16, and keeps it across updates', async () => {
    const { app, create } = setup();
    const a = (await create(svc('a'))).json<Service>();
    const b = (await create(svc('b'))).json<Service>();
    assert.equal(a.spec.clusterIP, '127.96.0.1');
    assert.equal(b.spec.clusterIP, '127.96.0.2');
    const updated = await app.inject({ method: 'PUT', url: `${BASE}/a`, payload: { spec: svc('a', { replicas: 3 }) } });
    assert.equal(updated.json<Service>().spec.clusterIP, '127.96.0.1');
  });

  it('takes a clusterIP asked for inside the range, refuses one outside it or taken with 422', async () => {
    const { store, create } = setup();
    assert.equal((await create(svc('a', { clusterIP: '127.96.7.7' }))).json<Service>().spec.clusterIP, '127.96.7.7');
    const outside = await create(svc('b', { clusterIP: '10.0.0.1' }));
    assert.equal(outside.statusCode, 422);
    assert.equal(outside.json<{ code: string }>().code, 'ADDRESS_OUT_OF_RANGE');
    assert.match(outside.json<{ message: string }>().message, /spec\.clusterIP: Invalid value: "10\.0\.0\.1": provided IP is not in the valid range\. The range of valid IPs is 127\.96\.0\.0\/16/);
    const taken = await create(svc('c', { clusterIP: '127.96.7.7' }));
    assert.equal(taken.statusCode, 422);
    assert.match(taken.json<{ message: string }>().message, /provided IP is already allocated/);
    assert.deepEqual(store.listServices().map((s) => s.name), ['a'], 'nothing stored for the refused ones');
  });

  it('has no virtual IP for a headless or an ExternalName service', async () => {
    const { create } = setup();
    assert.equal((await create(svc('h', { clusterIP: 'None' }))).json<Service>().spec.clusterIP, 'None');
    const ext = (await create({ name: 'ext', type: 'ExternalName', externalName: 'db.example.org', containers: [{ command: ['x'] }] })).json<Service>();
    assert.equal(ext.spec.clusterIP, undefined);
  });

  it('serves the seed\'s frontend NodePort 30000, and refuses a second 30000 and 29999 with Kubernetes\' messages', async () => {
    const { create } = setup();
    const frontend = await create(svc('frontend', { type: 'NodePort', ports: [{ port: 80, targetPort: 80, nodePort: 30000 }] }));
    assert.equal(frontend.statusCode, 201);
    assert.equal(frontend.json<Service>().spec.ports[0]?.nodePort, 30000);
    const again = await create(svc('other', { type: 'NodePort', ports: [{ port: 80, targetPort: 80, nodePort: 30000 }] }));
    assert.equal(again.statusCode, 422);
    assert.match(again.json<{ message: string }>().message, /spec\.ports\[0\]\.nodePort: Invalid value: 30000: provided port is already allocated/);
    const low = await create(svc('low', { type: 'NodePort', ports: [{ port: 80, targetPort: 80, nodePort: 29999 }] }));
    assert.equal(low.statusCode, 422);
    assert.equal(low.json<{ code: string }>().code, 'ADDRESS_OUT_OF_RANGE');
    assert.match(low.json<{ message: string }>().message, /spec\.ports\[0\]\.nodePort: Invalid value: 29999: provided port is not in the valid range\. The range of valid ports is 30000-32767/);
  });

  it('checks a node port asked for against the range the server allocates from, naming the field, the range and the fix', async () => {
    const store = openSqliteStore(':memory:');
    const narrow = createApi({ authenticator: adminAuthenticator, store, telemetry: new FakeTelemetry(), node: 'node-1', version: '0.0.0-test', networkRanges: { serviceRange: '127.96.0.0/24', nodePortRange: [31000, 31019] } });
    after(() => narrow.close());
    const create = (spec: ServiceSpecInput) => narrow.inject({ method: 'POST', url: BASE, payload: { spec } });
    const outside = await create(svc('outside', { type: 'NodePort', ports: [{ port: 80, targetPort: 80, nodePort: 30000 }] }));
    assert.equal(outside.statusCode, 422);
    const body = outside.json<{ code: string; message: string; details: { causes: { field: string }[] } }>();
    assert.equal(body.code, 'ADDRESS_OUT_OF_RANGE');
    assert.deepEqual(body.details.causes.map((c) => c.field), ['spec.ports[0].nodePort']);
    assert.match(
      body.message,
      /spec\.ports\[0\]\.nodePort: Invalid value: 30000: provided port is not in the valid range\. The range of valid ports is 31000-31019 \(this server's node-port range, BERTH_NODE_PORT_RANGE\): pick a port in it, or leave nodePort out to have one allocated/,
    );
    const above = await create(svc('above', { type: 'LoadBalancer', ports: [{ port: 80, targetPort: 80, nodePort: 31020 }] }));
    assert.equal(above.statusCode, 422, 'the last port + 1 is outside too');
    assert.deepEqual(store.listServices(), [], 'nothing stored for the refused ones');
    const inside = await create(svc('inside', { type: 'NodePort', ports: [{ port: 80, targetPort: 80, nodePort: 31019 }] }));
    assert.equal(inside.statusCode, 201, inside.body);
    assert.equal(inside.json<Service>().spec.ports[0]?.nodePort, 31019);
    assert.equal((await create(svc('auto', { type: 'NodePort' }))).json<Service>().spec.ports[0]?.nodePort, 31000, 'an allocated one comes from the range');
  });

  it('keeps a node port a service holds from before the range changed: an update that sends it back is not refused, a new one is', async () => {
    const store = openSqliteStore(':memory:');
    const wide = createApi({ authenticator: adminAuthenticator, store, telemetry: new FakeTelemetry(), node: 'node-1', version: '0.0.0-test' });
    after(() => wide.close());
    const held = await wide.inject({ method: 'POST', url: BASE, payload: { spec: svc('old', { type: 'NodePort', ports: [{ port: 80, targetPort: 80, nodePort: 30500 }] }) } });
    assert.equal(held.statusCode, 201);
    // The same store under a server whose range is now 31000-31019 (BERTH_NODE_PORT_RANGE changed).
    const narrow = createApi({ authenticator: adminAuthenticator, store, telemetry: new FakeTelemetry(), node: 'node-1', version: '0.0.0-test', networkRanges: { serviceRange: '127.96.0.0/16', nodePortRange: [31000, 31019] } });
    after(() => narrow.close());
    const kept = await narrow.inject({ method: 'PUT', url: `${BASE}/old`, payload: { spec: svc('old', { type: 'NodePort', replicas: 2, ports: [{ port: 80, targetPort: 80, nodePort: 30500 }] }) } });
    assert.equal(kept.statusCode, 200, kept.body);
    assert.equal(kept.json<Service>().spec.ports[0]?.nodePort, 30500);
    const moved = await narrow.inject({ method: 'PUT', url: `${BASE}/old`, payload: { spec: svc('old', { type: 'NodePort', ports: [{ port: 80, targetPort: 80, nodePort: 30501 }] }) } });
    assert.equal(moved.statusCode, 422);
    assert.match(moved.json<{ message: string }>().message, /nodePort: Invalid value: 30501: .*31000-31019/);
  });

  it('allocates free node ports, keeps them across updates, and drops them when the type goes back to ClusterIP', async () => {
    const { app, create } = setup();
    await create(svc('a', { type: 'NodePort', ports: [{ port: 80, targetPort: 80, nodePort: 30000 }] }));
    const b = (await create(svc('b', { type: 'NodePort' }))).json<Service>();
    assert.equal(b.spec.ports[0]?.nodePort, 30001);
    const lb = await app.inject({ method: 'PUT', url: `${BASE}/b`, payload: { spec: svc('b', { type: 'LoadBalancer' }) } });
    assert.equal(lb.json<Service>().spec.ports[0]?.nodePort, 30001);
    const back = await app.inject({ method: 'PUT', url: `${BASE}/b`, payload: { spec: svc('b', { type: 'ClusterIP' }) } });
    assert.equal(back.json<Service>().spec.ports[0]?.nodePort, undefined);
  });

  it('publishes a port of any type on the node, refuses one another service publishes with 422 PORT_ALLOCATED, and skips published ports when it picks a node port', async () => {
    const { app, create } = setup();
    const web = await create(svc('web', { ports: [{ port: 80, targetPort: 80, published: 30000 }] }));
    assert.equal(web.statusCode, 201);
    assert.deepEqual(web.json<Service>().spec.ports, [{ protocol: 'TCP', port: 80, targetPort: 80, published: 30000 }], 'a ClusterIP service keeps its published port');
    const again = await create(svc('again', { ports: [{ port: 80, targetPort: 80, published: 30000 }] }));
    assert.equal(again.statusCode, 422);
    assert.equal(again.json<{ code: string }>().code, 'PORT_ALLOCATED');
    assert.match(again.json<{ message: string }>().message, /spec\.ports\[0\]\.published: Invalid value: 30000: provided port is already allocated \(TCP 127\.0\.0\.1:30000 is served for service default\/web, its spec\.ports\[0\]\.published\)/);
    const own = await create(svc('own', { type: 'NodePort', ports: [{ port: 80, targetPort: 80, published: 30001 }] }));
    assert.deepEqual(own.json<Service>().spec.ports.map((p) => [p.published, p.nodePort]), [[30001, 30002]], 'the node port skips 30000 (published by web) and 30001 (its own)');
    const moved = await app.inject({ method: 'PUT', url: `${BASE}/web`, payload: { spec: svc('web', { ports: [{ port: 80, targetPort: 80, published: 38080 }] }) } });
    assert.equal(moved.statusCode, 200);
    assert.equal((await create(svc('again', { ports: [{ port: 80, targetPort: 80, published: 30000 }] }))).statusCode, 201, 'a published port moved away is free again');
  });
});
