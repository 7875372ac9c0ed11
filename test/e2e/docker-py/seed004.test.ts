/**
 * The seed 004 page's docker-py calls (seed004.py, the Docker SDK for Python that is installed on the
 * machine, a client no one here wrote) against the Docker face listening on a unix socket, in-process
 * over an in-memory store: create_service, services(filters name / id), inspect_service,
 * update_service with the version from inspect, a stale update refused with Swarm's "update out of
 * sequence", remove_service by id; docker-py asks /version first (the face negotiates). No agent runs here: the instances and their logs are the lead's
 * end-to-end test's to check, with a real server.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { FakeTelemetry } from '../../../src/api/index.js';
import { createDockerApi } from '../../../src/api/docker/create-docker-api.js';
import { adminAuthenticator } from '../../../src/api/testing/fixtures.js';
import type { Store } from '../../../src/store/index.js';
import { openSqliteStore } from '../../../src/store/index.js';

const SCRIPT = fileURLToPath(new URL('./seed004.py', import.meta.url));

type Step = Record<string, unknown> & { step: string };

function dockerPyAvailable(): boolean {
  return spawnSync('python3', ['-c', 'import docker'], { stdio: 'ignore' }).status === 0;
}

describe('docker-py: the seed 004 page against the Docker face', { skip: dockerPyAvailable() ? false : 'python3 with the docker package is not installed' }, () => {
  let dir: string;
  let app: FastifyInstance;
  let store: Store;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-seed004-'));
    store = openSqliteStore(':memory:');
    // On the unix socket whoever connects is the cluster admin (owning the socket is the credential).
    app = createDockerApi({ authenticator: adminAuthenticator, store, telemetry: new FakeTelemetry(), node: 'node-1', version: '0.0.0-test', transport: 'unix' });
    await app.listen({ path: join(dir, 'docker.sock') });
  });

  after(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates, lists by name and id, inspects, updates with the inspected version, refuses the stale one, removes by id', async () => {
    // spawnSync would block the event loop that serves the socket: run the script asynchronously.
    const { code, stdout, stderr } = await runScript({ DOCKER_HOST: `unix://${join(dir, 'docker.sock')}`, SEED004_NAME: 'seed004-web', SEED004_IMAGE: 'busybox:local' });
    const steps = stdout.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Step);
    const at = (name: string): Step => {
      const s = steps.find((x) => x.step === name);
      assert.ok(s, `step ${name} missing; stdout:\n${stdout}\nstderr:\n${stderr}`);
      return s;
    };
    assert.equal(code, 0, `seed004.py failed:\n${stderr}`);

    const id = at('create').id as string;
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.equal(store.getService('default', 'seed004-web')?.id, id, 'the service is berth\'s, with berth\'s id');

    assert.deepEqual(at('list_by_name'), { step: 'list_by_name', ids: [id], names: ['seed004-web'] });
    assert.deepEqual(at('list_by_id'), { step: 'list_by_id', ids: [id], names: ['seed004-web'] });

    const inspected = at('inspect');
    assert.equal(inspected.id, id);
    assert.equal(inspected.name, 'seed004-web');
    assert.equal(inspected.image, 'busybox:local');
    assert.deepEqual(inspected.command, ['sh', '-c', 'while true; do echo "seed004 hello"; sleep 0.2; done']);

    const updated = at('update');
    assert.deepEqual(updated.result, { Warnings: [] });
    assert.ok((updated.version as number) > (inspected.version as number), 'the version moved');
    assert.deepEqual(updated.command, ['sh', '-c', 'while true; do echo "seed004 hello world"; sleep 0.2; done']);
    assert.deepEqual(updated.previous_command, inspected.command, 'PreviousSpec is the spec before the update');
    const deployed = store.getService('default', 'seed004-web');
    assert.deepEqual(deployed?.deployment?.spec.containers[0]?.command, updated.command, 'the update is deployed at once, as Swarm rolls it out');

    const stale = at('stale_update');
    assert.equal(stale.refused, true);
    assert.equal(stale.status_code, 500);
    assert.equal(stale.explanation, 'rpc error: code = Unknown desc = update out of sequence');

    assert.deepEqual(at('remove'), { step: 'remove', result: true, remaining: [] });
    assert.deepEqual(at('inspect_removed'), { step: 'inspect_removed', not_found: true, status_code: 404, explanation: `service ${id} not found` });
    assert.equal(store.getService('default', 'seed004-web')?.desired, 'removing', 'berth stops its instances, then deletes it');
  });
});

function runScript(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', [SCRIPT], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
