import type Dockerode from 'dockerode';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { dockerForTests } from '../../src/drivers/docker/engine-gate.js';
import { testImage } from '../../src/drivers/docker/test-images.js';
import { BIN, ROOT, cleanup, cliEnv, freePort, startBerth, waitFor, type DockerOptions, type RunningBerth } from './harness.js';
import { cli, containersOf, dockerNetworkFor, httpGet, removeDockerState } from './docker-harness.js';
import { KV_STORE } from './docker-programs.js';

/*
 * Issue 10, acceptance: the Kontena page with images, through the real CLI against the real server
 * on the machine's Docker Engine. `service create -p PUB:80 nginx nginx:latest` runs nothing until
 * `deploy`; `scale nginx 4`; `show`, `logs`, `stats` and `monitor` report the 4 containers; the
 * published port on 127.0.0.1 is answered by all 4 (nginx:latest of scripts/build-images.sh sets
 * `X-Served-By: $hostname`). Then a stateful "redis-like" service keeps each slot's data in its
 * per-slot volume across `service restart` and a redeploy of a changed spec.
 */

const docker = await dockerForTests();
const engine = (): Dockerode => {
  if (!docker) throw new Error('no Docker engine');
  return docker;
};
const skip = docker ? undefined : 'no Docker engine answers (see the SKIP line above)';
const RANGE = '127.11.64.0/24';

describe('the Kontena page with images', { ...(skip ? { skip } : {}), timeout: 600_000 }, () => {
  let berth: RunningBerth;
  let net: DockerOptions;
  before(async () => {
    if (!docker) return;
    net = await dockerNetworkFor(docker, 'kontena', RANGE);
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

  const appContainers = async (service: string): Promise<number> => {
    return (await containersOf(engine(), berth.owner)).filter((c) => c.Labels['io.berth.service'] === service && c.Labels['io.berth.role'] === 'container').length;
  };

  it('create -p PUB:80 nginx nginx:latest, deploy, scale 4: show, logs, stats and monitor show 4 containers, and all 4 answer on 127.0.0.1:PUB', async () => {
    const pub = await freePort();
    const created = cli(berth.url, ['service', 'create', '-p', `${pub}:80`, '--stop-timeout', '2s', '--drain-timeout', '1s', '--update-monitor', '1s', 'nginx', testImage('nginx')]);
    assert.equal(created.status, 0, created.stderr + created.stdout);
    assert.match(created.stdout, /service nginx created \(not deployed\)/);
    assert.equal((await berth.client.listInstances('default', 'nginx')).length, 0, 'create alone starts no instance');
    assert.equal((await containersOf(engine(), berth.owner, { all: true })).length, 0, 'create alone creates no container');

    const deployed = cli(berth.url, ['service', 'deploy', 'nginx', '--timeout', '120s']);
    assert.equal(deployed.status, 0, deployed.stderr + deployed.stdout);
    assert.match(deployed.stdout, /service nginx is running: 1\/1 instances/);
    assert.equal(await appContainers('nginx'), 1);

    const scaled = cli(berth.url, ['service', 'scale', 'nginx', '4', '--timeout', '120s']);
    assert.equal(scaled.status, 0, scaled.stderr + scaled.stdout);
    assert.match(scaled.stdout, /service nginx is running: 4\/4 instances/);
    assert.equal(await appContainers('nginx'), 4, 'one app container per instance');
    const sandboxes = (await containersOf(engine(), berth.owner)).filter((c) => c.Labels['io.berth.role'] === 'sandbox');
    assert.equal(sandboxes.length, 4, 'one sandbox per instance');

    const instances = (await berth.client.listInstances('default', 'nginx', { active: true })).filter((i) => i.status.state === 'running');
    assert.equal(instances.length, 4);
    const show = cli(berth.url, ['service', 'show', 'nginx']);
    assert.equal(show.status, 0, show.stderr);
    assert.match(show.stdout, /image: nginx:latest/);
    assert.match(show.stdout, new RegExp(`80 → 80/tcp \\(published on the node at ${pub}\\)`));
    for (const i of instances) {
      assert.ok(show.stdout.includes(`address: ${i.spec.address}`), `show lists ${i.id} at ${i.spec.address}:\n${show.stdout}`);
      assert.ok(i.spec.address.startsWith(net.subnet.replace(/0\/24$/, '')), `${i.id}'s address ${i.spec.address} is in the berth network ${net.subnet}`);
    }

    // The published port, balanced over the 4 instances: each nginx names its container's hostname.
    const servedBy = new Set<string>();
    await waitFor('answers from all 4 instances on 127.0.0.1:PUB', async () => {
      for (let k = 0; k < 16; k++) {
        const r = await httpGet('127.0.0.1', pub);
        assert.equal(r.status, 200, `HTTP ${r.status}: ${r.body}`);
        servedBy.add(String(r.headers['x-served-by']));
      }
      return servedBy.size === 4;
    }, { timeoutMs: 30_000, intervalMs: 200 });
    assert.deepEqual([...servedBy].sort(), instances.map((i) => `nginx-${i.slot}`).sort(), 'each instance answers with its own hostname');

    // logs: every instance's access lines, prefixed with its instance.
    await waitFor('an access line of every instance in `service logs`', () => {
      const logs = cli(berth.url, ['service', 'logs', 'nginx', '--tail', '500']);
      assert.equal(logs.status, 0, logs.stderr);
      const prefixes = new Set([...logs.stdout.matchAll(/^(nginx-\d) \| .*"GET \/ HTTP\/1\.1" 200 /gm)].map((m) => m[1]));
      return prefixes.size === 4;
    }, { timeoutMs: 30_000, intervalMs: 500 });

    // stats: CPU and memory figures of the 4 containers, from the engine.
    const stats = cli(berth.url, ['service', 'stats', 'nginx', '-o', 'json']);
    assert.equal(stats.status, 0, stats.stderr);
    const rows = JSON.parse(stats.stdout) as { slot: number; cpuPercent: number; memoryBytes: number; processes: number }[];
    assert.deepEqual(rows.map((r) => r.slot).sort(), [1, 2, 3, 4]);
    for (const r of rows) {
      assert.ok(Number.isFinite(r.cpuPercent) && r.cpuPercent >= 0, `slot ${r.slot}: CPU ${r.cpuPercent}`);
      assert.ok(r.memoryBytes > 100_000, `slot ${r.slot}: memory ${r.memoryBytes} bytes`);
      assert.ok(r.processes >= 2, `slot ${r.slot}: nginx master and worker (${r.processes} processes)`);
    }
    const table = cli(berth.url, ['service', 'stats', 'nginx']);
    assert.equal(table.status, 0, table.stderr);
    assert.equal([...table.stdout.matchAll(/^nginx-[1-4]\s+\d+\.\d%\s+[\d.]+[KM]iB/gm)].length, 4, table.stdout);

    // monitor: on a pipe it writes one snapshot per interval until Ctrl-C (SIGINT).
    const monitor = spawn(process.execPath, [BIN, '--host', berth.url, 'service', 'monitor', 'nginx', '--interval', '0.5s'], { env: { ...process.env, NO_COLOR: '1', ...cliEnv(berth.url) }, stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT });
    let out = '';
    monitor.stdout.on('data', (c: Buffer) => (out += c.toString()));
    monitor.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => monitor.once('exit', (code) => resolve(code)));
    try {
      await waitFor('a monitor frame with 4 running instances and their CPU and memory', () => {
        const frames = out.split(/^(?=nginx\s+running)/m);
        return frames.some((f) => /4\/4 instances/.test(f) && [...f.matchAll(/^nginx-[1-4]\s+running\s+10\.216\.\d+\.\d+\s+0\s+\d+\.\d%\s+[\d.]+[KM]iB\s+\d+/gm)].length === 4);
      }, { timeoutMs: 20_000, intervalMs: 100 });
    } finally {
      monitor.kill('SIGINT');
    }
    assert.equal(await exited, 0, `monitor stops on Ctrl-C:\n${out}`);
  });

  it('service create --stateful: a redis-like store keeps each slot\'s data in its per-slot volume across a restart and a redeploy', async () => {
    const created = cli(berth.url, [
      'service', 'create', '--stateful', '--instances', '2', '--mount', 'type=volume,target=/data', '--port', '6379',
      '--cmd', `node -e '${KV_STORE}'`, '--stop-timeout', '2s', '--drain-timeout', '0s', '--update-monitor', '0.5s', '--restart-delay', '1s',
      '--health-check-protocol', 'tcp', '--health-check-port', '6379', '--health-check-interval', '0.5',
      'redis', testImage('node'), '--deploy', '--timeout', '120s',
    ]);
    assert.equal(created.status, 0, created.stderr + created.stdout);
    const running = async () => {
      const list = (await berth.client.listInstances('default', 'redis', { active: true })).filter((i) => i.status.state === 'running' && i.status.health?.ready !== false);
      return list.sort((a, b) => a.slot - b.slot);
    };
    type Answer = { value: string | null; starts: number; host: string };
    const read = async (address: string): Promise<Answer> => JSON.parse((await httpGet(address, 6379, { path: '/greeting' })).body) as Answer;

    const first = await running();
    assert.deepEqual(first.map((i) => i.slot), [1, 2]);
    for (const i of first) {
      const put = await waitFor(`slot ${i.slot} takes a write`, () => httpGet(i.spec.address, 6379, { path: '/greeting', method: 'PUT', body: `hello from slot ${i.slot}` }).catch(() => undefined));
      assert.equal(put.status, 200);
      assert.deepEqual(await read(i.spec.address), { value: `hello from slot ${i.slot}`, starts: 1, host: `redis-${i.slot}` });
    }
    for (const slot of [1, 2]) {
      assert.ok(existsSync(join(berth.dataDir, 'volumes/default/redis', String(slot))), `slot ${slot}'s volume is under the data directory`);
    }

    /** Waits until both slots run instances other than `before`, ready, and answer; returns them. */
    const replaced = async (what: string, before: readonly { id: string }[]) => {
      const ids = new Set(before.map((i) => i.id));
      return waitFor(what, async () => {
        const list = await running();
        if (list.length !== 2 || list.some((i) => ids.has(i.id))) return undefined;
        const answers = await Promise.all(list.map((i) => read(i.spec.address).catch(() => undefined)));
        return answers.every((a) => a !== undefined) ? { list, answers: answers as Answer[] } : undefined;
      }, { timeoutMs: 120_000, intervalMs: 250 });
    };

    const restarted = cli(berth.url, ['service', 'restart', 'redis', '--timeout', '120s']);
    assert.equal(restarted.status, 0, restarted.stderr + restarted.stdout);
    const afterRestart = await replaced('both slots replaced by `service restart`', first);
    assert.deepEqual(afterRestart.answers.map((a) => [a.value, a.starts]), [['hello from slot 1', 2], ['hello from slot 2', 2]], 'each slot restarted on its own data');

    const updated = cli(berth.url, ['service', 'update', 'redis', '-e', 'VERSION=2', '--deploy', '--timeout', '120s']);
    assert.equal(updated.status, 0, updated.stderr + updated.stdout);
    const afterRedeploy = await replaced('both slots redeployed with VERSION=2', afterRestart.list);
    assert.deepEqual(afterRedeploy.answers.map((a) => [a.value, a.starts]), [['hello from slot 1', 3], ['hello from slot 2', 3]], 'the redeployed instances found their slots\' data');
    const generation = (await berth.client.getService('default', 'redis')).deployment?.generation;
    for (const i of afterRedeploy.list) assert.equal(i.generation, generation, `${i.id} runs the deployed spec`);
  });
});
