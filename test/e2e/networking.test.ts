import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cleanup, rangesFor, startBerth, waitFor, type RunningBerth } from './harness.js';
import { echoSpec } from './programs.js';

/** One HTTP GET on a fresh connection (optionally from a given local address); resolves with the body. */
function get(host: string, port: number, localAddress?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path: '/', agent: false, headers: { connection: 'close' }, ...(localAddress ? { localAddress } : {}) }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body.trim()));
    });
    req.on('error', reject);
    req.end();
  });
}

const INSTANCE_RANGE = '127.11.9.0/24';
const NODE_PORTS = rangesFor(INSTANCE_RANGE).BERTH_NODE_PORT_RANGE?.split('-').map(Number) as [number, number];

describe('virtual IPs', () => {
  let berth: RunningBerth;
  before(async () => {
    berth = await startBerth({ instanceRange: INSTANCE_RANGE });
  });
  after(async () => cleanup(berth));

  const ready = async (name: string, n: number) =>
    waitFor(`${n} ${name} instances answering`, async () => {
      const list = (await berth.client.listInstances('default', name, { active: true })).filter((i) => i.status.state === 'running');
      if (list.length !== n) return false;
      return (await Promise.all(list.map((i) => get(i.spec.address, 8080).then(() => true, () => false)))).every(Boolean);
    });

  it('balances 300 requests through the VIP over all three instances, none above 40 %', async () => {
    const svc = await berth.client.createService('default', echoSpec('web', 3), { deploy: true });
    const vip = svc.spec.clusterIP as string;
    assert.match(vip, /^127\.97\.9\./, "the VIP comes from the service range (BERTH_SERVICE_RANGE in tests)");
    await ready('web', 3);
    const counts = new Map<string, number>();
    for (let k = 0; k < 300; k++) {
      const who = await get(vip, 8080);
      counts.set(who, (counts.get(who) ?? 0) + 1);
    }
    assert.equal(counts.size, 3, `answers from ${[...counts.keys()].join(', ')}`);
    for (const [who, n] of counts) assert.ok(n <= 120, `${who} answered ${n} of 300`);
  });

  it('keeps a client on one instance with sessionAffinity ClientIP', async () => {
    const spec = { ...echoSpec('sticky', 3), sessionAffinity: 'ClientIP' as const };
    const svc = await berth.client.createService('default', spec, { deploy: true });
    await ready('sticky', 3);
    for (const client of ['127.0.0.2', '127.0.0.3']) {
      const answers = new Set<string>();
      for (let k = 0; k < 20; k++) answers.add(await get(svc.spec.clusterIP as string, 8080, client));
      assert.equal(answers.size, 1, `client ${client} stayed on one instance: ${[...answers].join(', ')}`);
    }
  });

  it('gives instances the Kubernetes discovery variables of the services that exist when they start', async () => {
    const web = await berth.client.getService('default', 'web');
    await berth.client.createService('default', { name: 'env-check', containers: [{ command: 'env; sleep 300', stopGracePeriod: '1s' }] }, { deploy: true });
    const lines = await waitFor('env printed', async () => {
      const out: string[] = [];
      for await (const l of berth.client.logs('default', 'env-check')) out.push(l.text);
      return out.some((l) => l.startsWith('WEB_SERVICE_HOST=')) ? out : undefined;
    });
    assert.ok(lines.includes(`WEB_SERVICE_HOST=${web.spec.clusterIP}`));
    assert.ok(lines.includes('WEB_SERVICE_PORT=8080'));
    assert.ok(lines.includes(`WEB_PORT_8080_TCP_ADDR=${web.spec.clusterIP}`));
  });

  it('proxies a service without containers to endpoints set by hand, to a server outside berth', async () => {
    const outside = createServer((_req, res) => res.end('outside\n'));
    await new Promise<void>((resolve) => outside.listen(0, '127.0.0.77', resolve));
    try {
      const port = (outside.address() as AddressInfo).port;
      const svc = await berth.client.createService('default', { name: 'legacy-db', containers: [], endpoints: [], ports: [{ port: 7000 }] });
      await berth.client.setEndpoints('default', 'legacy-db', [`127.0.0.77:${port}`]);
      assert.equal(await waitFor('the VIP answers', () => get(svc.spec.clusterIP as string, 7000).catch(() => undefined)), 'outside');
      const endpoints = await berth.client.endpoints('default', 'legacy-db');
      assert.deepEqual(endpoints.endpoints.map((e) => [e.ip, e.ports[''], e.ready]), [['127.0.0.77', port, true]]);
    } finally {
      outside.close();
    }
  });

  it('serves the seed\'s NodePort frontend on the node port it asks for, refuses a second service on it, and one outside the server\'s range', async () => {
    // The seed asks for 30000, the first port of the default range; this server's range is its own
    // (harness rangesFor, so parallel test servers never share node ports), and a node port asked for
    // must lie in it.
    const [first, last] = NODE_PORTS;
    const frontend = {
      ...echoSpec('frontend', 2),
      type: 'NodePort' as const,
      ports: [{ port: 80, targetPort: 8080, nodePort: first }],
    };
    await berth.client.createService('default', frontend, { deploy: true });
    await ready('frontend', 2);
    const answers = new Set<string>();
    for (let k = 0; k < 10; k++) answers.add(await waitFor('node port answers', () => get('127.0.0.1', first).catch(() => undefined)));
    assert.equal(answers.size, 2, 'both instances answer through the node port');
    await assert.rejects(
      berth.client.createService('default', { ...echoSpec('frontend2', 1), type: 'NodePort', ports: [{ port: 80, targetPort: 8080, nodePort: first }] }),
      /provided port is already allocated/,
    );
    await assert.rejects(
      berth.client.createService('default', { ...echoSpec('frontend3', 1), type: 'NodePort', ports: [{ port: 80, targetPort: 8080, nodePort: 30000 }] }),
      new RegExp(`spec\\.ports\\[0\\]\\.nodePort: Invalid value: 30000: provided port is not in the valid range\\. The range of valid ports is ${first}-${last}`),
    );
  });

  it('loses no request through the VIP when one of three instances is killed (the proxy retries a refused connect)', async () => {
    const svc = await berth.client.createService('default', echoSpec('steady', 3), { deploy: true });
    await ready('steady', 3);
    const vip = svc.spec.clusterIP as string;
    const victim = (await berth.client.listInstances('default', 'steady', { active: true }))[0];
    assert.ok(victim);
    let failures = 0;
    let done = 0;
    const errors: string[] = [];
    let killedAt = 0;
    const loop = (async () => {
      for (let k = 0; k < 400; k++) {
        try {
          await get(vip, 8080);
        } catch (error) {
          failures++;
          errors.push(`request ${k} (${Date.now() - killedAt} ms after the kill): ${(error as Error).message}`);
        }
        done++;
      }
    })();
    // Follow the endpoints to time how soon the dead address leaves them.
    const abort = new AbortController();
    let leftAfterMs = -1;
    const following = (async () => {
      try {
        for await (const e of berth.client.followEndpoints('default', 'steady', { signal: abort.signal })) {
          if (killedAt > 0 && !e.endpoints.some((x) => x.ip === victim.spec.address && x.ready)) {
            leftAfterMs = Date.now() - killedAt;
            return;
          }
        }
      } catch {
        // aborted
      }
    })();
    await waitFor('the loop under way', () => done >= 50);
    killedAt = Date.now();
    process.kill(victim.status.containers?.[0]?.pid ?? 0, 'SIGKILL');
    await loop;
    abort.abort();
    await following;
    assert.equal(failures, 0, `${failures} of ${done} requests failed: ${errors.join('; ')}`);
    assert.ok(leftAfterMs >= 0 && leftAfterMs < 1000, `the dead address left the endpoints after ${leftAfterMs} ms`);
    console.log(`# the killed instance left the endpoints ${leftAfterMs} ms after the kill`);
  });

  it('switches a running service ClusterIP → NodePort → LoadBalancer without restarting its instances', async () => {
    const created = await berth.client.createService('default', { ...echoSpec('switch', 2), ports: [{ port: 18080, targetPort: 8080 }] }, { deploy: true });
    await ready('switch', 2);
    const before = (await berth.client.listInstances('default', 'switch', { active: true })).map((i) => i.id).sort();
    const asNodePort = await berth.client.updateService('default', 'switch', { ...echoSpec('switch', 2), type: 'NodePort', ports: [{ port: 18080, targetPort: 8080 }] });
    const nodePort = asNodePort.spec.ports[0]?.nodePort;
    assert.ok(nodePort !== undefined && nodePort >= 30000 && nodePort <= 32767);
    assert.equal(asNodePort.spec.clusterIP, created.spec.clusterIP, 'the VIP is kept');
    await waitFor('the node port answers', () => get('127.0.0.1', nodePort).catch(() => undefined));
    const asLb = await berth.client.updateService('default', 'switch', { ...echoSpec('switch', 2), type: 'LoadBalancer', ports: [{ port: 18080, targetPort: 8080 }] });
    assert.equal(asLb.spec.ports[0]?.nodePort, nodePort, 'the node port is kept');
    const lb = await waitFor('a load-balancer address', async () => (await berth.client.endpoints('default', 'switch')).loadBalancerIPs[0]);
    await waitFor('the load-balancer address answers', () => get(lb, 18080).catch(() => undefined));
    const after = (await berth.client.listInstances('default', 'switch', { active: true })).map((i) => i.id).sort();
    assert.deepEqual(after, before, 'no instance was replaced');
  });

  it('serves the instances of other services whose labels match a selector', async () => {
    await berth.client.createService('default', { ...echoSpec('blue', 2), labels: { app: 'shop' } }, { deploy: true });
    await berth.client.createService('default', { ...echoSpec('green', 1), labels: { app: 'shop' } }, { deploy: true });
    await ready('blue', 2);
    await ready('green', 1);
    const front = await berth.client.createService('default', { name: 'shop', containers: [], selector: { app: 'shop' }, ports: [{ port: 9000, targetPort: 8080 }] });
    const answers = new Set<string>();
    await waitFor('three instances behind the selector', async () => (await berth.client.endpoints('default', 'shop')).endpoints.filter((e) => e.ready).length === 3);
    // The API shows the endpoints as soon as they are stored; the proxy opens the new VIP's listener a
    // moment later (as kube-proxy programs its rules after the Endpoints object changes).
    await waitFor('the VIP answers', () => get(front.spec.clusterIP as string, 9000).catch(() => undefined));
    for (let k = 0; k < 30; k++) answers.add(await get(front.spec.clusterIP as string, 9000));
    assert.equal(answers.size, 3, `answers from ${[...answers].join(', ')}`);
    assert.ok([...answers].some((a) => a.startsWith('green-')) && [...answers].some((a) => a.startsWith('blue-')));
  });
});
