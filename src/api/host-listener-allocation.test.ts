import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Service, ServiceSpecInput } from '../model/index.js';
import { parseServiceSpec } from '../model/index.js';
import { openSqliteStore } from '../store/index.js';
import type { HostPortProbe } from './index.js';
import { adminAuthenticator } from './testing/fixtures.js';
import { DEFAULT_NETWORK_RANGES, FakeTelemetry, allocateNetwork, createApi } from './index.js';
import { reservedListeners } from './network-allocation.js';

/*
 * Issue 9 §4: external IPs that are not one host address, the server's own listeners, and every host
 * listener (VIP, external IP, LoadBalancer port, node port) allocated in one table, refused at
 * create/update with the field named and nothing stored.
 */

const BASE = '/v1/grids/default/services';

interface Body {
  readonly code: string;
  readonly message: string;
  readonly details: { readonly causes?: readonly { readonly field: string }[] };
}

function setup(options: { dnsAddress?: string; hostPorts?: HostPortProbe; nodePortRange?: [number, number] } = {}) {
  const store = openSqliteStore(':memory:');
  const app = createApi({
    authenticator: adminAuthenticator,
    store,
    telemetry: new FakeTelemetry(),
    node: 'node-1',
    version: '0.0.0-test',
    ...(options.dnsAddress !== undefined ? { dnsAddress: options.dnsAddress } : {}),
    ...(options.hostPorts !== undefined ? { hostPorts: options.hostPorts } : {}),
    networkRanges: { serviceRange: '127.96.0.0/16', nodePortRange: options.nodePortRange ?? [30000, 32767] },
  });
  after(() => app.close());
  const create = async (spec: ServiceSpecInput) => {
    const r = await app.inject({ method: 'POST', url: BASE, payload: { spec } });
    return { status: r.statusCode, body: r.json<Body & Service>() };
  };
  const update = async (spec: ServiceSpecInput) => {
    const r = await app.inject({ method: 'PUT', url: `${BASE}/${spec.name}`, payload: { spec } });
    return { status: r.statusCode, body: r.json<Body & Service>() };
  };
  const names = () => store.listServices().map((s) => s.name);
  return { store, app, create, update, names };
}

const svc = (name: string, extra: Partial<ServiceSpecInput> = {}): ServiceSpecInput => ({
  name,
  containers: [{ command: ['srv'], ports: [{ containerPort: 8080 }] }],
  ports: [{ port: 80, targetPort: 8080 }],
  ...extra,
});

describe('external IPs that are not one host address', () => {
  for (const [ip, words] of [
    ['0.0.0.0', /may not be unspecified/],
    ['0.1.2.3', /may not be unspecified/],
    ['::', /must be an IPv4 address/],
    ['224.0.0.251', /may not be a multicast address/],
    ['239.255.255.250', /may not be a multicast address/],
    ['255.255.255.255', /may not be the broadcast address/],
  ] as const) {
    it(`refuses ${ip} with 400 naming spec.externalIPs[1], storing nothing`, async () => {
      const { create, names } = setup();
      const r = await create(svc('web', { externalIPs: ['127.0.0.5', ip] }));
      assert.equal(r.status, 400);
      assert.equal(r.body.code, 'SPEC_INVALID');
      assert.deepEqual(r.body.details.causes?.map((c) => c.field), ['spec.externalIPs[1]']);
      assert.match(r.body.message, words);
      assert.deepEqual(names(), []);
    });
  }

  it('refuses 0.0.0.0 on update too, and the stored spec stays', async () => {
    const { create, update, store } = setup();
    assert.equal((await create(svc('web', { externalIPs: ['127.0.0.5'] }))).status, 201);
    const r = await update(svc('web', { externalIPs: ['0.0.0.0'] }));
    assert.equal(r.status, 400);
    assert.deepEqual(store.getService('default', 'web')?.spec.externalIPs, ['127.0.0.5']);
  });

  it('takes a loopback address other than the node address (berth runs on 127.0.0.0/8)', async () => {
    const { create } = setup();
    assert.equal((await create(svc('web', { externalIPs: ['127.0.0.5'] }))).status, 201);
  });
});

describe("the server's own listeners", () => {
  it("refuses the DNS server's address as an external IP (TCP and UDP) or a LoadBalancer port, with 400 naming the field", async () => {
    const { create, names } = setup({ dnsAddress: '127.0.0.1:7453' });
    const tcp = await create(svc('a', { externalIPs: ['127.0.0.1'], ports: [{ port: 7453, targetPort: 8080 }] }));
    assert.equal(tcp.status, 400);
    assert.match(tcp.body.message, /spec\.externalIPs\[0\]: Invalid value: "127\.0\.0\.1": TCP 127\.0\.0\.1:7453 is berth's DNS server's own address/);
    const udp = await create(svc('b', { externalIPs: ['127.0.0.1'], ports: [{ port: 7453, targetPort: 8080, protocol: 'UDP' }] }));
    assert.equal(udp.status, 400);
    assert.match(udp.body.message, /UDP 127\.0\.0\.1:7453 is berth's DNS server's own address/);
    const lb = await create(svc('c', { type: 'LoadBalancer', ports: [{ port: 7453, targetPort: 8080 }] }));
    assert.equal(lb.status, 400);
    assert.deepEqual(lb.body.details.causes?.map((c) => c.field), ['spec.ports[0].port']);
    assert.deepEqual(names(), []);
    assert.equal((await create(svc('d', { externalIPs: ['127.0.0.2'], ports: [{ port: 7453, targetPort: 8080 }] }))).status, 201, 'the same port on another address is fine');
  });

  it("refuses a published port on the DNS server's address, naming ports[i].published", async () => {
    const { create, names } = setup({ dnsAddress: '127.0.0.1:7453' });
    const r = await create(svc('a', { ports: [{ port: 80, targetPort: 8080, published: 7453 }] }));
    assert.equal(r.status, 400);
    assert.deepEqual(r.body.details.causes?.map((c) => c.field), ['spec.ports[0].published']);
    assert.match(r.body.message, /spec\.ports\[0\]\.published: Invalid value: 7453: TCP 127\.0\.0\.1:7453 is berth's DNS server's own address .*give another port/);
    assert.deepEqual(names(), []);
  });

  it("refuses the API's own address once it listens, on create and on update", async () => {
    const { app, create, update } = setup();
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as { port: number }).port;
    const r = await create(svc('a', { externalIPs: ['127.0.0.1'], ports: [{ port, targetPort: 8080 }] }));
    assert.equal(r.status, 400);
    assert.match(r.body.message, new RegExp(`TCP 127\\.0\\.0\\.1:${port} is the berth API's own address`));
    assert.equal((await create(svc('b', { ports: [{ port, targetPort: 8080 }] }))).status, 201, 'its VIP may use the port number');
    const u = await update(svc('b', { type: 'LoadBalancer', ports: [{ port, targetPort: 8080 }] }));
    assert.equal(u.status, 400);
    assert.match(u.body.message, /spec\.ports\[0\]\.port/);
  });
});

describe('one table of host listeners', () => {
  it('refuses a second LoadBalancer service on the same port with 422 PORT_ALLOCATED naming the holder', async () => {
    const { create, names } = setup();
    assert.equal((await create(svc('b', { type: 'LoadBalancer' }))).status, 201);
    const r = await create(svc('a', { type: 'LoadBalancer' }));
    assert.equal(r.status, 422);
    assert.equal(r.body.code, 'PORT_ALLOCATED');
    assert.match(r.body.message, /spec\.ports\[0\]\.port: Invalid value: 80: provided port is already allocated \(TCP 127\.0\.0\.1:80 is served for service default\/b, its spec\.ports\[0\]\.port\)/);
    assert.deepEqual(names(), ['b']);
    assert.equal((await create(svc('c', { type: 'LoadBalancer', ports: [{ port: 80, targetPort: 8080, protocol: 'UDP' }] }))).status, 201, 'UDP 80 is another listener');
  });

  it('refuses an external IP and port another service serves, and an update that asks for one', async () => {
    const { create, update, store } = setup();
    await create(svc('a', { externalIPs: ['127.0.0.5'] }));
    const r = await create(svc('b', { externalIPs: ['127.0.0.6', '127.0.0.5'] }));
    assert.equal(r.status, 422);
    assert.deepEqual(r.body.details.causes?.map((c) => c.field), ['spec.externalIPs[1]']);
    assert.equal((await create(svc('b', { externalIPs: ['127.0.0.5'], ports: [{ port: 81, targetPort: 8080 }] }))).status, 201, 'another port of the address is free');
    const u = await update(svc('b', { externalIPs: ['127.0.0.5'], ports: [{ port: 80, targetPort: 8080 }] }));
    assert.equal(u.status, 422);
    assert.equal(store.getService('default', 'b')?.spec.ports[0]?.port, 81, 'the refused update changed nothing');
  });

  it('sees an external IP on a node address and a node port, or a LoadBalancer port and a node port, as one listener', async () => {
    const { create } = setup();
    await create(svc('np', { type: 'NodePort', ports: [{ port: 80, targetPort: 8080, nodePort: 30005 }] }));
    const ext = await create(svc('ext', { externalIPs: ['127.0.0.1'], ports: [{ port: 30005, targetPort: 8080 }] }));
    assert.equal(ext.status, 422);
    assert.match(ext.body.message, /spec\.externalIPs\[0\].*TCP 127\.0\.0\.1:30005 is served for service default\/np, its spec\.ports\[0\]\.nodePort/);
    const lb = await create(svc('lb', { type: 'LoadBalancer', ports: [{ port: 30005, targetPort: 8080 }] }));
    assert.equal(lb.status, 422);
    assert.deepEqual(lb.body.details.causes?.map((c) => c.field), ['spec.ports[0].port']);
  });

  it('refuses an external IP on another service\'s virtual IP and port, and chooses a VIP no external IP uses', async () => {
    const { create } = setup();
    const a = await create(svc('a'));
    const vip = a.body.spec.clusterIP as string;
    const r = await create(svc('b', { externalIPs: [vip] }));
    assert.equal(r.status, 422);
    assert.match(r.body.message, /is served for service default\/a, its spec\.clusterIP/);
    await create(svc('c', { externalIPs: ['127.96.0.2'] }));
    const d = await create(svc('d'));
    assert.notEqual(d.body.spec.clusterIP, '127.96.0.2', 'the lowest free VIP skips an address another service listens on');
  });

  it('chooses a node port that no LoadBalancer port or external IP on a node address uses', async () => {
    const { create } = setup();
    await create(svc('lb', { type: 'LoadBalancer', ports: [{ port: 30000, targetPort: 8080, nodePort: 30002 }] }));
    await create(svc('ext', { externalIPs: ['127.0.0.1'], ports: [{ port: 30001, targetPort: 8080 }] }));
    const np = await create(svc('np', { type: 'NodePort' }));
    assert.equal(np.status, 201);
    assert.equal(np.body.spec.ports[0]?.nodePort, 30003);
  });

  it('chooses a node port that no other program holds, and keeps one asked for even if held (the condition shows it)', async () => {
    const held = new Set([30000, 30001]);
    const asked: string[] = [];
    const { create, update } = setup({ hostPorts: { heldPorts: (protocol, hosts) => (asked.push(`${protocol} ${hosts.join(',')}`), protocol === 'TCP' ? held : new Set()) } });
    const a = await create(svc('a', { type: 'NodePort' }));
    assert.equal(a.body.spec.ports[0]?.nodePort, 30002);
    assert.deepEqual(asked, ['TCP 127.0.0.1']);
    held.add(30002);
    const kept = await update(svc('a', { type: 'NodePort', replicas: 2 }));
    assert.equal(kept.body.spec.ports[0]?.nodePort, 30002, 'an allocated node port is kept (it is berth that holds it now)');
    const explicit = await create(svc('b', { type: 'NodePort', ports: [{ port: 80, targetPort: 8080, nodePort: 30000 }] }));
    assert.equal(explicit.status, 201);
    assert.equal((await create(svc('c', { type: 'NodePort', ports: [{ port: 80, targetPort: 8080, protocol: 'UDP' }] }))).body.spec.ports[0]?.nodePort, 30000, 'UDP has its own ports');
  });

  it('frees the listeners of a removed service', async () => {
    const { app, create, store } = setup();
    await create(svc('a', { type: 'LoadBalancer' }));
    await app.inject({ method: 'DELETE', url: `${BASE}/a` });
    assert.equal((await create(svc('b', { type: 'LoadBalancer' }))).status, 422, 'held while a is being removed');
    store.applyControllerWrites({ deleteServices: [{ grid: 'default', name: 'a' }] });
    assert.equal((await create(svc('b', { type: 'LoadBalancer' }))).status, 201);
    assert.deepEqual(store.listHostListeners().filter((l) => l.kind === 'loadBalancerIP').map((l) => l.service), ['b']);
  });

  it('refuses a rollback to a spec whose LoadBalancer port another service took since', async () => {
    const { app, create, update } = setup();
    await app.inject({ method: 'POST', url: BASE, payload: { spec: svc('a', { type: 'LoadBalancer' }), deploy: true } });
    await app.inject({ method: 'PUT', url: `${BASE}/a`, payload: { spec: svc('a'), deploy: true } });
    // b takes the LoadBalancer port 80 (its node port differs from the one a's old spec keeps).
    assert.equal((await create(svc('b', { type: 'LoadBalancer', ports: [{ port: 80, targetPort: 8080, nodePort: 30100 }] }))).status, 201);
    const r = await app.inject({ method: 'POST', url: `${BASE}/a/rollback`, payload: {} });
    assert.equal(r.statusCode, 422);
    assert.equal(r.json<Body>().code, 'PORT_ALLOCATED');
    assert.deepEqual(r.json<Body>().details.causes?.map((c) => c.field), ['spec.ports[0].port']);
    assert.equal((await update(svc('a', { replicas: 2 }))).body.spec.type, 'ClusterIP');
  });
});

describe('addresses that depend on the host', () => {
  it("refuses a subnet's broadcast address (127.255.255.255 on lo) as an external IP", async () => {
    const hostPorts: HostPortProbe = { heldPorts: () => new Set(), broadcastAddresses: () => [{ address: '127.255.255.255', subnet: '127.0.0.1/8 (lo)' }] };
    const { create, names } = setup({ hostPorts });
    const r = await create(svc('web', { externalIPs: ['127.255.255.255'] }));
    assert.equal(r.status, 400);
    assert.match(r.body.message, /spec\.externalIPs\[0\]: Invalid value: "127\.255\.255\.255": may not be a broadcast address \(it is the broadcast address of 127\.0\.0\.1\/8 \(lo\) on this host\)/);
    assert.deepEqual(names(), []);
  });

  it('sees a server listening on the wildcard address as holding its port on every address', () => {
    const reserved = reservedListeners({ address: '0.0.0.0', port: 7420 }, '127.0.0.1:7453');
    assert.throws(
      () => allocateNetwork(parseServiceSpec(svc('web', { externalIPs: ['127.0.0.5'], ports: [{ port: 7420, targetPort: 8080 }] })), { others: [], ranges: DEFAULT_NETWORK_RANGES, reserved }),
      /spec\.externalIPs\[0\]: Invalid value: "127\.0\.0\.5": TCP 127\.0\.0\.5:7420 is the berth API's own address \(TCP 0\.0\.0\.0:7420\)/,
    );
    assert.doesNotThrow(() => allocateNetwork(parseServiceSpec(svc('web', { externalIPs: ['127.0.0.5'], ports: [{ port: 7421, targetPort: 8080 }] })), { others: [], ranges: DEFAULT_NETWORK_RANGES, reserved }));
  });

  it("keeps the Docker API face's TCP listeners from services (its unix sockets hold no port)", () => {
    const reserved = reservedListeners(null, undefined, { dockerApi: ['unix:///data/docker.sock', 'tcp://127.0.0.5:2375'] });
    assert.deepEqual(reserved, [{ protocol: 'TCP', host: '127.0.0.5', port: 2375, owner: "berth's Docker API" }]);
    assert.throws(
      () => allocateNetwork(parseServiceSpec(svc('web', { externalIPs: ['127.0.0.5'], ports: [{ port: 2375, targetPort: 8080 }] })), { others: [], ranges: DEFAULT_NETWORK_RANGES, reserved }),
      /TCP 127\.0\.0\.5:2375 is berth's Docker API's own address/,
    );
  });
});
