import type Dockerode from 'dockerode';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dockerForTests } from '../../src/drivers/docker/engine-gate.js';
import { testImage } from '../../src/drivers/docker/test-images.js';
import { waitFor } from './harness.js';
import { containersOf, dockerFaceServer } from './docker-harness.js';

/*
 * Issue 11, acceptance: the seed 004 page's docker-py calls, as written (test/e2e/docker-py/seed004.py,
 * the Docker SDK for Python installed on the machine), against a real berth server's Docker face with
 * real containers: create_service runs the instance, update_service with the inspected version changes
 * the command and service_logs shows the new output (the replaced instance's container is removed, and
 * its lines with it: unlike Swarm, berth keeps no dead containers), the stale version is refused with Swarm's
 * "update out of sequence", remove_service by id stops and removes everything.
 */

const SCRIPT = fileURLToPath(new URL('./docker-py/seed004.py', import.meta.url));
const docker = await dockerForTests();
const dockerPy = spawnSync('python3', ['-c', 'import docker'], { stdio: 'ignore' }).status === 0;
// CI installs it (.ci/run): there a missing docker-py is a failure, not a skip.
if (!dockerPy && process.env.CI) throw new Error('python3 cannot import docker (the Docker SDK for Python): .ci/run installs python3-docker');
const skip = !docker ? 'no Docker engine answers (see the SKIP line above)' : !dockerPy ? 'python3 with the docker package is not installed' : undefined;
const RANGE = '127.11.78.0/24';

type Step = Record<string, unknown> & { step: string };

describe('docker-py: the seed 004 page against a real berth server', { ...(skip ? { skip } : {}), timeout: 300_000 }, () => {
  const face = dockerFaceServer(docker, 'dockerpy', RANGE);

  it('create_service, services(filters), inspect_service, update_service (the logs show the new output), a stale update refused, remove_service', async () => {
    const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn('python3', [SCRIPT], {
        env: { ...process.env, DOCKER_HOST: face.berth.dockerHost as string, DOCKER_CONFIG: '/nonexistent-berth-test', SEED004_NAME: 'seed004', SEED004_IMAGE: testImage('busybox'), SEED004_CHECK_LOGS: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
    const steps = run.stdout.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Step);
    const at = (name: string): Step => {
      const s = steps.find((x) => x.step === name);
      assert.ok(s, `step ${name} missing; stdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
      return s;
    };
    assert.equal(run.code, 0, `seed004.py failed:\n${run.stderr}\n${run.stdout}`);
    const id = at('create').id as string;
    assert.deepEqual(at('list_by_name').ids, [id]);
    assert.deepEqual(at('list_by_id').ids, [id]);
    assert.equal(at('inspect').name, 'seed004');
    const update = at('update');
    assert.deepEqual(update.command, ['sh', '-c', 'while true; do echo "seed004 hello world"; sleep 0.2; done']);
    const logs = at('logs_after_update');
    assert.equal(logs.new_output, true, `service_logs: ${JSON.stringify(logs.sample)}`);
    const stale = at('stale_update');
    assert.equal(stale.refused, true);
    assert.equal(stale.status_code, 500);
    assert.match(String(stale.explanation), /update out of sequence/);
    assert.deepEqual(at('remove').remaining, []);
    assert.equal(at('inspect_removed').not_found, true);
    await waitFor('the service and its containers gone', async () => {
      const left = (await face.berth.client.listServices('default')).length + (await containersOf(docker as Dockerode, face.berth.owner)).length;
      return left === 0 ? true : undefined;
    }, { timeoutMs: 60_000 });
  });
});
