import type Dockerode from 'dockerode';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dockerForTests } from '../../src/drivers/docker/engine-gate.js';
import { testImage } from '../../src/drivers/docker/test-images.js';
import { cleanup, freePort, startBerth, waitFor, type DockerOptions, type RunningBerth } from './harness.js';
import { cli, dockerNetworkFor, httpGet, removeDockerState } from './docker-harness.js';
import { DOCKER_CLI, dockerCli } from './docker-cli.js';
import { startLoad } from './load.js';

/*
 * Issue 11, acceptance: the docker 28 CLI, which no one here wrote, drives berth as it drives Swarm.
 * DOCKER_HOST points at berth's Docker API face (a unix socket in the data directory); the services
 * run as real containers on the machine's engine (berth's Docker driver). Every command's output is
 * checked, and what the CLI made is the same service in berth's own CLI, and the reverse.
 */

const docker = await dockerForTests();
const skip = docker ? undefined : 'no Docker engine answers (see the SKIP line above)';
const RANGE = '127.11.73.0/24';
const NGINX = testImage('nginx');

describe('the docker CLI against berth', { ...(skip ? { skip } : {}), timeout: 900_000 }, () => {
  let berth: RunningBerth;
  let net: DockerOptions;
  let pub = 0;
  before(async () => {
    if (!docker) return;
    net = await dockerNetworkFor(docker, 'dockerface', RANGE);
    berth = await startBerth({ instanceRange: RANGE, docker: net, dockerApi: true });
    pub = await freePort();
  });
  after(async () => {
    if (!docker || !berth) return;
    try {
      await cleanup(berth);
    } finally {
      await removeDockerState(docker as Dockerode, net, [berth.owner]);
    }
  });

  const ok = async (...args: string[]): Promise<string> => {
    const r = await dockerCli(berth, ...args);
    assert.equal(r.code, 0, `docker ${args.join(' ')} → exit ${r.code}\n${r.stderr}\n${r.stdout}`);
    return r.stdout;
  };
  const runningTasks = async (): Promise<number> => (await berth.client.listInstances('default', 'web', { active: true })).filter((i) => i.status.state === 'running' && i.desiredState === 'running').length;

  it('service create waits for convergence with its progress display; curl answers on the published port', async () => {
    const out = await ok('service', 'create', '--name', 'web', '--replicas', '3', '-p', `${pub}:80`, NGINX);
    // The CLI prints the service id, then its progress bars (plain lines without a terminal), then verify.
    assert.match(out, /^[0-9a-f-]{36}\n/, 'the new service id first (berth’s own id)');
    assert.match(out, /overall progress: 3 out of 3 tasks/);
    assert.match(out, /verify: Service \S+ converged/);
    assert.equal(await runningTasks(), 3);
    const answer = await httpGet('127.0.0.1', pub);
    assert.equal(answer.status, 200);
    assert.match(String(answer.headers['x-served-by']), /\S/, 'nginx of an instance answered');
  });

  it('service ls, ps and inspect --pretty show the service as Swarm would', async () => {
    const ls = await ok('service', 'ls');
    const row = ls.split('\n').find((l) => /\sweb\s/.test(l));
    assert.ok(row, ls);
    assert.match(row, /\sreplicated\s+3\/3\s/);
    assert.match(row, new RegExp(`\\s${NGINX.replace(/[.:]/g, '\\$&')}\\s`));
    assert.match(row, new RegExp(`\\*:${pub}->80/tcp`));

    const ps = await ok('service', 'ps', 'web');
    const tasks = ps.split('\n').filter((l) => /\sweb\.\d\s/.test(l));
    assert.equal(tasks.length, 3, ps);
    for (const t of tasks) assert.match(t, /\sRunning\s+Running .* ago/, t);

    const pretty = await ok('service', 'inspect', '--pretty', 'web');
    assert.match(pretty, /^Name:\s+web$/m);
    assert.match(pretty, /^\s*Replicas:\s+3$/m);
    assert.match(pretty, /^\s*Image:\s+nginx:latest/m);
    assert.match(pretty, new RegExp(`PublishedPort = ${pub}`));
  });

  it('service scale web=5 converges to 5 running tasks', async () => {
    const out = await ok('service', 'scale', 'web=5');
    assert.match(out, /web scaled to 5/);
    assert.match(out, /verify: Service \S+ converged/);
    assert.equal(await runningTasks(), 5);
  });

  it('service update --env-add rolls with berth’s drain: 0 failed requests under a request loop', async () => {
    const load = startLoad('127.0.0.1', pub, { concurrency: 4 });
    let result;
    try {
      await ok('service', 'update', '--env-add', 'A=1', 'web');
    } finally {
      result = await load.stop();
    }
    assert.equal(result.failed, 0, `failed requests: ${result.errors.join('; ')}`);
    assert.ok(result.ok > 20, `${result.ok} requests answered`);
    const service = await berth.client.getService('default', 'web');
    assert.deepEqual(service.spec.containers[0]?.env?.find((e) => e.name === 'A'), { name: 'A', value: '1' });
    assert.equal(service.status.update?.state, 'completed');
  });

  it('service rollback goes back to the spec before the update', async () => {
    const out = await ok('service', 'rollback', 'web');
    assert.match(out, /rollback: manually requested rollback/);
    assert.match(out, /verify: Service \S+ converged/);
    const service = await berth.client.getService('default', 'web');
    assert.equal(service.spec.containers[0]?.env?.some((e) => e.name === 'A'), false, 'A is gone again');
    assert.equal(service.status.update?.state, 'rollback_completed');
  });

  it('service logs -f streams the access log of every task as requests come', async () => {
    const child = spawn(DOCKER_CLI, ['service', 'logs', '-f', 'web'], { env: { ...process.env, DOCKER_HOST: berth.dockerHost as string, DOCKER_CONFIG: '/nonexistent-berth-test' } });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    try {
      const marker = `/berth-face-${Date.now()}`;
      await waitFor('the marker request in the followed logs', async () => {
        await httpGet('127.0.0.1', pub, { path: marker }).catch(() => undefined);
        return out.includes(marker) ? true : undefined;
      }, { timeoutMs: 20_000, intervalMs: 500 }).catch((e: unknown) => {
        throw new Error(`${(e as Error).message}; docker service logs -f printed:\n${out.slice(-3000)}`);
      });
      const line = out.split('\n').find((l) => l.includes(marker)) ?? '';
      // docker service logs' prefix: web.<slot>.<task id>@<node>    | <line>
      assert.match(line, /^web\.\d\.[0-9a-z-]+@\S+\s+\| .*GET \/berth-face-\d+ HTTP/, line);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('is the same service in berth’s CLI, and a service berth made is in docker service ls', async () => {
    const berthLs = cli(berth.url, ['service', 'ls']);
    assert.equal(berthLs.status, 0, berthLs.stderr);
    assert.match(berthLs.stdout, /^web\s/m);
    const made = cli(berth.url, ['service', 'create', 'made-by-berth', testImage('busybox'), '--cmd', 'sleep 1000', '--instances', '2']);
    assert.equal(made.status, 0, made.stderr + made.stdout);
    const ls = await ok('service', 'ls');
    const row = ls.split('\n').find((l) => /\smade-by-berth\s/.test(l));
    assert.ok(row, ls);
    assert.match(row, /\sreplicated\s+0\/2\s/, 'created, not deployed (Kontena): 0 of 2 running');
    const inspected = JSON.parse(await ok('service', 'inspect', 'made-by-berth')) as { Spec: { TaskTemplate: { ContainerSpec: { Image: string; Args?: string[]; Command?: string[] } } } }[];
    assert.equal(inspected[0]?.Spec.TaskTemplate.ContainerSpec.Image, testImage('busybox'));
    assert.equal(cli(berth.url, ['service', 'rm', '--force', 'made-by-berth']).status, 0);
  });

  it('service rm removes it: gone from both CLIs, its containers stopped', async () => {
    const out = await ok('service', 'rm', 'web');
    assert.equal(out.trim(), 'web');
    await waitFor('web gone from berth', async () => ((await berth.client.listServices('default')).some((s) => s.name === 'web') ? undefined : true), { timeoutMs: 60_000 });
    const ls = await ok('service', 'ls');
    assert.doesNotMatch(ls, /\sweb\s/);
  });
});
