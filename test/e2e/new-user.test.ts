import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, ROOT, cleanup, startBerth, waitFor, type RunningBerth, cliEnv } from './harness.js';

/*
 * Issue 9 §5, the bugs found trying berth as a new user would, each reproduced with the real binaries:
 * a `failureAction: continue` deploy that hung until its timeout, a network change reported as "not
 * deployed", `show -o yaml` that `apply` refused, `service edit`, the data a stateful service's `rm`
 * left silently, and the default sticky-session timeout missing from the stored spec.
 */

function berth(url: string, args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string; ms: number } {
  const started = Date.now();
  const r = spawnSync(process.execPath, [BIN, '--host', url, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...cliEnv(url), ...env }, timeout: 120_000, cwd: ROOT });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started };
}

/** Fast stops and restarts: the rollouts here replace crashing instances. */
const QUICK = ['--stop-timeout', '1s', '--drain-timeout', '0s', '--restart-delay', '1s', '--update-monitor', '0.5s'];

describe('issue 9 §5: what a new user ran into', () => {
  let server: RunningBerth;
  const work = mkdtempSync(join(tmpdir(), 'berth-new-user-'));
  before(async () => {
    server = await startBerth({ instanceRange: '127.11.61.0/24' });
  });
  after(async () => {
    await cleanup(server);
    rmSync(work, { recursive: true, force: true });
  });

  it('failureAction continue: a deploy whose new instances all crash finishes with the failures counted, exit 3, long before its timeout', async () => {
    const created = berth(server.url, ['service', 'create', 'cont', '--instances', '3', '--cmd', 'sleep 300', '--update-failure-action', 'continue', ...QUICK, '--deploy']);
    assert.equal(created.status, 0, created.stderr + created.stdout);
    assert.equal(berth(server.url, ['service', 'update', 'cont', '--cmd', 'sh -c "exit 3"']).status, 0);
    const deployed = berth(server.url, ['service', 'deploy', 'cont', '--timeout', '90s']);
    assert.equal(deployed.status, 3, deployed.stderr + deployed.stdout);
    assert.ok(deployed.ms < 60_000, `finished in ${deployed.ms} ms, not at the 90 s timeout`);
    assert.match(deployed.stdout, /^service cont rolled out with failures: 0\/3 instances running, 3 failed \(generation 2\)$/m);
    assert.match(deployed.stderr, /^error: cont: update to generation 2 completed with failures: 0\/3 instance\(s\) ready, 3 failed \(failureAction continue\): cont-1 \(generation 2\) failed: exited with code 3\n/);
    const update = (await server.client.getService('default', 'cont')).status.update;
    assert.deepEqual([update?.state, update?.updatedInstances, update?.totalInstances, update?.failedInstances.length], ['completed', 0, 3, 3]);
    assert.equal(berth(server.url, ['service', 'rm', '--force', 'cont']).status, 0);
  });

  it('a network change takes effect at once and says so; a service without containers is serving, not "not deployed"', async () => {
    assert.equal(berth(server.url, ['service', 'create', 'net', '--cmd', 'sleep 300', ...QUICK, '--deploy']).status, 0);
    const typed = berth(server.url, ['service', 'update', 'net', '--type', 'NodePort', '--port', '80:8080']);
    assert.equal(typed.status, 0, typed.stderr);
    assert.equal(typed.stdout, 'service net updated to generation 2: network changed, in effect now (nothing to deploy)\n');
    const ips = berth(server.url, ['service', 'update', 'net', '--external-ip', '127.0.0.61']);
    assert.equal(ips.stdout, 'service net updated to generation 3: network changed, in effect now (nothing to deploy)\n');
    const nodePort = await waitFor('the node port served', async () => (await server.client.endpoints('default', 'net')).ports[0]?.nodePort);
    assert.ok(nodePort > 0, 'the NodePort change took effect without a deploy');
    assert.match(berth(server.url, ['service', 'ls']).stdout, /^net +1\/1 +running +3 +NodePort/m);

    const ext = berth(server.url, ['service', 'create', 'ext', '--endpoint', '127.0.0.1:5432', '--port', '5432']);
    assert.equal(ext.stdout, 'service ext created: no containers: serves 1 endpoint set by hand, in effect now (nothing to deploy)\n');
    await waitFor('ext running', async () => (await server.client.getService('default', 'ext')).status.phase === 'running');
    const shown = berth(server.url, ['service', 'show', 'ext']);
    assert.doesNotMatch(shown.stdout, /not deployed/, shown.stdout);
    assert.match(shown.stdout, /^ {2}state: running \(0\/0 instances running\) — no containers: serves 1 endpoint set by hand$/m);
    assert.equal((await server.client.getService('default', 'ext')).explanation?.verdict, 'healthy');
  });

  it('`show -o yaml > f; apply -f f` applies, and an edited copy changes the service', async () => {
    const file = join(work, 'net.yaml');
    writeFileSync(file, berth(server.url, ['service', 'show', 'net', '-o', 'yaml']).stdout);
    const same = berth(server.url, ['apply', '-f', file]);
    assert.equal(same.status, 0, same.stderr);
    assert.match(same.stdout, /^service\/net unchanged$/m);
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^ {2}replicas: 1$/m, '  replicas: 2'));
    const applied = berth(server.url, ['apply', '-f', file, '--wait']);
    assert.equal(applied.status, 0, applied.stderr + applied.stdout);
    assert.match(applied.stdout, /^service\/net configured$/m);
    assert.equal((await server.client.getService('default', 'net')).spec.replicas, 2);
  });

  it('`service edit` applies what the editor saved, and reopens a file the server refuses with its errors', async () => {
    const editor = join(work, 'editor.sh');
    writeFileSync(
      editor,
      [
        '#!/bin/sh',
        `n=$(cat "${work}/count" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "${work}/count"; cp "$1" "${work}/seen.$n.yaml"`,
        `if [ $n = 1 ]; then sed -i 's/^  replicas: 2$/  replicas: -1/' "$1"; else sed -i 's/^  replicas: -1$/  replicas: 3/' "$1"; fi`,
      ].join('\n'),
    );
    chmodSync(editor, 0o755);
    const edited = berth(server.url, ['service', 'edit', 'net', '--wait'], { EDITOR: editor });
    assert.equal(edited.status, 0, edited.stderr + edited.stdout);
    assert.match(readFileSync(join(work, 'seen.2.yaml'), 'utf8'), /^# The service could not be saved:\n# Service "net" is invalid:\n# {3}spec\.replicas: Invalid value: -1/m);
    assert.match(edited.stdout, /^service net edited, deploying generation \d+$/m);
    assert.equal((await server.client.getService('default', 'net')).spec.replicas, 3);
    const unchanged = berth(server.url, ['service', 'edit', 'net'], { EDITOR: 'true' });
    assert.deepEqual([unchanged.status, unchanged.stdout], [0, 'Edit cancelled, no changes made.\n']);
  });

  it('a stateful service: rm lists the data it keeps, a new service of the same name says it found it, rm --volumes deletes it', async () => {
    const create = (): void => {
      const r = berth(server.url, ['service', 'create', 'db', '--stateful', '--instances', '2', '--cmd', 'sh -c "date >> $BERTH_DATA_DIR/writes; sleep 300"', ...QUICK, '--deploy']);
      assert.equal(r.status, 0, r.stderr + r.stdout);
    };
    const dir = join(server.dataDir, 'volumes', 'default', 'db');
    create();
    await waitFor('both slots wrote', () => [1, 2].every((s) => existsSync(join(dir, String(s), 'writes'))));
    const kept = berth(server.url, ['service', 'rm', '--force', 'db']);
    assert.equal(kept.status, 0, kept.stderr);
    assert.match(kept.stdout, new RegExp(`^removing db; its data directories are kept \\(a new service named db would find and use them\\):\\n {2}\\S+:${dir}/1\\n {2}\\S+:${dir}/2\\n`));
    assert.deepEqual(readdirSync(dir).filter((d) => !d.startsWith('.')).sort(), ['1', '2']);

    create();
    const events = await waitFor('the data_found event', async () => {
      const r = berth(server.url, ['service', 'events', 'db']);
      return /instance\.data_found/.test(r.stdout) ? r.stdout : undefined;
    });
    assert.match(events, /db-1 found data that an earlier service named db left \(slots 1, 2: /);

    const removed = berth(server.url, ['service', 'rm', '--force', '--volumes', 'db']);
    assert.equal(removed.status, 0, removed.stderr);
    assert.match(removed.stdout, /^removing db and its data directories:\n/);
    await waitFor('the data directories deleted', () => !existsSync(dir));
    assert.deepEqual(await server.client.listVolumes('default', { service: 'db' }), []);
  });

  it('stores the default sticky-session timeout (10800 s) in the spec', async () => {
    const r = berth(server.url, ['service', 'create', 'sticky', '--cmd', 'sleep 300', '--session-affinity', 'ClientIP']);
    assert.equal(r.status, 0, r.stderr);
    const spec = JSON.parse(berth(server.url, ['service', 'show', 'sticky', '-o', 'json']).stdout) as { spec: { sessionAffinityConfig?: unknown } };
    assert.deepEqual(spec.spec.sessionAffinityConfig, { clientIP: { timeoutSeconds: 10_800 } });
  });
});
