import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type Dockerode from 'dockerode';
import { dockerForTests } from '../../src/drivers/docker/engine-gate.js';
import { testImage } from '../../src/drivers/docker/test-images.js';
import { cleanup, startBerth, waitFor, type DockerOptions, type RunningBerth } from './harness.js';
import { appContainer, cli, dockerNetworkFor, execIn, removeDockerState } from './docker-harness.js';
import { HTTP_APP } from './docker-programs.js';

/*
 * Issue 10, acceptance: container networking, with real containers. The containers of one instance
 * share its network namespace (a DevSpace component, a Kubernetes pod): a sidecar reaches the app at
 * localhost:8080. A container reaches another service by its short name (`database:3306`, through
 * berth's DNS on the bridge gateway with the grid's search domains), through its virtual IP, and from
 * the discovery env vars; `nslookup my-nginx` answers the virtual IP, as on the Kubernetes page.
 */

const docker = await dockerForTests();
const engine = (): Dockerode => {
  if (!docker) throw new Error('no Docker engine');
  return docker;
};
const skip = docker ? undefined : 'no Docker engine answers (see the SKIP line above)';
const RANGE = '127.11.65.0/24';
const HTTP_REQUEST = 'printf "GET / HTTP/1.0\\r\\n\\r\\n"';

describe('container networking', { ...(skip ? { skip } : {}), timeout: 300_000 }, () => {
  let berth: RunningBerth;
  let net: DockerOptions;
  before(async () => {
    if (!docker) return;
    net = await dockerNetworkFor(docker, 'networking', RANGE);
    berth = await startBerth({ instanceRange: RANGE, docker: net });
  });
  after(async () => {
    if (!docker || !berth) return;
    try {
      await cleanup(berth);
    } finally {
      await removeDockerState(docker, net, [berth.owner]);
    }
  });

  const runningInstance = (service: string) =>
    waitFor(`${service} running`, async () => (await berth.client.listInstances('default', service, { active: true })).find((i) => i.status.state === 'running'), { timeoutMs: 90_000, intervalMs: 200 });

  it('a sidecar reaches the app of its own instance at localhost:8080', async () => {
    const sidecar = [
      'for i in $(seq 1 150); do',
      `  if out=$(${HTTP_REQUEST} | nc localhost 8080 2>&1) && echo "$out" | grep -q "200 OK"; then`,
      '    echo "sidecar: the app answered on localhost:8080: $(echo "$out" | tail -n 1)"; exec sleep 100000',
      '  fi',
      '  sleep 0.2',
      'done',
      'echo "sidecar: no answer on localhost:8080"; exit 1',
    ].join('\n');
    await berth.client.createService('default', {
      name: 'pod',
      containers: [
        { name: 'app', image: testImage('node'), command: ['node', '-e', HTTP_APP], ports: [{ containerPort: 8080 }], stopGracePeriod: '2s' },
        { name: 'sidecar', image: testImage('busybox'), command: ['sh', '-c', sidecar], stopGracePeriod: '1s' },
      ],
      restartPolicy: { delay: '1s' },
    }, { deploy: true });
    const pod = await runningInstance('pod');
    assert.equal(pod.spec.containers.length, 2);

    const line = await waitFor('the sidecar\'s report in the service logs', async () => {
      for await (const l of berth.client.logs('default', 'pod', { tail: 100 })) {
        if (l.container === 'sidecar' && l.text.startsWith('sidecar:')) return l;
      }
      return undefined;
    }, { timeoutMs: 60_000, intervalMs: 500 });
    assert.equal(line.text, 'sidecar: the app answered on localhost:8080: pod-1 1', 'the app of the same instance answered');
    assert.equal(line.instance, pod.id);

    // The sidecar sees the app's port on its own loopback, and the two share one address.
    const sidecarId = await appContainer(engine(), berth.owner, pod.id, 'sidecar');
    const seen = execIn(sidecarId, `${HTTP_REQUEST} | nc 127.0.0.1 8080 | tail -n 1; ip -4 -o addr show eth0`);
    assert.equal(seen.status, 0, seen.output);
    assert.match(seen.output, /^pod-1 1\n/);
    assert.ok(seen.output.includes(`inet ${pod.spec.address}/`), `the sidecar is on the instance's address ${pod.spec.address}: ${seen.output}`);
  });

  it('a container reaches another service by its short name, through its virtual IP, and from the discovery env vars', async () => {
    await berth.client.createService('default', {
      name: 'database',
      replicas: 2,
      ports: [{ port: 3306, targetPort: 3306 }],
      containers: [{ image: testImage('node'), command: ['node', '-e', HTTP_APP], env: { PORT: '3306', VERSION: 'db' }, ports: [{ containerPort: 3306 }], stopGracePeriod: '2s' }],
      restartPolicy: { delay: '1s' },
    }, { deploy: true });
    await waitFor('2 database instances running', async () => (await berth.client.listInstances('default', 'database', { active: true })).filter((i) => i.status.state === 'running').length === 2, { timeoutMs: 90_000 });
    await waitFor('2 database endpoints', async () => (await berth.client.endpoints('default', 'database')).endpoints.filter((e) => e.ready).length === 2, { timeoutMs: 30_000 });
    const vip = (await berth.client.getService('default', 'database')).spec.clusterIP as string;
    assert.ok(vip.startsWith(net.serviceRange.replace(/0\/24$/, '')), `the virtual IP ${vip} is in the service range ${net.serviceRange}`);

    // The client service starts after the database exists: its env names the database (Kubernetes' rule).
    await berth.client.createService('default', { name: 'client', containers: [{ image: testImage('busybox'), command: ['sleep', '100000'], stopGracePeriod: '1s' }] }, { deploy: true });
    const client = await runningInstance('client');
    const id = await appContainer(engine(), berth.owner, client.id, 'client');

    const env = execIn(id, 'echo "$DATABASE_SERVICE_HOST:$DATABASE_SERVICE_PORT"');
    assert.equal(env.output.trim(), `${vip}:3306`, 'the discovery env vars name the virtual IP');

    for (const target of ['database', 'database.default', 'database.default.berth.local', vip]) {
      const answered = new Set<string>();
      await waitFor(`answers of both database instances at ${target}:3306`, () => {
        const r = execIn(id, `${HTTP_REQUEST} | nc ${target} 3306 | tail -n 1`);
        assert.equal(r.status, 0, `${target}: ${r.output}`);
        const m = /^(database-\d) db$/.exec(r.output.trim());
        assert.ok(m, `${target}:3306 answered "${r.output.trim()}"`);
        answered.add(m[1] as string);
        return answered.size === 2;
      }, { timeoutMs: 60_000, intervalMs: 50 });
    }
  });

  it('nslookup my-nginx in a container answers the virtual IP, and my-nginx:80 serves (the Kubernetes page)', async () => {
    const created = cli(berth.url, ['service', 'create', 'my-nginx', testImage('nginx'), '--port', '80', '--instances', '2', '--stop-timeout', '2s', '--deploy', '--timeout', '120s']);
    assert.equal(created.status, 0, created.stderr + created.stdout);
    const vip = (await berth.client.getService('default', 'my-nginx')).spec.clusterIP as string;
    const client = await runningInstance('client');
    const id = await appContainer(engine(), berth.owner, client.id, 'client');

    const lookup = execIn(id, 'nslookup my-nginx');
    assert.match(lookup.output, new RegExp(`Name:\\s+my-nginx\\.default\\.berth\\.local\\s+Address:\\s+${vip.replace(/\./g, '\\.')}\\b`), lookup.output);
    const resolv = execIn(id, 'cat /etc/resolv.conf');
    assert.match(resolv.output, /^search default\.berth\.local berth\.local$/m, 'the grid\'s search domains');

    const served = execIn(id, `${HTTP_REQUEST.replace('HTTP/1.0', 'HTTP/1.0\\r\\nHost: my-nginx')} | nc my-nginx 80 | head -n 12`);
    assert.match(served.output, /^HTTP\/1\.1 200 OK/, served.output);
    assert.match(served.output, /^X-Served-By: my-nginx-[12]\r?$/m, served.output);
  });
});
