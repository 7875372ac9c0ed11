import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Instance, ServiceExplanation, SpecRevision } from '../model/index.js';
import { instance, service, serviceSpec } from './testing/fixtures.js';
import type { RunOptions } from './testing/run-cli.js';
import { runCli } from './testing/run-cli.js';
import { StubApi } from './testing/stub-api.js';

const T0 = '2026-11-21T15:00:00.000Z';
const NOW = Date.parse('2026-11-21T15:10:00.000Z');

function revision(generation: number, cause: string, spec = serviceSpec(), deployedAt?: string): SpecRevision {
  return { generation, spec, createdAt: T0, cause, ...(deployedAt ? { deployedAt } : {}) };
}

describe('berth rollout commands against a stub API', () => {
  const stub = new StubApi();
  const run = (args: string[], options: RunOptions = {}) => runCli(args, { ...options, env: { BERTH_HOST: stub.url, ...options.env } });

  before(() => stub.start());
  after(() => stub.stop());
  beforeEach(() => stub.reset());

  describe('deploy follows the rollout', () => {
    it('exits 0 once the update status says completed, printing each update message when piped', async () => {
      stub.rollouts = 'completes';
      stub.stepMs = 150; // long enough for the wait to see the rollout in progress
      stub.seed(service({ spec: { name: 'web', replicas: 2 } }));
      const r = await run(['service', 'deploy', 'web']).finally(() => (stub.stepMs = 5));
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^web: updating: updating to generation 1: 0\/2 updated$/m);
      assert.match(r.stdout, /^web: completed: update to generation 1 completed: 2\/2 instance\(s\) ready$/m);
      assert.match(r.stdout, /service web is running: 2\/2 instances \(generation 1\)\n$/);
    });

    it('exits 1 when the update pauses, naming the instance, the probe and its output, and how to look closer', async () => {
      stub.rollouts = 'pauses';
      stub.seed(service({ spec: { name: 'web', replicas: 2 }, generation: 2, deployedGeneration: 1 }));
      const r = await run(['service', 'deploy', 'web']);
      assert.equal(r.code, 1);
      assert.match(r.stdout, /^web-1 running unhealthy$/m, 'the instance\'s health shows as it changes');
      assert.equal(
        r.stderr,
        'error: web: update to generation 2 paused: web-1 (new, generation 2) failed: readiness probe GET http://127.10.0.2:8080/health failed 3 time(s): HTTP 503: warming up\n' +
          '  `berth service why web` shows the evidence; `berth service rollback web` goes back to the version before\n',
      );
    });

    it('exits 1 when the update was rolled back automatically, after the rollback finished', async () => {
      stub.rollouts = 'rolls-back';
      stub.seed(service({ spec: { name: 'web' }, generation: 2, deployedGeneration: 1 }));
      const r = await run(['service', 'deploy', 'web']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^error: web: deploy of generation 2 failed and was rolled back to generation 1: rollback to generation 1 completed: 1\/1 instance\(s\) ready\n/);
      assert.match(r.stderr, /`berth service history web` lists the versions/);
    });

    it('exits 3 when the update completed with failures (failureAction continue), saying how many failed and why', async () => {
      stub.rollouts = 'completes-with-failures';
      stub.seed(service({ spec: { name: 'web', replicas: 3 }, generation: 2, deployedGeneration: 1 }));
      const r = await run(['service', 'deploy', 'web']);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stdout, /^service web rolled out with failures: 2\/3 instances running, 1 failed \(generation 2\)\n$/m);
      assert.equal(
        r.stderr,
        'error: web: update to generation 2 completed with failures: 2/3 instance(s) ready, 1 failed (failureAction continue): web-1 (generation 2) failed: exited with code 3\n' +
          '  `berth service why web` shows the evidence; `berth service rollback web` goes back to the version before\n',
      );
    });

    it('scale and update --deploy wait for their rollout too', async () => {
      stub.rollouts = 'pauses';
      stub.seed(service({ spec: { name: 'web' }, deployedGeneration: 1 }));
      assert.equal((await run(['service', 'scale', 'web', '2'])).code, 1);
      stub.rollouts = 'completes';
      const r = await run(['service', 'update', 'web', '-e', 'A=1', '--deploy']);
      assert.equal(r.code, 0, r.stderr);
    });

    it('refuses a stale --version with the 409 message', async () => {
      stub.seed(service({ spec: { name: 'web' }, version: 9 }));
      const r = await run(['service', 'deploy', 'web', '--version', '7']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^error: Operation cannot be fulfilled on service "web": the object has been modified \(you sent version 7, it is now at version 9\)/);
      assert.equal(stub.service('web')?.deployment, null);
    });
  });

  describe('history and rollback', () => {
    it('history lists versions with cause, deploy time, the running one, and what changed', async () => {
      stub.seed(service({ spec: { name: 'web', replicas: 3 }, generation: 3, deployedGeneration: 2 }));
      const v2 = serviceSpec({ containers: [{ ...serviceSpec().containers[0]!, command: ['node', 'v2.js'] }] });
      stub.histories.set('default/web', [
        revision(1, 'create', serviceSpec(), '2026-11-21T15:01:00.000Z'),
        revision(2, 'update', v2, '2026-11-21T15:05:00.000Z'),
        revision(3, 'scale', { ...v2, replicas: 3 }),
      ]);
      const r = await run(['service', 'history', 'web'], { now: NOW });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.trimEnd().split('\n'), [
        'VERSION   CREATED   CAUSE    DEPLOYED          CHANGES',
        '1         10m ago   create   9m ago            -',
        '2         10m ago   update   running, 5m ago   command changed',
        '3         10m ago   scale    -                 replicas 1→3',
      ]);
      const json = await run(['service', 'history', 'web', '-o', 'json']);
      assert.equal((JSON.parse(json.stdout) as { deployedGeneration: number }).deployedGeneration, 2);
    });

    it('rollback sends the target, says which version it deploys, and waits for the rollout', async () => {
      stub.rollouts = 'completes';
      stub.seed(service({ spec: { name: 'web', replicas: 2 }, generation: 2, deployedGeneration: 2 }));
      stub.histories.set('default/web', [revision(1, 'create', serviceSpec(), T0), revision(2, 'scale', serviceSpec({ replicas: 2 }), T0)]);
      const r = await run(['service', 'rollback', 'web', '--to', '1']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(stub.writes[0]?.body, { to: 1 });
      assert.match(r.stdout, /^rolling back web to version 1 \(deployed as generation 3\)\n/);
      assert.match(r.stdout, /service web is running: 1\/1 instances \(generation 3\)\n$/);
      assert.equal(stub.service('web')?.spec.replicas, 1);
    });

    it('rollback reports an unknown version with the server\'s message and exits 1', async () => {
      stub.seed(service({ spec: { name: 'web' }, deployedGeneration: 1 }));
      const r = await run(['service', 'rollback', 'web', '--to', '9', '--no-wait']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^error: to: service "web" in grid "default" has no generation 9 in its history/);
    });
  });

  describe('why', () => {
    const paused: ServiceExplanation = {
      verdict: 'paused',
      summary: 'update to generation 4 paused: web-3 (new) failed its readiness probe GET http://127.10.0.7:8080/health 3 times: HTTP 503: warming up',
      reasons: [
        {
          kind: 'probe_failing', message: 'web-3 (new) failed its readiness probe GET http://127.10.0.7:8080/health 3 times: HTTP 503: warming up', instance: 'web-3-c', slot: 3, generation: 4,
          evidence: { state: 'running', probe: { kind: 'readiness', container: 'web', target: 'GET http://127.10.0.7:8080/health', lastOutput: 'HTTP 503: warming up', consecutiveFailures: 3 }, lastLogLines: ['loading model', 'still loading'] },
        },
        { kind: 'crashed', message: 'web-2 exited with code 137 (SIGKILL)', instance: 'web-2-b', slot: 2, evidence: { exitCode: 137, signal: 'SIGKILL' } },
      ],
      suggestions: ['`berth service rollback web` goes back to generation 3'],
      deployedGeneration: 4,
      instances: [{ slot: 3, id: 'web-3-c', generation: 4, state: 'running', desiredState: 'running', health: 'unhealthy', ready: false }],
    };

    it('prints the verdict, each reason with its evidence, the instances and the suggestions', async () => {
      stub.seed(service({ spec: { name: 'web' }, deployedGeneration: 4 }));
      stub.explanations.set('default/web', paused);
      const r = await run(['service', 'why', 'web']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, [
        `web: paused — ${paused.summary}`,
        '',
        'reasons:',
        '  1. web-3 (new) failed its readiness probe GET http://127.10.0.7:8080/health 3 times: HTTP 503: warming up',
        '     probe: readiness GET http://127.10.0.7:8080/health (container web), 3 consecutive failures',
        '     output: HTTP 503: warming up',
        '     last log lines:',
        '       | loading model',
        '       | still loading',
        '  2. web-2 exited with code 137 (SIGKILL)',
        '     exit: code 137, SIGKILL',
        '',
        'instances:',
        '  web-3   web-3-c  gen 4   running   unhealthy',
        '',
        'suggestions:',
        '  - `berth service rollback web` goes back to generation 3',
        '',
      ].join('\n'));
      const json = await run(['service', 'why', 'web', '-o', 'json']);
      assert.deepEqual(JSON.parse(json.stdout), paused);
    });
  });

  describe('logs --events', () => {
    it('prints one timeline: log lines and EVENT lines in time order, each led by its time', async () => {
      stub.seed(service({ spec: { name: 'web' }, deployedGeneration: 1 }));
      stub.logs.set('default/web', [
        { time: '2026-11-21T15:00:01.000000001Z', stream: 'stdout', text: 'listening', instance: 'web-2-a', slot: 2, container: 'web' },
        { time: '2026-11-21T15:00:03.500000000Z', stream: 'stderr', text: 'GET /health 503', instance: 'web-2-a', slot: 2, container: 'web' },
      ]);
      stub.events.set('default/web', [
        { id: 1, time: '2026-11-21T15:00:00.500Z', grid: 'default', service: 'web', type: 'service.update_started', severity: 'info', message: 'updating to generation 2' },
        { id: 2, time: '2026-11-21T15:00:04.000Z', grid: 'default', service: 'web', type: 'instance.unhealthy', severity: 'warning', message: 'readiness probe failed: HTTP 503', slot: 2 },
      ]);
      const r = await run(['service', 'logs', 'web', '--events']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.trimEnd().split('\n'), [
        '2026-11-21T15:00:00.500Z  EVENT service.update_started web: updating to generation 2',
        '2026-11-21T15:00:01.000Z  web-2 | listening',
        '2026-11-21T15:00:03.500Z  web-2 | GET /health 503',
        '2026-11-21T15:00:04.000Z  EVENT instance.unhealthy web-2: readiness probe failed: HTTP 503',
      ]);
      assert.equal(stub.requests.at(-1)?.query.get('events'), 'true');
    });
  });

  describe('rm --instance', () => {
    const twoInstances = (): Instance[] => [instance({ slot: 1 }), instance({ slot: 2, id: 'web-2-a1b2' })];

    it('removes one instance by slot with --force and waits until its slot has a new one', async () => {
      stub.seed(service({ spec: { name: 'web', replicas: 2 }, deployedGeneration: 1 }), twoInstances());
      const r = await run(['service', 'rm', 'web', '--instance', '2', '--force']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual([stub.writes[0]?.method, stub.writes[0]?.path], ['DELETE', '/v1/grids/default/services/web/instances/2']);
      assert.match(r.stdout, /^removing web-2 \(web-2-a1b2\); a new instance takes slot 2\n/);
      const slot2 = stub.instances.get('default/web')?.filter((i) => i.slot === 2).map((i) => [i.id, i.status.state]);
      assert.deepEqual(slot2, [['web-2-a1b2-r', 'running'], ['web-2-a1b2', 'shutdown']]);
      assert.ok(stub.service('web'), 'the service stays');
    });

    it('asks first on a terminal, refuses without one, and needs exactly one service name', async () => {
      stub.seed(service({ spec: { name: 'web', replicas: 2 }, deployedGeneration: 1 }), twoInstances());
      const refused = await run(['service', 'rm', 'web', '--instance', '2']);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /^error: refusing to remove instance web-2 without confirmation: stdin is not a terminal; pass --force/);
      const kept = await run(['service', 'rm', 'web', '--instance', 'web-2-a1b2'], { stdinTty: true, stdinText: 'n\n' });
      assert.match(kept.stderr, /Remove instance web-2-a1b2 of service web \(a new instance takes its slot\)\? \[y\/N\] kept web-2-a1b2/);
      assert.equal(stub.writes.length, 0);
      assert.equal((await run(['service', 'rm', 'web', 'api', '--instance', '1', '--force'])).code, 2);
    });
  });

  describe('ps and show', () => {
    it('ps shows each instance\'s health, and show the update status, health summary and probes', async () => {
      const probe = { httpGet: { path: '/health', port: 8080, scheme: 'HTTP' as const, httpHeaders: [] }, initialDelaySeconds: 0, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 };
      const spec = { name: 'web', replicas: 2, containers: [{ ...serviceSpec().containers[0]!, readinessProbe: probe }] };
      const update = { state: 'paused' as const, generation: 2, requestedAt: T0, fromGeneration: 1, startedAt: T0, message: 'update to generation 2 paused: web-2 failed', failedInstances: ['web-2-a1b2'], updatedInstances: 1, totalInstances: 2 };
      const healthy: Instance = { ...instance({ slot: 1 }), status: { ...instance().status, health: { started: true, ready: true, live: true, probes: [] } } };
      const sick: Instance = {
        ...instance({ slot: 2 }),
        status: { ...instance().status, health: { started: true, ready: false, live: true, probes: [{ kind: 'readiness', container: 'web', target: 'GET http://127.10.0.3:8080/health', result: 'failure', consecutiveSuccesses: 0, consecutiveFailures: 3, lastOutput: 'HTTP 503' }] } },
      };
      stub.seed(service({ spec, generation: 2, deployedGeneration: 2, status: { update } }), [healthy, sick]);
      const ps = await run(['service', 'ps', 'web']);
      assert.match(ps.stdout, /^web-1 +web-1-a1b2 +running +healthy +running/m);
      assert.match(ps.stdout, /^web-2 +web-2-a1b2 +running +unhealthy +running/m);
      const show = await run(['service', 'show', 'web']);
      assert.match(show.stdout, /\n {2}update: paused \(1\/2 updated\) — update to generation 2 paused: web-2 failed\n/);
      assert.match(show.stdout, /\n {2}health: 1\/2 healthy, 1 unhealthy\n/);
      assert.match(show.stdout, /\n {6}readiness probe: GET :8080\/health every 10s, timeout 1s; 3 failures = failing\n/);
      assert.match(show.stdout, /\n {6}readiness probe: failing GET http:\/\/127\.10\.0\.3:8080\/health \(3×\): HTTP 503\n/);
    });
  });
});
