import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ServiceExplanation } from '../../src/model/index.js';
import { BIN, ROOT, cleanup, startBerth, waitFor, type RunningBerth, cliEnv } from './harness.js';
import { SLOW } from './programs.js';

/** Runs the real `berth` binary against the test server (no colours). */
function berth(url: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, '--host', url, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...cliEnv(url) }, timeout: 90_000, cwd: ROOT });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `service create` flags of a slow-server service with Kontena's health check and short monitors. */
function createArgs(name: string, replicas: number, env: Record<string, string> = {}): string[] {
  return [
    'service', 'create', name, '--instances', String(replicas), '--cmd', `node ${SLOW}`, '-w', ROOT, '--port', '80:8080',
    '-e', 'PORT=8080', '-e', 'DELAY_MS=0-0', ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
    '--health-check-uri', '/health', '--health-check-port', '8080', '--health-check-interval', '0.3', '--health-check-timeout', '1',
    '--update-monitor', '0.5s', '--rollback-monitor', '0.5s', '--stop-timeout', '2s', '--drain-timeout', '1s', '--restart-delay', '1s',
  ];
}

describe('the berth CLI for rollouts: history, rollback, why, rm --instance, logs --events', () => {
  let server: RunningBerth;
  before(async () => {
    server = await startBerth({ instanceRange: '127.11.30.0/24' });
  });
  after(async () => cleanup(server));

  it('deploys, shows the history, rolls back to the old spec (instances end up on it), and refuses stale versions with 409', async () => {
    const created = berth(server.url, [...createArgs('hist', 2, { VERSION: '1' }), '--deploy']);
    assert.equal(created.status, 0, created.stderr + created.stdout);
    assert.match(created.stdout, /hist-1 running healthy/, 'deploy progress shows the health of each instance');
    const v1 = await server.client.getService('default', 'hist');
    assert.equal(v1.spec.containers[0]?.readinessProbe?.httpGet?.path, '/health', '--health-check-uri became the readiness probe');
    assert.equal(v1.spec.containers[0]?.livenessProbe?.httpGet?.port, 8080, '… and the liveness probe');

    const updated = berth(server.url, ['service', 'update', 'hist', '-e', 'VERSION=2', '--deploy']);
    assert.equal(updated.status, 0, updated.stderr + updated.stdout);
    assert.match(updated.stdout, /hist: completed: update to generation 2 completed/);
    const v2 = await server.client.getService('default', 'hist');

    const history = berth(server.url, ['service', 'history', 'hist']);
    assert.equal(history.status, 0, history.stderr);
    const rows = history.stdout.trim().split('\n');
    assert.match(rows[0] ?? '', /^VERSION +CREATED +CAUSE +DEPLOYED +CHANGES$/);
    assert.match(rows[1] ?? '', /^1 +\S+ ago +create +\S+ ago +-$/);
    assert.match(rows[2] ?? '', /^2 +\S+ ago +update +running, \S+ ago +env changed$/);

    const rolled = berth(server.url, ['service', 'rollback', 'hist']);
    assert.equal(rolled.status, 0, rolled.stderr + rolled.stdout);
    assert.match(rolled.stdout, /^rolling back hist to version 1 \(deployed as generation 3\)$/m);
    const v3 = await server.client.getService('default', 'hist');
    assert.deepEqual(v3.spec.containers[0]?.env, v1.spec.containers[0]?.env, 'the old spec is back');
    assert.deepEqual([v3.deployment?.cause, v3.deployment?.rollbackTo, v3.status.update?.state], ['rollback', 1, 'rollback_completed']);
    const running = (await server.client.listInstances('default', 'hist', { active: true })).filter((i) => i.desiredState === 'running');
    assert.deepEqual(running.map((i) => [i.generation, (i.spec.containers[0]?.env.find((e) => e.name === 'VERSION') as { value?: string } | undefined)?.value]), [[3, '1'], [3, '1']], 'every instance runs the old spec');
    assert.match(berth(server.url, ['service', 'history', 'hist']).stdout, /^3 +\S+ ago +rollback to 1 +running, \S+ ago +env changed$/m);

    for (const args of [['service', 'rollback', 'hist', '--version', String(v2.version)], ['service', 'deploy', 'hist', '--version', String(v2.version)]]) {
      const stale = berth(server.url, args);
      assert.equal(stale.status, 1, args.join(' '));
      assert.match(stale.stderr, /the object has been modified \(you sent version \d+, it is now at version \d+\)/);
    }
    assert.equal((await server.client.getService('default', 'hist')).version, v3.version, 'the stale requests changed nothing');
  });

  it('exits 1 when a deploy pauses on a failing readiness probe, and why names the probe and its output', async () => {
    assert.equal(berth(server.url, [...createArgs('pause', 2), '--update-parallelism', '1', '--deploy']).status, 0);
    const deploy = berth(server.url, ['service', 'update', 'pause', '-e', 'HEALTH_STATUS=503', '--deploy', '--timeout', '60s']);
    assert.equal(deploy.status, 1, deploy.stdout);
    assert.match(deploy.stderr, /^error: pause: update to generation 2 paused: pause-\d \(new, generation 2\) failed: (readiness|liveness) probe GET http:\/\/[\d.]+:8080\/health failed \d+ time\(s\): HTTP 503: warming up\n/);
    assert.match(deploy.stderr, /`berth service why pause` shows the evidence/);

    const why = berth(server.url, ['service', 'why', 'pause']);
    assert.equal(why.status, 0, why.stderr);
    assert.match(why.stdout, /^pause: paused — update to generation 2 paused: pause-\d \(new\) failed its (readiness|liveness) probe GET http:\/\/[\d.]+:8080\/health \d+ times: HTTP 503: warming up$/m);
    assert.match(why.stdout, /^ {5}output: HTTP 503: warming up$/m);
    assert.match(why.stdout, /`berth service rollback pause` goes back to generation 1/);
    const back = berth(server.url, ['service', 'rollback', 'pause']);
    assert.equal(back.status, 0, back.stderr + back.stdout);
    const healthy = JSON.parse(berth(server.url, ['service', 'why', 'pause', '-o', 'json']).stdout) as ServiceExplanation;
    assert.equal(healthy.verdict, 'healthy', healthy.summary);
  });

  it('rm --instance stops one instance and its slot gets a new one', async () => {
    assert.equal(berth(server.url, [...createArgs('rmi', 2), '--deploy']).status, 0);
    const before = (await server.client.listInstances('default', 'rmi', { active: true })).find((i) => i.slot === 2);
    assert.ok(before);
    const rm = berth(server.url, ['service', 'rm', 'rmi', '--instance', '2', '--force']);
    assert.equal(rm.status, 0, rm.stderr + rm.stdout);
    assert.match(rm.stdout, new RegExp(`^removing rmi-2 \\(${before.id}\\); a new instance takes slot 2$`, 'm'));
    const all = await server.client.listInstances('default', 'rmi');
    const old = all.find((i) => i.id === before.id);
    assert.deepEqual([old?.desiredState, old?.desiredReason, old?.status.state], ['shutdown', 'removed by user', 'shutdown']);
    const fresh = all.filter((i) => i.slot === 2 && i.id !== before.id && i.status.state === 'running');
    assert.equal(fresh.length, 1, 'a new instance runs in slot 2');
    assert.equal(fresh[0]?.status.health?.ready, true);
    assert.equal(all.filter((i) => i.slot === 1).length, 1, 'slot 1 was left alone');
    assert.ok(await server.client.getService('default', 'rmi'), 'the service stays');
  });

  it('why on a crash-looping service shows the exit code and the last log lines', async () => {
    const created = berth(server.url, ['service', 'create', 'crash', '--cmd', 'echo "starting $BERTH_SLOT"; echo "boom: no config" >&2; exit 3', '--restart-delay', '1s', '--deploy', '--no-wait']);
    assert.equal(created.status, 0, created.stderr);
    await waitFor('an instance that exited with code 3', async () => (await server.client.listInstances('default', 'crash')).some((i) => i.status.exitCode === 3), { timeoutMs: 20_000 });
    const why = await waitFor('why to name the crash', async () => {
      const x = JSON.parse(berth(server.url, ['service', 'why', 'crash', '-o', 'json']).stdout) as ServiceExplanation;
      return x.reasons.some((r) => r.kind === 'crashed' && r.evidence.lastLogLines?.length) ? x : undefined;
    }, { timeoutMs: 20_000, intervalMs: 200 });
    // The first deploy's rollout counts the crash as a failed new instance and pauses (failureAction pause).
    assert.ok(['failed', 'degraded', 'paused'].includes(why.verdict), why.verdict);
    const crashed = why.reasons.find((r) => r.kind === 'crashed');
    assert.equal(crashed?.evidence.exitCode, 3);
    assert.deepEqual(crashed?.evidence.lastLogLines, ['starting 1', 'boom: no config']);
    const text = berth(server.url, ['service', 'why', 'crash']);
    assert.match(text.stdout, /exit: code 3/);
    assert.match(text.stdout, /\| boom: no config/);
    assert.match(text.stdout, /`berth service logs crash -i 1` shows what it wrote before it exited/);
  });

  it('logs --events puts the service\'s events between the log lines in time order', async () => {
    assert.equal(berth(server.url, [...createArgs('timeline', 2), '--deploy']).status, 0);
    const r = berth(server.url, ['service', 'logs', 'timeline', '--events', '--tail', '1000']);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    const times = lines.map((l) => l.slice(0, 24));
    assert.ok(times.every((t) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(t)), r.stdout);
    assert.deepEqual([...times].sort(), times, 'in time order');
    const events = lines.filter((l) => l.includes('  EVENT '));
    const logs = lines.filter((l) => / timeline-\d \| /.test(l));
    assert.ok(events.some((l) => / EVENT service\.created timeline: /.test(l)), r.stdout);
    assert.ok(events.some((l) => / EVENT instance\.started timeline-1: /.test(l)), r.stdout);
    assert.equal(logs.filter((l) => / listening$/.test(l)).length, 2, r.stdout);
    const created = lines.findIndex((l) => l.includes('EVENT service.created'));
    const listening = lines.findIndex((l) => l.endsWith('listening'));
    assert.ok(created < listening, 'the service was created before its instances wrote anything');

    // Follow: a scale's events and the new instance's first line arrive live, in time order.
    const follower = spawn(process.execPath, [BIN, '--host', server.url, 'service', 'logs', 'timeline', '--events', '-f', '--tail', '0'], { env: { ...process.env, NO_COLOR: '1', ...cliEnv(server.url) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    follower.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<void>((resolve) => follower.once('exit', () => resolve()));
    try {
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(berth(server.url, ['service', 'scale', 'timeline', '3', '--no-wait']).status, 0);
      await waitFor('the scale and timeline-3\'s first line in the followed timeline', () => /EVENT service\.scaled/.test(out) && / timeline-3 \| .*listening/.test(out), { timeoutMs: 20_000 });
      const followed = out.trim().split('\n');
      const times = followed.map((l) => l.slice(0, 24));
      assert.deepEqual([...times].sort(), times, `followed lines in time order:\n${out}`);
      assert.ok(followed.findIndex((l) => l.includes('EVENT service.scaled')) < followed.findIndex((l) => / timeline-3 \| /.test(l)), out);
    } finally {
      follower.kill('SIGINT');
      await exited;
    }
  });
});
