import type Dockerode from 'dockerode';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { dockerForTests } from '../../src/drivers/docker/engine-gate.js';
import { testImage } from '../../src/drivers/docker/test-images.js';
import { cleanup, startBerth, waitFor, type DockerOptions, type RunningBerth } from './harness.js';
import { dockerNetworkFor, removeDockerState } from './docker-harness.js';
import { dockerCli } from './docker-cli.js';

/*
 * What a user of the Swarm seed pages (the docker CLI, docker-py) meets when scaling a service through
 * berth's Docker face, with real containers: a scale starts the new slots and replaces none of the
 * running ones, whichever client sends it (the docker CLI's `service scale`, docker-py's
 * `ServiceMode('replicated', replicas=N)`, which spells the mode `replicated`).
 */

const docker = await dockerForTests();
const dockerPy = spawnSync('python3', ['-c', 'import docker'], { stdio: 'ignore' }).status === 0;
if (!dockerPy && process.env.CI) throw new Error('python3 cannot import docker (the Docker SDK for Python): .ci/run installs python3-docker');
const skip = !docker ? 'no Docker engine answers (see the SKIP line above)' : !dockerPy ? 'python3 with the docker package is not installed' : undefined;
const RANGE = '127.11.108.0/24';
/** This file's node ports and DNS upstream (nothing answers there: no query leaves the machine). */
const ENV = { BERTH_NODE_PORT_RANGE: '32500-32539', BERTH_DNS_UPSTREAMS: '127.0.0.1:9' };

/** Runs a docker-py script against the face; its last stdout line is JSON. */
function python(berth: RunningBerth, script: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', script], { env: { ...process.env, DOCKER_HOST: berth.dockerHost as string, DOCKER_CONFIG: '/nonexistent-berth-test' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`python exited ${code}:\n${err}\n${out}`));
      else resolve(JSON.parse(out.trim().split('\n').pop() ?? 'null'));
    });
  });
}

/** The running tasks of a service as slot → task id, through the face. */
async function runningTasks(berth: RunningBerth, service: string): Promise<Map<number, string>> {
  const r = await dockerCli(berth, 'service', 'ps', '--no-trunc', '--filter', 'desired-state=running', '--format', '{{.Name}} {{.ID}} {{.CurrentState}}', service);
  assert.equal(r.code, 0, r.stderr);
  const tasks = new Map<number, string>();
  for (const line of r.stdout.trim().split('\n')) {
    const m = /^\S+\.(\d+) (\S+) Running/.exec(line);
    if (m) tasks.set(Number(m[1]), m[2] as string);
  }
  return tasks;
}

describe('Docker face: scaling replaces no running task', { ...(skip ? { skip } : {}), timeout: 300_000 }, () => {
  let berth: RunningBerth | undefined;
  let net: DockerOptions | undefined;
  before(async () => {
    if (!docker) return;
    net = await dockerNetworkFor(docker, 'facewalk', RANGE);
    berth = await startBerth({ instanceRange: RANGE, docker: net, dockerApi: true, env: ENV });
  });
  after(async () => {
    if (!docker || !berth || !net) return;
    try {
      await cleanup(berth);
    } finally {
      await removeDockerState(docker as Dockerode, net, [berth.owner]);
    }
  });

  it('docker service scale scaled=2 starts scaled.2 and leaves scaled.1 running (the update rewrites the spec whole, its fields in another order)', async () => {
    const b = berth as RunningBerth;
    const created = await dockerCli(b, 'service', 'create', '--name', 'scaled', '--replicas', '1', testImage('busybox'), 'sleep', '3600');
    assert.equal(created.code, 0, created.stderr);
    const before = await waitFor('scaled.1 running', async () => ((await runningTasks(b, 'scaled')).size === 1 ? runningTasks(b, 'scaled') : undefined), { timeoutMs: 60_000 });
    const scaled = await dockerCli(b, 'service', 'scale', 'scaled=2');
    assert.equal(scaled.code, 0, scaled.stderr);
    // Its progress display counts the task it did not replace (the _up-to-date filter) and waits for both.
    assert.match(scaled.stdout, /overall progress: 2 out of 2 tasks/, scaled.stdout);
    assert.match(scaled.stdout, /verify: Service scaled converged/, scaled.stdout);
    const now = await waitFor('scaled.1 and scaled.2 running', async () => {
      const t = await runningTasks(b, 'scaled');
      return t.size === 2 ? t : undefined;
    }, { timeoutMs: 60_000 });
    assert.equal(now.get(1), before.get(1), 'scaled.1 is the same task: not replaced');
    const all = await dockerCli(b, 'service', 'ps', '-q', 'scaled');
    assert.equal(all.stdout.trim().split('\n').length, 2, `no task was shut down: ${all.stdout}`);
  });

  it("docker-py's ServiceMode('replicated', replicas=2) runs 2 tasks, and Service.scale(3) a third", async () => {
    const b = berth as RunningBerth;
    const result = (await python(
      b,
      `
import docker, json, time
c = docker.DockerClient(base_url=__import__('os').environ['DOCKER_HOST'])
s = c.services.create('${testImage('busybox')}', command=['sleep', '3600'], name='pymode', mode=docker.types.ServiceMode('replicated', replicas=2))
created = c.api.inspect_service('pymode')['Spec']['Mode']
s.reload()
s.scale(3)
print(json.dumps({'created': created, 'scaled': c.api.inspect_service('pymode')['Spec']['Mode']}))
`,
    )) as { created: unknown; scaled: unknown };
    assert.deepEqual(result, { created: { Replicated: { Replicas: 2 } }, scaled: { Replicated: { Replicas: 3 } } });
    await waitFor('pymode.1-3 running', async () => (await runningTasks(b, 'pymode')).size === 3, { timeoutMs: 60_000 });
  });
});
