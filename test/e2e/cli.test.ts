import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { BerthClient } from '../../src/client/index.js';
import { BIN, ROOT, alive, cleanup, freePort, rangesFor, startBerth, tempDir, waitFor, cliEnv, adminToken } from './harness.js';
import { pidOf } from './programs.js';

function berth(url: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, '--host', url, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...cliEnv(url) }, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the berth CLI', () => {
  it('create stores without deploying, a stale update --version is refused, deploy and rm work', async () => {
    const server = await startBerth({ instanceRange: '127.11.5.0/24' });
    try {
      const created = berth(server.url, ['service', 'create', '--instances', '2', '--cmd', 'sleep 300', '--stop-timeout', '1', 'sleeper']);
      assert.equal(created.status, 0, created.stderr);
      assert.match(created.stdout, /not deployed/);
      const shown = berth(server.url, ['service', 'show', 'sleeper']);
      assert.match(shown.stdout, /replicas: 2/);
      assert.match(shown.stdout, /instances: none/);

      const version = (await server.client.getService('default', 'sleeper')).version;
      assert.equal(berth(server.url, ['service', 'update', '--env', 'A=1', 'sleeper']).status, 0);
      const stale = berth(server.url, ['service', 'update', '--env', 'A=2', '--version', String(version), 'sleeper']);
      assert.equal(stale.status, 1);
      assert.match(stale.stderr, /has been modified/);
      const after = await server.client.getService('default', 'sleeper');
      assert.deepEqual(after.spec.containers[0]?.env, [{ name: 'A', value: '1' }], 'the stale update changed nothing');

      const deployed = berth(server.url, ['service', 'deploy', 'sleeper']);
      assert.equal(deployed.status, 0, deployed.stderr);
      assert.match(deployed.stdout, /running: 2\/2/);
      const ps = berth(server.url, ['service', 'ps', 'sleeper']);
      assert.equal(ps.stdout.trim().split('\n').length, 3, ps.stdout);
      for (const i of await server.client.listInstances('default', 'sleeper', { active: true })) {
        assert.match(ps.stdout, new RegExp(`${i.id} .* ${pidOf(i)} `), 'ps shows the pid to kill');
      }
      assert.equal(berth(server.url, ['service', 'ls', '-q']).stdout, 'sleeper\n');
      const invalid = berth(server.url, ['service', 'create', '--cmd', 'x', '-e', '1BAD=x', 'ok-name']);
      assert.equal(invalid.status, 1);
      assert.match(invalid.stderr, /spec\.containers\[0\]\.env\[0\]\.name/);

      assert.equal(berth(server.url, ['service', 'rm', '--force', 'sleeper']).status, 0);
      assert.equal(berth(server.url, ['service', 'ls', '-q']).stdout, '');
    } finally {
      await cleanup(server);
    }
  });

  it('up runs the main example: it converges, serves through all API replicas, keeps the store\'s data, and Ctrl-C stops it', async () => {
    const dataDir = tempDir();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const up = spawn(process.execPath, [BIN, '--host', url, 'up', '-f', join(ROOT, 'examples/shop/berth.yaml'), '--data-dir', dataDir], {
      // The main example runs with processes: its embedded server leaves the machine's Docker engine alone.
      env: { ...process.env, NO_COLOR: '1', ...rangesFor('127.11.6.0/24'), BERTH_DOCKER: 'off', ...cliEnv(url) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    up.stdout.on('data', (c: Buffer) => (out += c.toString()));
    up.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => up.once('exit', (code) => resolve(code)));
    let client = new BerthClient({ baseUrl: url });
    try {
      await waitFor('up to follow logs', () => out.includes('following logs'), { timeoutMs: 60_000 }).catch((error: Error) => {
        throw new Error(`${error.message}; up printed:\n${out}`);
      });
      // up's embedded server wrote its admin token at first start, where any CLI on this machine finds it.
      client = new BerthClient({ baseUrl: url, token: adminToken(dataDir) });
      const web = /^web\s+(http:\/\/\S+)/m.exec(out)?.[1];
      assert.ok(web, `up printed where web answers:\n${out}`);
      // No readiness probes yet (a later issue): "running" means started, so wait for the page to answer.
      await waitFor('web answers', async () => (await fetch(`${web}/healthz`)).ok);
      await waitFor('api answers', async () => (await Promise.all((await client.listInstances('default', 'api', { active: true })).map((i) => fetch(`http://${i.spec.address}:8080/healthz`).then((r) => r.ok)))).every(Boolean));
      const answers: { servedBy: { instance: string }; visits: number }[] = [];
      for (let k = 0; k < 6; k++) {
        const r = await fetch(`${web}/json`);
        const body = await r.text();
        assert.equal(r.status, 200, body);
        answers.push(JSON.parse(body) as (typeof answers)[number]);
      }
      assert.equal(new Set(answers.map((a) => a.servedBy.instance)).size, 3, 'all three API instances answered');
      assert.deepEqual(answers.map((a) => a.visits), [1, 2, 3, 4, 5, 6]);

      const [store] = await client.listInstances('default', 'store', { active: true });
      assert.ok(store);
      process.kill(pidOf(store), 'SIGKILL');
      await waitFor('the store restarted', async () => (await client.listInstances('default', 'store', { active: true })).some((i) => i.id !== store.id && i.status.state === 'running'), { timeoutMs: 20_000 });
      // Until the new store listens, the API answers with an error and no count (no readiness probes yet).
      const next = await waitFor('a visit counted after the restart', async () => {
        const r = await fetch(`${web}/json`);
        const body = r.ok ? ((await r.json()) as Partial<(typeof answers)[number]>) : undefined;
        return typeof body?.visits === 'number' ? body : undefined;
      });
      assert.equal(next.visits, 7, 'the store kept its data across the restart');
      await waitFor('logs of the instances in up\'s output', () => /api-\d\s+\| hello #\d+ served by/.test(out));

      const instances = (await Promise.all(['store', 'api', 'web'].map((s) => client.listInstances('default', s, { active: true })))).flat();
      up.kill('SIGINT');
      assert.equal(await exited, 0, out);
      for (const i of instances) assert.equal(alive(pidOf(i)), false, `${i.id} was stopped`);
    } finally {
      // Instances outlive a killed server: on a failure, let `up` stop them as a user's Ctrl-C would.
      if (up.exitCode === null && up.signalCode === null) {
        up.kill('SIGINT');
        const timer = setTimeout(() => up.kill('SIGKILL'), 30_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
