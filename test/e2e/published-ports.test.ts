import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isApiError } from '../../src/client/index.js';
import { BIN, ROOT, cleanup, cliEnv, freePort, startBerth, waitFor, type RunningBerth } from './harness.js';
import { ECHO } from './programs.js';

/*
 * Issue 10 §5, Kontena's `-p PUBLISHED:TARGET` (Swarm's routing mesh) against the real server and the
 * real CLI: the published port is opened on the node's address (127.0.0.1) and balanced over the ready
 * instances' target port; a second service publishing it is refused (422 PORT_ALLOCATED, as a node
 * port); a port another program holds shows as the service's listener condition; the spec round-trips
 * through `show -o yaml` and `diff`. Process instances stand in for containers (the image part is the
 * docker driver's).
 */

function berth(url: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, '--host', url, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...cliEnv(url) }, timeout: 90_000, cwd: ROOT });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** One HTTP GET on a fresh connection; resolves with the body (the echo server answers its instance id). */
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

const createArgs = (name: string, publish: string, instances = 1): string[] => [
  'service', 'create', name, '--cmd', `node ${ECHO}`, '-w', ROOT, '-e', 'PORT=8080', '-p', publish, '--instances', String(instances), '--stop-timeout', '2s',
];

describe('published ports: berth service create -p PUBLISHED:TARGET', { timeout: 120_000 }, () => {
  let server: RunningBerth;
  const dir = mkdtempSync(join(tmpdir(), 'berth-published-'));
  before(async () => {
    server = await startBerth({ instanceRange: '127.11.72.0/24' });
  });
  after(async () => {
    await cleanup(server);
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves 127.0.0.1:PUBLISHED from every ready instance, and refuses a second service on it with 422 PORT_ALLOCATED', async () => {
    const port = await freePort();
    const created = berth(server.url, [...createArgs('pub', `${port}:8080`, 3), '--deploy', '--timeout', '60s']);
    assert.equal(created.status, 0, created.stderr + created.stdout);
    const svc = await server.client.getService('default', 'pub');
    assert.deepEqual(svc.spec.ports, [{ protocol: 'TCP', port: 8080, targetPort: 8080, published: port }], '-p made service port TARGET, published at PUBLISHED');

    const instances = (await server.client.listInstances('default', 'pub', { active: true })).filter((i) => i.desiredState === 'running');
    assert.equal(instances.length, 3);
    const answers = new Set<string>();
    await waitFor('all three instances answer through the published port', async () => {
      for (let k = 0; k < 30; k++) answers.add(await get('127.0.0.1', port).catch(() => ''));
      return [...answers].filter((a) => a !== '').length === 3;
    });
    assert.deepEqual([...answers].filter((a) => a !== '').sort(), instances.map((i) => i.id).sort(), 'the published port balances over the instances');
    assert.match(await get(svc.spec.clusterIP as string, 8080), /^pub-/, 'the virtual IP serves the same service port');

    const second = berth(server.url, createArgs('pub2', `${port}:8080`));
    assert.equal(second.status, 1, second.stdout);
    assert.match(second.stderr, new RegExp(`spec\\.ports\\[0\\]\\.published: Invalid value: ${port}: provided port is already allocated \\(TCP 127\\.0\\.0\\.1:${port} is served for service default/pub, its spec\\.ports\\[0\\]\\.published\\)`));
    try {
      await server.client.createService('default', { name: 'pub3', containers: [{ command: ['node', ECHO], workingDir: ROOT }], ports: [{ port: 80, targetPort: 8080, published: port }] });
      assert.fail('the second publisher was accepted');
    } catch (e) {
      assert.ok(isApiError(e), String(e));
      assert.deepEqual([e.status, e.code], [422, 'PORT_ALLOCATED']);
    }
    await assert.rejects(server.client.getService('default', 'pub2'), /not found/, 'nothing stored');

    const ls = berth(server.url, ['service', 'ls']);
    assert.match(ls.stdout, new RegExp(`^pub +.*\\*:${port}->8080/TCP`, 'm'));
    const show = berth(server.url, ['service', 'show', 'pub']);
    assert.match(show.stdout, new RegExp(`- 8080 → 8080/tcp \\(published on the node at ${port}\\)`));

    // Moved to another port: the old one closes, the new one serves.
    const moved = await freePort();
    const update = berth(server.url, ['service', 'update', 'pub', '-p', `${moved}:8080`]);
    assert.equal(update.status, 0, update.stderr);
    assert.match(update.stdout, /network changed, in effect now \(nothing to deploy\)/, 'a published port is the network face: no redeploy');
    await waitFor('the new published port answers', () => get('127.0.0.1', moved).catch(() => undefined));
    await waitFor('the old published port is closed', () => get('127.0.0.1', port).then(() => false, () => true));
  });

  it('shows a published port another program holds as the service\'s listener condition, and serves once it is free', async () => {
    const port = await freePort();
    const holder = net.createServer((s) => s.destroy());
    await new Promise<void>((resolve) => holder.listen({ host: '127.0.0.1', port }, resolve));
    try {
      const created = berth(server.url, [...createArgs('held', `${port}:8080`), '--deploy', '--timeout', '60s']);
      assert.equal(created.status, 0, `the create succeeds: ${created.stderr}${created.stdout}`);
      await waitFor('the listener condition', async () => (await server.client.getService('default', 'held')).status.conditions?.some((c) => c.type === 'ListenersOpen' && c.status === 'False'));
      const why = berth(server.url, ['service', 'why', 'held']);
      assert.match(why.stdout, new RegExp(`TCP 127\\.0\\.0\\.1:${port} \\(published port of 8080/TCP\\) cannot be opened: EADDRINUSE`));
      assert.match(why.stdout, /another program holds/);
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    }
    assert.match(await waitFor('the published port answers once free', () => get('127.0.0.1', port).catch(() => undefined), { timeoutMs: 30_000 }), /^held-1-/);
  });

  it('round-trips the container fields and published ports through show -o yaml and diff', async () => {
    const port = await freePort();
    const created = berth(server.url, [
      'service', 'create', 'img', 'nginx:1.27', '-p', `${port}:80`, '--image-pull-policy', 'Never', '--hostname', 'img-host',
      '--container-label', 'com.example.tier=front', '--mount', 'type=bind,source=/srv/site,target=/site,readonly', '--mount', 'type=tmpfs,target=/tmp,tmpfs-size=64m',
      '--mount', 'type=volume,target=/data', '--cpus', '0.5', '--memory', '256Mi', '--reserve-memory', '64Mi',
    ]);
    assert.equal(created.status, 0, created.stderr + created.stdout);
    const c = (await server.client.getService('default', 'img')).spec.containers[0];
    assert.deepEqual(
      { imagePullPolicy: c?.imagePullPolicy, hostname: c?.hostname, labels: c?.labels, mounts: c?.mounts, resources: c?.resources },
      {
        imagePullPolicy: 'Never',
        hostname: 'img-host',
        labels: { 'com.example.tier': 'front' },
        mounts: [
          { type: 'bind', source: '/srv/site', target: '/site', readOnly: true },
          { type: 'tmpfs', target: '/tmp', readOnly: false, tmpfsSize: 64 * 1024 * 1024 },
          { type: 'volume', target: '/data', readOnly: false },
        ],
        resources: { limits: { cpus: 0.5, memory: 256 * 1024 * 1024 }, reservations: { memory: 64 * 1024 * 1024 } },
      },
    );
    const yaml = berth(server.url, ['service', 'show', 'img', '-o', 'yaml']);
    assert.equal(yaml.status, 0, yaml.stderr);
    const file = join(dir, 'img.yaml');
    writeFileSync(file, yaml.stdout);
    const diff = berth(server.url, ['diff', '-f', file]);
    assert.equal(diff.status, 0, `show -o yaml applied again changes nothing: ${diff.stdout}${diff.stderr}`);
    const edited = yaml.stdout.replace('memory: 268435456', 'memory: 512Mi');
    assert.notEqual(edited, yaml.stdout);
    writeFileSync(file, edited);
    const changed = berth(server.url, ['diff', '-f', file]);
    assert.equal(changed.status, 1, changed.stderr);
    assert.match(changed.stdout, /-\s+memory: 268435456\n\+\s+memory: 536870912/, 'the diff shows the limit in bytes, as stored');

    const bad = berth(server.url, ['service', 'update', 'img', '--memory', '1Mi']);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /spec\.containers\[0\]\.resources\.limits\.memory: Invalid value: 1048576: must be at least 6Mi/);
  });
});
