import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import net from 'node:net';
import { networkInterfaces } from 'node:os';
import { isApiError } from '../../src/client/index.js';
import type { Service } from '../../src/model/index.js';
import { BIN, cleanup, cliEnv, rangesFor, startBerth, waitFor, type RunningBerth } from './harness.js';
import { echoSpec } from './programs.js';

/*
 * Issue 9 §4, "Network exposure and listener conflicts", each reproduction against the real server:
 * 0.0.0.0 and the server's own API/DNS addresses refused as external IPs, two LoadBalancer services on
 * one port, a node port chosen while another program holds it, and listeners that cannot be opened
 * (EADDRINUSE from a real holder, EADDRNOTAVAIL) shown on the service and retried until they open.
 */

const INSTANCE_RANGE = '127.11.63.0/24';
/** rangesFor(INSTANCE_RANGE): node ports 32260–32279. */
const NODE_PORTS = rangesFor(INSTANCE_RANGE).BERTH_NODE_PORT_RANGE?.split('-').map(Number) as [number, number];

function berth(url: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, '--host', url, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...cliEnv(url) }, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function get(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path: '/', agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body.trim()));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A real listener of another program (this test process) on host:port. */
async function hold(host: string, port: number): Promise<net.Server> {
  const server = net.createServer((s) => s.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, resolve);
  });
  return server;
}

async function refusal(p: Promise<unknown>): Promise<{ status: number; code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    if (isApiError(e)) return { status: e.status, code: e.code, message: e.message };
    throw e;
  }
  assert.fail('the request was accepted');
}

const listenersOpen = (s: Service) => s.status.conditions?.find((c) => c.type === 'ListenersOpen');

describe('network exposure and listener conflicts (issue 9 §4)', { timeout: 120_000 }, () => {
  let server: RunningBerth;
  let apiPort: number;
  let dnsPort: number;
  before(async () => {
    server = await startBerth({ instanceRange: INSTANCE_RANGE });
    apiPort = Number(new URL(server.url).port);
    dnsPort = Number((await server.client.version()).dns?.split(':')[1]);
  });
  after(async () => cleanup(server));

  it('refuses 0.0.0.0, ::, multicast and broadcast (limited, and lo\'s directed) external IPs with 400 naming the field, and stores nothing', async () => {
    for (const ip of ['0.0.0.0', '::', '224.0.0.251', '255.255.255.255', '127.255.255.255']) {
      const r = await refusal(server.client.createService('default', { ...echoSpec('wide', 1), externalIPs: [ip], ports: [{ port: 24601, targetPort: 8080 }] }));
      assert.equal(r.status, 400, `${ip}: ${r.message}`);
      assert.equal(r.code, 'SPEC_INVALID');
      assert.match(r.message, /spec\.externalIPs\[0\]/, ip);
    }
    const zero = await refusal(server.client.createService('default', { ...echoSpec('wide', 1), externalIPs: ['0.0.0.0'] }));
    assert.match(zero.message, /may not be unspecified/);
    assert.deepEqual((await server.client.listServices('default')).map((s) => s.name), []);
    // The CLI says the same and exits non-zero.
    const cli = berth(server.url, ['service', 'create', '--cmd', 'sleep 30', '--port', '24601', '--external-ip', '0.0.0.0', 'wide']);
    assert.equal(cli.status, 1, cli.stdout);
    assert.match(cli.stderr, /spec\.externalIPs\[0\].*0\.0\.0\.0/);
  });

  it("refuses the API's own address and the DNS server's as a service's listeners (400 naming the field)", async () => {
    const api = await refusal(server.client.createService('default', { ...echoSpec('squat', 1), externalIPs: ['127.0.0.1'], ports: [{ port: apiPort, targetPort: 8080 }] }));
    assert.equal(api.status, 400);
    assert.match(api.message, /spec\.externalIPs\[0\]: Invalid value: "127\.0\.0\.1": TCP 127\.0\.0\.1:\d+ is the berth API's own address/);
    const dnsUdp = await refusal(server.client.createService('default', { ...echoSpec('squat', 1), externalIPs: ['127.0.0.1'], ports: [{ port: dnsPort, targetPort: 8080, protocol: 'UDP' }] }));
    assert.equal(dnsUdp.status, 400);
    assert.match(dnsUdp.message, /berth's DNS server's own address/);
    const lb = await refusal(server.client.createService('default', { ...echoSpec('squat', 1), type: 'LoadBalancer', ports: [{ port: apiPort, targetPort: 8080 }] }));
    assert.equal(lb.status, 400);
    assert.match(lb.message, /spec\.ports\[0\]\.port: Invalid value: \d+: .*berth API's own address/);
    assert.deepEqual((await server.client.listServices('default')).map((s) => s.name), []);
    assert.equal((await fetch(`${server.url}/v1/version`)).status, 200, 'the API still answers on its address');
  });

  it('refuses a second LoadBalancer service on a port the first holds (422 PORT_ALLOCATED); the first serves', async () => {
    const first = await server.client.createService('default', { ...echoSpec('lb-a', 1), type: 'LoadBalancer', ports: [{ port: 24611, targetPort: 8080 }] }, { deploy: true });
    assert.equal(first.spec.type, 'LoadBalancer');
    // Names that sort before lb-a: before, the proxy's first-come rule gave the port to this one.
    const second = await refusal(server.client.createService('default', { ...echoSpec('lb-0', 1), type: 'LoadBalancer', ports: [{ port: 24611, targetPort: 8080 }] }, { deploy: true }));
    assert.equal(second.status, 422);
    assert.equal(second.code, 'PORT_ALLOCATED');
    assert.match(second.message, /spec\.ports\[0\]\.port: Invalid value: 24611: provided port is already allocated \(TCP 127\.0\.0\.1:24611 is served for service default\/lb-a/);
    // And on update: a ClusterIP service turned LoadBalancer on the same port.
    await server.client.createService('default', { ...echoSpec('lb-b', 1), ports: [{ port: 24611, targetPort: 8080 }] });
    const update = await refusal(server.client.updateService('default', 'lb-b', { ...echoSpec('lb-b', 1), type: 'LoadBalancer', ports: [{ port: 24611, targetPort: 8080 }] }));
    assert.equal(update.code, 'PORT_ALLOCATED');
    assert.equal((await server.client.getService('default', 'lb-b')).spec.type, 'ClusterIP', 'the refused update changed nothing');
    assert.match(await waitFor('lb-a answers on 127.0.0.1:24611', () => get('127.0.0.1', 24611).catch(() => undefined)), /^lb-a-/);
    await server.client.removeService('default', 'lb-b');
  });

  it('skips a node port that another program holds when it chooses one, and serves on the one it chose', async () => {
    // The port the server would choose now: ask for one, remove that service, then hold the port.
    const probe = await server.client.createService('default', { ...echoSpec('probe-np', 1), type: 'NodePort', ports: [{ port: 80, targetPort: 8080 }] });
    const low = probe.spec.ports[0]?.nodePort as number;
    await server.client.removeService('default', 'probe-np');
    await waitFor('probe-np removed', async () => !(await server.client.listServices('default')).some((s) => s.name === 'probe-np'));
    const holder = await hold('127.0.0.1', low);
    try {
      const svc = await server.client.createService('default', { ...echoSpec('auto-np', 1), type: 'NodePort', ports: [{ port: 80, targetPort: 8080 }] }, { deploy: true });
      const nodePort = svc.spec.ports[0]?.nodePort;
      assert.ok(nodePort !== undefined && nodePort !== low && nodePort >= NODE_PORTS[0] && nodePort <= NODE_PORTS[1], `chose ${nodePort}, not the held ${low}`);
      assert.match(await waitFor('the chosen node port answers', () => get('127.0.0.1', nodePort).catch(() => undefined)), /^auto-np-/);
      const shown = await waitFor('the condition settles', async () => {
        const s = await server.client.getService('default', 'auto-np');
        return (await server.client.endpoints('default', 'auto-np')).endpoints.some((e) => e.ready) ? s : undefined;
      });
      assert.equal(listenersOpen(shown), undefined, 'every listener opened: no condition to report');
    } finally {
      holder.close();
    }
  });

  it('shows a node port another program holds (EADDRINUSE) in show, ls, events and why, retries it, and serves once it is free', async () => {
    const port = NODE_PORTS[1];
    const holder = await hold('127.0.0.1', port);
    let released = false;
    try {
      await server.client.createService('default', { ...echoSpec('held', 1), type: 'NodePort', ports: [{ port: 80, targetPort: 8080, nodePort: port }] }, { deploy: true });
      const failing = await waitFor('ListenersOpen False', async () => {
        const s = await server.client.getService('default', 'held');
        return listenersOpen(s)?.status === 'False' ? s : undefined;
      });
      const condition = listenersOpen(failing);
      assert.equal(condition?.reason, 'EADDRINUSE');
      assert.deepEqual(condition?.listeners?.map((l) => [l.listener, l.kind, l.error]), [[`TCP 127.0.0.1:${port}`, 'nodePort', 'EADDRINUSE']]);

      const show = berth(server.url, ['service', 'show', 'held']);
      assert.equal(show.status, 0, show.stderr);
      assert.match(show.stdout, /ListenersOpen: False \(EADDRINUSE\)/);
      assert.match(show.stdout, new RegExp(`TCP 127\\.0\\.0\\.1:${port} \\(node port of 80/TCP\\) cannot be opened: EADDRINUSE`));
      const ls = berth(server.url, ['service', 'ls']);
      assert.match(ls.stdout, /held .*\(1 listener not open\)/);
      assert.match(ls.stderr, new RegExp(`warning: held: TCP 127\\.0\\.0\\.1:${port} .*EADDRINUSE`));
      const why = berth(server.url, ['service', 'why', 'held']);
      assert.match(why.stdout, new RegExp(`TCP 127\\.0\\.0\\.1:${port} \\(node port of 80/TCP\\) cannot be opened: EADDRINUSE \\(listen EADDRINUSE: address already in use`));
      assert.match(why.stdout, /another program holds/);
      const events = berth(server.url, ['service', 'events', 'held']);
      assert.match(events.stdout, /service\.listener_failed/);

      holder.close();
      released = true;
      const releasedAt = Date.now();
      // Retried with back-off (1 s, 2 s, 4 s …): it opens, the condition clears, traffic flows.
      const open = await waitFor('ListenersOpen True', async () => {
        const s = await server.client.getService('default', 'held');
        return listenersOpen(s)?.status === 'True' ? s : undefined;
      }, { timeoutMs: 40_000, intervalMs: 200 });
      assert.equal(listenersOpen(open)?.reason, 'Open');
      console.log(`# the held node port opened ${Date.now() - releasedAt} ms after its holder closed it (failing for ${releasedAt - Date.parse(condition?.lastTransitionTime ?? '')} ms before)`);
      assert.match(await waitFor('the node port answers', () => get('127.0.0.1', port).catch(() => undefined)), /^held-/);
      assert.doesNotMatch(berth(server.url, ['service', 'ls']).stderr, /warning: held/);
      assert.match(berth(server.url, ['service', 'events', 'held']).stdout, /service\.listener_opened/);
    } finally {
      if (!released) holder.close();
    }
  });

  it('shows an external IP that is not an address of this host (EADDRNOTAVAIL) with its errno in why', async () => {
    // A documentation address (RFC 5737) that no interface of this host has.
    const mine = new Set(Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address)));
    const away = ['198.51.100.77', '203.0.113.77', '192.0.2.77'].find((ip) => !mine.has(ip)) as string;
    const re = away.replace(/\./g, '\\.');
    await server.client.createService('default', { ...echoSpec('elsewhere', 1), externalIPs: [away], ports: [{ port: 24621, targetPort: 8080 }] });
    await waitFor('ListenersOpen False', async () => listenersOpen(await server.client.getService('default', 'elsewhere'))?.reason === 'EADDRNOTAVAIL');
    const why = berth(server.url, ['service', 'why', 'elsewhere']);
    assert.match(why.stdout, new RegExp(`TCP ${re}:24621 \\(external IP of 24621/TCP\\) cannot be opened: EADDRNOTAVAIL`));
    assert.match(why.stdout, new RegExp(`${re} is not an address of this host`));
    // The VIP of the same port is open meanwhile: only the external IP is reported.
    const s = await server.client.getService('default', 'elsewhere');
    assert.deepEqual(listenersOpen(s)?.listeners?.map((l) => l.listener), [`TCP ${away}:24621`]);
  });
});
