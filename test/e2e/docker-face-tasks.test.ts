/**
 * The Docker face's tasks and logs with the real docker 28 CLI against a real `berth server` running
 * containers: `docker service create` without `--detach` waits on berth's task states until its
 * progress display says the service converged; `docker service ps` shows each slot's task and, after
 * an update, the tasks it replaced; `docker service logs -f` follows the lines of the tasks that start
 * after it began.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { dockerForTests } from '../../src/drivers/docker/engine-gate.js';
import { testImage } from '../../src/drivers/docker/test-images.js';
import { DOCKER_CLI, dockerCli } from './docker-cli.js';
import { dockerFaceServer } from './docker-harness.js';

const docker = await dockerForTests();
const skip = docker ? undefined : 'no Docker engine answers (see the SKIP line above)';
const RANGE = '127.11.79.0/24';
const SERVICE = 'facetasks';

describe('Docker face: tasks and logs through the docker CLI', { ...(skip ? { skip } : {}), timeout: 240_000 }, () => {
  const face = dockerFaceServer(docker, 'facetasks', RANGE);

  it('create waits until every slot’s task runs, then ps lists them', async () => {
    // --no-resolve-image: the image stays `busybox:local` (a digest-pinned reference names no local image).
    const create = await dockerCli(face.berth, 'service', 'create', '--no-resolve-image', '--name', SERVICE, '--replicas', '2', testImage('busybox'), 'sh', '-c', 'echo hello from $HOSTNAME; while true; do sleep 1; done');
    assert.equal(create.code, 0, create.stderr + create.stdout);
    assert.match(create.stdout, /overall progress: 2 out of 2 tasks/);
    assert.match(create.stdout, /verify: Service \S+ converged/); // the CLI names the id create answered

    const ps = await dockerCli(face.berth, 'service', 'ps', '--format', '{{.Name}}|{{.Image}}|{{.DesiredState}}|{{.CurrentState}}|{{.Error}}', SERVICE);
    assert.equal(ps.code, 0, ps.stderr);
    const rows = ps.stdout.trim().split('\n').sort();
    assert.equal(rows.length, 2, ps.stdout);
    rows.forEach((row, k) => assert.match(row, new RegExp(`^${SERVICE}\\.${k + 1}\\|${testImage('busybox')}\\|Running\\|Running .+ ago\\|$`)));
  });

  it('logs -f follows the new tasks of an update; ps then shows the replaced ones as Shutdown', async () => {
    const config = mkdtempSync(join(tmpdir(), 'berth-docker-config-'));
    const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: face.berth.dockerHost, DOCKER_CONFIG: config, NO_COLOR: '1' };
    for (const name of ['DOCKER_CONTEXT', 'DOCKER_API_VERSION', 'DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH']) delete env[name];
    const follower = spawn(DOCKER_CLI, ['service', 'logs', '-f', SERVICE], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    follower.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    follower.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const lines = (): string[] => out.split('\n').filter((l) => l.includes('hello from'));
    const waitLines = async (n: number, what: string): Promise<void> => {
      for (let k = 0; k < 600 && lines().length < n && follower.exitCode === null; k++) await new Promise((r) => setTimeout(r, 100));
      assert.ok(lines().length >= n, `${what}; the CLI printed:\n${out}`);
    };
    try {
      await waitLines(2, 'the history: one line per task');
      // The task id (25 base-36 characters, as Swarm's) is cut to 12, as the CLI cuts every id.
      for (const line of lines()) assert.match(line, new RegExp(`^${SERVICE}\\.[12]\\.[0-9a-z]{12}@\\S+ +\\| hello from ${SERVICE}-[12]$`));

      const update = await dockerCli(face.berth, 'service', 'update', '--no-resolve-image', '--env-add', 'A=1', SERVICE);
      assert.equal(update.code, 0, update.stderr + update.stdout);
      await waitLines(4, 'the new tasks’ lines reach the follower that started before them');
      assert.equal(follower.exitCode, null, 'the follow is still open');
    } finally {
      follower.kill('SIGKILL');
      rmSync(config, { recursive: true, force: true });
    }

    // The replaced tasks are Shutdown once their containers stopped (the grace is 10 s at most).
    let rows: string[] = [];
    for (let k = 0; k < 60; k++) {
      const ps = await dockerCli(face.berth, 'service', 'ps', '--format', '{{.Name}}|{{.DesiredState}}|{{.CurrentState}}', SERVICE);
      assert.equal(ps.code, 0, ps.stderr);
      rows = ps.stdout.trim().split('\n');
      if (rows.filter((r) => r.includes('|Shutdown|Shutdown ')).length === 2) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(rows.length, 4, rows.join('\n'));
    assert.equal(rows.filter((r) => new RegExp(`^${SERVICE}\\.[12]\\|Running\\|Running `).test(r)).length, 2, rows.join('\n'));
    // A custom --format has no ` \_ ` indent (the CLI indents history rows in table formats only).
    assert.equal(rows.filter((r) => new RegExp(`^${SERVICE}\\.[12]\\|Shutdown\\|Shutdown `).test(r)).length, 2, rows.join('\n'));
    const current = await dockerCli(face.berth, 'service', 'ps', '-q', '-f', 'desired-state=running', SERVICE);
    assert.equal(current.stdout.trim().split('\n').length, 2, current.stdout);

    const rm = await dockerCli(face.berth, 'service', 'rm', SERVICE);
    assert.equal(rm.code, 0, rm.stderr);
  });
});
