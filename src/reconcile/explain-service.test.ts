import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Instance, InstanceHealth, ListenerProblem, Service, ServiceEvent, UpdateStatus } from '../model/index.js';
import { PROGRESS_REASONS_PER_KIND, explainService } from './explain-service.js';
import { T0, instance, iso, service } from '../../test/fixtures.js';

const NOW = T0 + 60_000;

function withStatus(s: Service, status: Partial<Service['status']>, deployment: Partial<NonNullable<Service['deployment']>> = {}): Service {
  return { ...s, status: { ...s.status, ...status }, deployment: s.deployment ? { ...s.deployment, ...deployment } : null };
}

function update(overrides: Partial<UpdateStatus>): UpdateStatus {
  return {
    state: 'updating', generation: 4, requestedAt: iso(T0), fromGeneration: 3, startedAt: iso(T0), message: '',
    failedInstances: [], updatedInstances: 0, totalInstances: 3, ...overrides,
  };
}

const failingReadiness: InstanceHealth = {
  started: true, ready: false, live: true,
  probes: [{ kind: 'readiness', container: 'web', target: 'GET http://127.10.0.7:8080/health', result: 'failure', consecutiveSuccesses: 0, consecutiveFailures: 3, lastOutput: 'HTTP 503: warming up' }],
};

function healthy(i: Instance): Instance {
  return { ...i, status: { ...i.status, health: { started: true, ready: true, live: true, probes: [] } } };
}

function event(overrides: Partial<ServiceEvent>): ServiceEvent {
  return { id: 1, time: iso(T0 + 1000), grid: 'default', service: 'web', type: 'service.updated', severity: 'info', message: 'x', ...overrides };
}

describe('explainService', () => {
  it('calls a service healthy when every desired instance runs and is ready, with no reasons', () => {
    const svc = withStatus(service({ replicas: 3 }), { phase: 'running', desiredInstances: 3, runningInstances: 3, message: '3/3 running' });
    const x = explainService(svc, [1, 2, 3].map((slot) => instance({ slot })), { now: NOW });
    assert.equal(x.verdict, 'healthy');
    assert.equal(x.summary, '3/3 instances of web ready, running generation 1');
    assert.deepEqual(x.reasons, []);
    assert.deepEqual(x.instances.map((i) => [i.slot, i.state, i.ready]), [[1, 'running', true], [2, 'running', true], [3, 'running', true]]);
  });

  it('says a created service was never deployed and suggests deploy', () => {
    const x = explainService(service({ deployed: false }), []);
    assert.equal(x.verdict, 'not_deployed');
    assert.deepEqual(x.suggestions, ['`berth service deploy web`']);
    assert.equal(x.deployedGeneration, null);
  });

  it('puts a multi-line probe output on one line in its messages, and keeps it as seen in the evidence', () => {
    const svc = withStatus(service({ replicas: 3, generation: 4 }), {
      phase: 'deploying', desiredInstances: 3, runningInstances: 3,
      update: update({ state: 'paused', failedInstances: ['web-3-new'], message: 'paused: 1 new instance failed', updatedInstances: 0 }),
    });
    const body = 'HTTP 404: <html>\r\n<head><title>404 Not Found</title></head>\r\n</html>';
    const probe = { ...failingReadiness.probes[0]!, lastOutput: body };
    const fresh: Instance = { ...instance({ slot: 3, id: 'web-3-new', generation: 4 }), status: { ...instance().status, health: { ...failingReadiness, probes: [probe] } } };
    const x = explainService(svc, [fresh], { now: NOW });
    assert.equal(x.summary, 'update to generation 4 paused: web-3 (new) failed its readiness probe GET http://127.10.0.7:8080/health 3 times: HTTP 404: <html> <head><title>404 Not Found</title></head> </html>');
    assert.ok(x.reasons.every((r) => !/[\r\n]/.test(r.message)), JSON.stringify(x.reasons.map((r) => r.message)));
    assert.equal(x.reasons[0]?.evidence.probe?.lastOutput, body);
  });

  it('says a stopped service is stopped and suggests start', () => {
    const x = explainService(service({ desired: 'stopped' }), [instance({ desiredState: 'shutdown' })]);
    assert.equal(x.verdict, 'stopped');
    assert.equal(x.summary, 'web is stopped: 1 instance(s) still stopping');
    assert.deepEqual(x.suggestions, ['`berth service start web`']);
  });

  it('names the new instance, its probe and the probe output when an update paused', () => {
    const svc = withStatus(service({ replicas: 3, generation: 4 }), {
      phase: 'deploying', desiredInstances: 3, runningInstances: 3,
      update: update({ state: 'paused', failedInstances: ['web-3-new'], message: 'paused: 1 new instance failed', updatedInstances: 0 }),
    });
    const old = [1, 2].map((slot) => healthy(instance({ slot, generation: 3 })));
    const fresh: Instance = { ...instance({ slot: 3, id: 'web-3-new', generation: 4 }), status: { ...instance().status, health: failingReadiness } };
    const x = explainService(svc, [...old, fresh], { now: NOW });
    assert.equal(x.verdict, 'paused');
    assert.equal(x.summary, 'update to generation 4 paused: web-3 (new) failed its readiness probe GET http://127.10.0.7:8080/health 3 times: HTTP 503: warming up');
    assert.equal(x.reasons[0]?.kind, 'probe_failing');
    assert.equal(x.reasons[0]?.instance, 'web-3-new');
    assert.deepEqual(x.reasons[0]?.evidence.probe, { kind: 'readiness', container: 'web', target: 'GET http://127.10.0.7:8080/health', lastOutput: 'HTTP 503: warming up', consecutiveFailures: 3 });
    assert.equal(x.reasons[1]?.kind, 'rollout');
    assert.equal(x.reasons[1]?.message, 'paused: 1 new instance failed (0/3 updated)');
    assert.ok(x.suggestions.some((s) => s.startsWith('`berth service rollback web` goes back to generation 3')), x.suggestions.join('\n'));
    assert.ok(x.suggestions.some((s) => s.includes('updateConfig.monitor')));
  });

  it('gives the exit code and the controller\'s restart note for a crashed slot, and calls the service failed when nothing is ready', () => {
    const svc = withStatus(service({ replicas: 1 }), { phase: 'deploying', desiredInstances: 1, message: '0/1 running; web-1 exited with code 3; restarting in 4s (back-off 4000 ms)' });
    const crashed = instance({ slot: 1, id: 'web-1-c', state: 'failed', exitCode: 3, restarts: 2, startedAt: T0, finishedAt: T0 + 500 });
    const x = explainService(svc, [crashed], { now: NOW, events: [event({ type: 'instance.exited', severity: 'warning', instance: 'web-1-c', slot: 1, message: 'web-1 exited with code 3' })] });
    assert.equal(x.verdict, 'failed');
    assert.equal(x.reasons[0]?.kind, 'crashed');
    assert.equal(x.reasons[0]?.message, 'web-1 exited with code 3; restarting in 4s (back-off 4000 ms) (restarted 2 times before)');
    assert.equal(x.reasons[0]?.evidence.exitCode, 3);
    assert.equal(x.reasons[0]?.evidence.event?.type, 'instance.exited', 'the instance\'s last warning is attached');
    assert.match(x.summary, /^no instance of web is ready \(0\/1\): web-1 exited with code 3/);
    assert.ok(x.suggestions.includes('`berth service logs web -i 1` shows what it wrote before it exited'));
  });

  it('reports a crash loop while the newest instance happens to be up, with the last run\'s exit code', () => {
    const svc = withStatus(service({ replicas: 2 }), { phase: 'running', desiredInstances: 2, runningInstances: 2 });
    const before = instance({ slot: 1, state: 'failed', exitCode: 137, createdAt: T0, startedAt: T0, finishedAt: T0 + 100, desiredState: 'shutdown' });
    const now = instance({ slot: 1, restarts: 3, createdAt: T0 + 200, startedAt: T0 + 300 });
    const x = explainService(svc, [before, now, instance({ slot: 2 })], { now: NOW });
    assert.equal(x.verdict, 'degraded');
    assert.equal(x.reasons[0]?.kind, 'crashed');
    assert.match(x.reasons[0]?.message ?? '', /^web-1 is crash-looping: restarted 3 times; the last run exited with code 137$/);
    assert.equal(x.reasons[0]?.evidence.exitCode, 137);
  });

  it('forgets a restart once the instance has run for ten minutes', () => {
    const svc = withStatus(service({ replicas: 1 }), { phase: 'running', desiredInstances: 1, runningInstances: 1 });
    const before = instance({ slot: 1, state: 'failed', exitCode: 1, createdAt: T0, desiredState: 'shutdown' });
    const now = instance({ slot: 1, restarts: 1, createdAt: T0 + 200, startedAt: T0 + 300 });
    assert.equal(explainService(svc, [before, now], { now: T0 + 11 * 60_000 }).verdict, 'healthy');
    assert.equal(explainService(svc, [before, now], { now: T0 + 60_000 }).verdict, 'healthy', 'one recent restart is only a warning');
    assert.match(explainService(svc, [before, now], { now: T0 + 60_000 }).summary, /; but web-1 is crash-looping: restarted 1 time/);
  });

  it('gives a crash loop of a slot one reason (its newest failure), however many runs failed', () => {
    const svc = withStatus(service({ replicas: 1 }), {
      phase: 'deploying', desiredInstances: 1,
      update: update({ state: 'paused', generation: 1, fromGeneration: undefined, failedInstances: ['a', 'b', 'c'] }),
    });
    const runs = ['a', 'b', 'c'].map((id, k) => instance({ id, slot: 1, restarts: k, state: 'failed', exitCode: 3, createdAt: T0 + k * 1000, desiredState: k === 2 ? 'running' : 'shutdown' }));
    const x = explainService(svc, runs, { now: NOW });
    assert.deepEqual(x.reasons.filter((r) => r.kind === 'crashed').map((r) => r.instance), ['c']);
    assert.equal(x.reasons[0]?.message, 'web-1 (new) exited with code 3 (restarted 2 times before)');
    assert.ok(!x.suggestions.some((s) => s.includes('rollback')), 'a first deploy has nothing to roll back to');
  });

  it('says an instance could not start, with the agent\'s message', () => {
    const svc = withStatus(service({ replicas: 1 }), { phase: 'deploying', desiredInstances: 1 });
    const rejected: Instance = { ...instance({ slot: 1, state: 'rejected' }), status: { state: 'rejected', timestamp: iso(T0), message: 'spawn nodez ENOENT' } };
    const x = explainService(svc, [rejected], { now: NOW });
    assert.equal(x.verdict, 'failed');
    assert.equal(x.reasons[0]?.message, 'web-1 could not start: spawn nodez ENOENT');
    assert.ok(x.suggestions.some((s) => s.includes('working directory')));
  });

  it('does not count an instance on a down node as ready, whatever its last status said', () => {
    const svc = withStatus(service({ replicas: 3 }), { phase: 'running', desiredInstances: 3, runningInstances: 2, message: '2/3 running; web-2 waits for node b (down)' });
    const instances = [instance({ slot: 1, node: 'a' }), instance({ slot: 2, node: 'b' }), instance({ slot: 3, node: 'a' })];
    const x = explainService(svc, instances, { now: NOW, downNodes: new Set(['b']) });
    assert.equal(x.summary, '2/3 instances of web ready, running generation 1; but web-2 waits for node b (down)');
    assert.deepEqual(x.instances.map((i) => [i.slot, i.state, i.ready]), [[1, 'running', true], [2, 'running', false], [3, 'running', true]]);
    // Without the node's state, the last status counts (a single machine's server knows no other nodes).
    assert.match(explainService(svc, instances, { now: NOW }).summary, /^3\/3 instances of web ready/);
  });

  it("leaves out a node's down event once the node sent heartbeats again (a later node.ready), and keeps it while it has not", () => {
    const svc = withStatus(service({ replicas: 2 }), { phase: 'running', desiredInstances: 2, runningInstances: 2, message: '2/2 running' });
    const instances = [instance({ slot: 1, node: 'a' }), instance({ slot: 2, node: 'a' })];
    const down = (node: string, at: number): ServiceEvent => event({ id: at, time: iso(T0 + at), type: 'node.down', severity: 'warning', message: `node ${node} is down (no heartbeat for 10.0s)`, data: { node, instances: 1 } });
    const ready = (node: string, at: number): ServiceEvent => event({ id: at, time: iso(T0 + at), type: 'node.ready', severity: 'info', message: `node ${node} sends heartbeats again`, data: { node } });
    const back = explainService(svc, instances, { now: NOW, events: [down('b', 1000), ready('b', 2000)] });
    assert.equal(back.verdict, 'healthy');
    assert.deepEqual(back.reasons, []);
    const still = explainService(svc, instances, { now: NOW, events: [down('b', 1000), ready('b', 2000), down('c', 3000)] });
    assert.deepEqual(still.reasons.map((r) => r.message), ['node c is down (no heartbeat for 10.0s)']);
    const again = explainService(svc, instances, { now: NOW, events: [ready('b', 1000), down('b', 2000)] });
    assert.deepEqual(again.reasons.map((r) => r.message), ['node b is down (no heartbeat for 10.0s)']);
  });

  it('says a removal waits for an instance on a down node, and how to end the wait', () => {
    const svc = { ...service({ replicas: 2 }), desired: 'removing' as const };
    const gone = instance({ slot: 1, node: 'a', state: 'shutdown', desiredState: 'shutdown' });
    const held = instance({ slot: 2, node: 'b', desiredState: 'shutdown' });
    const x = explainService(svc, [gone, held], { now: NOW, downNodes: new Set(['b']) });
    assert.equal(x.verdict, 'removing');
    assert.equal(x.summary, 'web is being removed: 1 instance(s) still stopping, 1 of them on a node that is down (b)');
    assert.deepEqual(x.reasons.map((r) => [r.kind, r.message]), [['intent', 'removal requested'], ['unschedulable', "web-2 is on node b, which is down: it stops when that node's agent returns"]]);
    assert.deepEqual(x.suggestions, ["start node b's agent again (it stops the instance), or `berth node rm --force b` if it will not come back (its instances then count as ended)"]);
    assert.equal(explainService(svc, [gone, held], { now: NOW }).summary, 'web is being removed: 1 instance(s) still stopping');
  });

  it('calls a service degraded when one of three fails its readiness probe', () => {
    const svc = withStatus(service({ replicas: 3 }), { phase: 'running', desiredInstances: 3, runningInstances: 3 });
    const sick: Instance = { ...instance({ slot: 2 }), status: { ...instance().status, health: failingReadiness } };
    const x = explainService(svc, [instance({ slot: 1 }), sick, instance({ slot: 3 })], { now: NOW });
    assert.equal(x.verdict, 'degraded');
    assert.equal(x.summary, '2/3 instances of web ready: web-2 failed its readiness probe GET http://127.10.0.7:8080/health 3 times: HTTP 503: warming up');
    assert.deepEqual(x.instances.map((i) => i.health), ['', 'unhealthy', '']);
  });

  it('says an automatic rollback restored the old version, naming the failed instance of the update from the controller\'s events', () => {
    const svc = withStatus(
      service({ replicas: 2, generation: 5 }),
      { phase: 'running', desiredInstances: 2, runningInstances: 2, update: update({ state: 'rollback_completed', generation: 5, fromGeneration: 3, message: 'rollback to generation 3 completed: 2/2 instance(s) ready' }) },
      { cause: 'auto-rollback', rollbackTo: 3 },
    );
    const events = [
      event({ id: 7, type: 'service.update_failed_instance', severity: 'warning', instance: 'web-2-bad', slot: 2, data: { generation: 4 }, message: 'web-2 (generation 4) failed: exited with code 1' }),
      event({ id: 8, type: 'service.rollback_started', severity: 'warning', data: { generation: 4, rollbackTo: 3 }, message: 'update to generation 4 failed, rolling back to generation 3: web-2 (new, generation 4) failed: exited with code 1' }),
      event({ id: 9, type: 'service.rollback_started', severity: 'info', data: { generation: 5 }, message: 'rolling back to generation 3 (deployed as generation 5)' }),
    ];
    const bad = instance({ slot: 2, id: 'web-2-bad', generation: 4, state: 'failed', exitCode: 1, desiredState: 'shutdown', createdAt: T0 });
    const x = explainService(svc, [instance({ slot: 1, generation: 5 }), bad, instance({ slot: 2, generation: 5, createdAt: T0 + 10 })], { now: NOW, events });
    assert.equal(x.verdict, 'rolled_back');
    assert.equal(x.summary, 'update to generation 4 failed and was rolled back to generation 3 (deployed as 5): web-2 (generation 4) exited with code 1');
    assert.equal(x.reasons[0]?.instance, 'web-2-bad');
    assert.equal(x.reasons[1]?.message, 'update to generation 4 failed, rolling back to generation 3: web-2 (new, generation 4) failed: exited with code 1; rollback to generation 3 completed: 2/2 instance(s) ready');
    assert.ok(x.suggestions[0]?.startsWith('`berth service history web`'));
    const gone = explainService(svc, [instance({ slot: 1, generation: 5 }), instance({ slot: 2, generation: 5 })], { now: NOW, events });
    assert.match(gone.summary, /\(deployed as 5\): web-2 \(new, generation 4\) failed: exited with code 1$/, 'the event says why when the instance is gone');
  });

  it('does not call a user\'s completed rollback a failure', () => {
    const svc = withStatus(
      service({ replicas: 1, generation: 5 }),
      { phase: 'running', desiredInstances: 1, runningInstances: 1, update: update({ state: 'rollback_completed', generation: 5, fromGeneration: 4 }) },
      { cause: 'rollback', rollbackTo: 3 },
    );
    assert.equal(explainService(svc, [instance({ generation: 5 })]).verdict, 'healthy');
  });

  it('is converging while an update replaces instances, showing the draining old one and the starting new one', () => {
    const svc = withStatus(service({ replicas: 2, generation: 4 }), { phase: 'deploying', desiredInstances: 2, runningInstances: 1, update: update({ totalInstances: 2, updatedInstances: 1 }) });
    const draining: Instance = { ...instance({ slot: 2, id: 'web-2-old', generation: 3, desiredState: 'shutdown', desiredReason: 'update to generation 4' }), status: { ...instance().status, drain: { since: iso(T0), connections: 3 } } };
    const starting = instance({ slot: 1, generation: 4, state: 'starting' });
    const x = explainService(svc, [starting, draining], { now: NOW });
    assert.equal(x.verdict, 'converging');
    const messages = x.reasons.map((r) => r.message);
    assert.ok(messages.includes('web-1 (new) is starting'), messages.join('\n'));
    assert.ok(messages.includes('web-2 (old) is draining (update to generation 4): 3 open connection(s)'), messages.join('\n'));
    assert.ok(messages.includes('updating to generation 4 (1/2 updated)'), messages.join('\n'));
  });

  it(`names at most ${PROGRESS_REASONS_PER_KIND} instances on their way and counts the rest in one reason; a failure is never folded`, () => {
    const n = PROGRESS_REASONS_PER_KIND + 30;
    const svc = withStatus(service({ replicas: n + 1 }), { phase: 'deploying', desiredInstances: n + 1, runningInstances: 0 });
    const starting = Array.from({ length: n }, (_, k) => instance({ slot: k + 1, id: `web-${k + 1}-a`, state: 'starting' }));
    const rejected = { ...instance({ slot: n + 1, id: `web-${n + 1}-a` }), status: { ...instance().status, state: 'rejected' as const, message: 'no such file' } };
    const x = explainService(svc, [...starting, rejected], { now: NOW });
    assert.equal(x.verdict, 'failed');
    assert.equal(x.reasons[0]?.kind, 'rejected', 'the failure comes first');
    const named = x.reasons.filter((r) => r.kind === 'starting' && r.instance !== undefined);
    assert.deepEqual(named.map((r) => r.slot), Array.from({ length: PROGRESS_REASONS_PER_KIND }, (_, k) => k + 1), 'the lowest slots, in order');
    const folded = x.reasons.filter((r) => r.kind === 'starting' && r.instance === undefined);
    assert.deepEqual(folded.map((r) => r.message), ['and 30 more instance(s) starting or stopping']);
    assert.equal(x.instances.length, n + 1, 'the overview still has every slot');
  });

  it('adds errors from the events that no instance explains, ignoring those before the deployment', () => {
    const svc = withStatus(service({ replicas: 1 }), { phase: 'running', desiredInstances: 1, runningInstances: 1 });
    const events = [
      event({ id: 1, time: iso(T0 - 5000), severity: 'error', message: 'old trouble' }),
      event({ id: 2, severity: 'error', message: 'node port 30080 is taken by another process (EADDRINUSE)' }),
      event({ id: 3, type: 'instance.exited', severity: 'warning', message: 'covered by the instance' }),
    ];
    const x = explainService(svc, [instance()], { now: NOW, events });
    assert.equal(x.verdict, 'degraded');
    assert.deepEqual(x.reasons.map((r) => r.message), ['node port 30080 is taken by another process (EADDRINUSE)']);
    assert.equal(x.reasons[0]?.evidence.event?.id, 2);
  });
});

describe('explainService: listeners that cannot be opened', () => {
  const problem: ListenerProblem = { listener: 'TCP 127.0.0.1:30000', kind: 'nodePort', servicePort: '80/TCP', error: 'EADDRINUSE', message: 'listen EADDRINUSE: address already in use 127.0.0.1:30000', since: iso(T0 + 5000) };
  const withListener = (s: Service, listeners: ListenerProblem[] = [problem]): Service =>
    withStatus(s, { conditions: [{ type: 'ListenersOpen', status: 'False', reason: listeners[0]?.error ?? '', message: '', lastTransitionTime: iso(T0 + 5000), listeners }] });

  it('calls a serving service degraded and names the listener with its errno, and what frees it', () => {
    const svc = withListener(withStatus(service({ replicas: 1 }), { phase: 'running', desiredInstances: 1, runningInstances: 1 }));
    const x = explainService(svc, [instance({ slot: 1 })], { now: NOW });
    assert.equal(x.verdict, 'degraded');
    assert.equal(x.reasons[0]?.kind, 'listener');
    assert.equal(x.reasons[0]?.message, `TCP 127.0.0.1:30000 (node port of 80/TCP) cannot be opened: EADDRINUSE (listen EADDRINUSE: address already in use 127.0.0.1:30000), since ${iso(T0 + 5000)}; retried with back-off`);
    assert.deepEqual(x.reasons[0]?.evidence.listener, problem);
    assert.match(x.summary, /^1\/1 instances of web ready: TCP 127\.0\.0\.1:30000 .*EADDRINUSE/);
    assert.ok(x.suggestions.some((s) => s.includes("ss -tlnp 'sport = :30000'")), x.suggestions.join('\n'));
  });

  it('says an external IP that is not on this host is EADDRNOTAVAIL, even for a service that was never deployed', () => {
    const notHere: ListenerProblem = { ...problem, listener: 'TCP 192.0.2.1:80', kind: 'externalIP', error: 'EADDRNOTAVAIL', message: 'listen EADDRNOTAVAIL: cannot assign requested address 192.0.2.1:80' };
    const x = explainService(withListener(service({ deployed: false }), [notHere]), [], { now: NOW });
    assert.equal(x.verdict, 'not_deployed');
    assert.match(x.summary, /; and TCP 192\.0\.2\.1:80 \(external IP of 80\/TCP\) cannot be opened: EADDRNOTAVAIL/);
    assert.ok(x.reasons.some((r) => r.kind === 'listener'));
    assert.ok(x.suggestions.some((s) => s.startsWith('192.0.2.1 is not an address of this host')));
  });

  it('leaves the listener events to the listener reason (no second reason from the event)', () => {
    const svc = withListener(withStatus(service({ replicas: 1 }), { phase: 'running', desiredInstances: 1, runningInstances: 1 }));
    const events = [event({ type: 'service.listener_failed', severity: 'warning', message: 'TCP 127.0.0.1:30000 … cannot be opened' })];
    const x = explainService(svc, [instance({ slot: 1 })], { now: NOW, events });
    assert.deepEqual(x.reasons.map((r) => r.kind), ['listener']);
  });
});
