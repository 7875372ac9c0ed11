import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Instance, ProbeStatus, Service } from '../model/index.js';
import { INSTANCE_REMOVED_REASON } from '../model/index.js';
import type { ServicePlan } from './plan-service.js';
import { planService } from './plan-service.js';
import { batchLimit } from './rollout.js';
import { instance, iso, node, service, T0 } from '../../test/fixtures.js';

const NOW = T0 + 60_000;
const ctx = (now = NOW) => ({ now, nodes: [node()] });

/** An instance of the previous template (generation 1, another command). */
function old(slot: number, o: Partial<Parameters<typeof instance>[0]> = {}): Instance {
  const i = instance({ slot, generation: 1, ...o });
  return { ...i, spec: { ...i.spec, containers: i.spec.containers.map((c) => ({ ...c, command: ['node', 'old.js'] })) } };
}

/** A new-generation instance, ready since `readyAt` (epoch ms), or with a failing readiness probe. */
function fresh(slot: number, o: { readyAt?: number; failing?: string; state?: Instance['status']['state']; exitCode?: number } = {}): Instance {
  const i = instance({ slot, generation: 2, createdAt: NOW - 30_000, state: o.state ?? 'running', ...(o.exitCode !== undefined ? { exitCode: o.exitCode, finishedAt: NOW - 1000 } : {}) });
  if (o.state && o.state !== 'running') return { ...i, status: { ...i.status, timestamp: iso(NOW - 1000), message: `exited with code ${o.exitCode ?? 0}` } };
  const probe: ProbeStatus = {
    kind: 'readiness', container: 'web', target: `GET http://${i.spec.address}:8080/health`,
    result: o.failing ? 'failure' : o.readyAt !== undefined ? 'success' : 'unknown',
    consecutiveSuccesses: o.readyAt !== undefined ? 1 : 0, consecutiveFailures: o.failing ? 3 : 0, lastOutput: o.failing ?? '',
  };
  const ready = o.readyAt !== undefined && !o.failing;
  return {
    ...i,
    status: {
      ...i.status, timestamp: iso(NOW - 1000), startedAt: iso(NOW - 20_000),
      health: { started: true, ready, live: true, ...(ready ? { readySince: iso(o.readyAt as number) } : {}), probes: [probe] },
    },
  };
}

/** The service as the next pass sees it: with the update status the last plan wrote. */
function after(svc: Service, plan: ServicePlan): Service {
  return { ...svc, status: { ...svc.status, ...plan.status } };
}

const v2 = (updateConfig: Record<string, unknown>, replicas = 10) => {
  const s = service({ replicas, generation: 2, updateConfig: updateConfig as never });
  // The previous rollout (generation 1) completed: what a rollback goes back to.
  return { ...s, status: { ...s.status, observedGeneration: 1 } };
};

describe('planRollout (through planService)', () => {
  it('replaces parallelism slots at a time and waits for monitor before the next batch', () => {
    const svc = v2({ parallelism: 2, monitor: '2s' });
    const first = planService(svc, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((s) => old(s)), ctx());
    assert.equal(first.shutdown.length, 2);
    assert.equal(first.status.update?.state, 'updating');
    assert.ok(first.events.some((e) => e.type === 'service.update_started'));

    // Slots 1 and 2 run generation 2, ready for 1 s of the 2 s monitor: no new batch, wake up in 1 s.
    const rest = [3, 4, 5, 6, 7, 8, 9, 10].map((s) => old(s));
    const monitoring = planService(after(svc, first), [fresh(1, { readyAt: NOW - 1000 }), fresh(2, { readyAt: NOW - 1000 }), ...rest], ctx());
    assert.equal(monitoring.shutdown.length, 0);
    assert.equal(monitoring.requeueAfterMs, 1000);
    assert.equal(monitoring.requeueForMonitor, true, 'only a monitor window waits: the controller may pace it');
    assert.match(monitoring.status.update?.message ?? '', /0\/10 updated, 2 monitoring/);

    const next = planService(after(svc, monitoring), [fresh(1, { readyAt: NOW - 2000 }), fresh(2, { readyAt: NOW - 2000 }), ...rest], ctx());
    assert.equal(next.shutdown.length, 2);
    assert.equal(next.status.update?.updatedInstances, 2);
  });

  it('counts a started but not yet ready instance as in flight', () => {
    const svc = v2({ parallelism: 1, monitor: '0s' });
    const plan = planService(svc, [fresh(1), old(2), old(3)], ctx());
    assert.equal(plan.shutdown.length, 0);
  });

  it('completes when every slot is updated and nothing outdated is left', () => {
    const svc = v2({ parallelism: 2, monitor: '1s' }, 2);
    const plan = planService(svc, [fresh(1, { readyAt: NOW - 5000 }), fresh(2, { readyAt: NOW - 5000 })], ctx());
    assert.equal(plan.status.update?.state, 'completed');
    assert.ok(plan.status.update?.completedAt);
    assert.ok(plan.events.some((e) => e.type === 'service.update_completed'));
  });

  it('pauses on a new instance failing its readiness probe and says which probe and what it answered', () => {
    const svc = v2({ parallelism: 2, failureAction: 'pause' });
    const plan = planService(svc, [fresh(1, { failing: 'HTTP 503: warming up' }), fresh(2), ...[3, 4].map((s) => old(s))], ctx());
    assert.equal(plan.status.update?.state, 'paused');
    assert.match(plan.status.update?.message ?? '', /web-1 .*readiness probe GET http:\/\/[\d.]+:8080\/health failed 3 time\(s\): HTTP 503: warming up/);
    assert.deepEqual(plan.status.update?.failedInstances.length, 1);
    assert.ok(plan.events.some((e) => e.type === 'service.update_paused'));
    assert.ok(plan.events.some((e) => e.type === 'service.update_failed_instance'));
    // Paused: nothing more is replaced, even once the failing one is gone.
    const later = planService(after(svc, plan), [fresh(1, { readyAt: NOW - 9000 }), fresh(2, { readyAt: NOW - 9000 }), old(3), old(4)], ctx());
    assert.equal(later.shutdown.length, 0);
    assert.equal(later.status.update?.state, 'paused');
    assert.match(later.status.message, /paused/);
  });

  it("puts the failing probe's output on one line in the update status and its events (an HTTP body's line breaks: Swarm's update messages are one line)", () => {
    const svc = v2({ parallelism: 2, failureAction: 'pause' });
    const plan = planService(svc, [fresh(1, { failing: 'HTTP 404: <html>\r\n<head><title>404 Not Found</title></head>\r\n</html>' }), fresh(2), ...[3, 4].map((s) => old(s))], ctx());
    assert.equal(plan.status.update?.state, 'paused');
    assert.match(plan.status.update?.message ?? '', /failed 3 time\(s\): HTTP 404: <html> <head><title>404 Not Found<\/title><\/head> <\/html>$/);
    for (const e of plan.events) assert.doesNotMatch(e.message, /[\r\n]/, e.type);
  });

  it('counts a new instance that exited as a failure; failureAction rollback asks for the previous generation', () => {
    const svc = v2({ parallelism: 1, failureAction: 'rollback' });
    const plan = planService(svc, [fresh(1, { state: 'failed', exitCode: 3 }), old(2), old(3)], ctx());
    assert.equal(plan.status.update?.state, 'rollback_started');
    assert.deepEqual(plan.rollback, { toGeneration: 1, ifRequestedAt: svc.deployment?.requestedAt });
    assert.match(plan.status.update?.message ?? '', /exited with code 3/);
  });

  it('tolerates failures up to maxFailureRatio, and continue keeps going', () => {
    const tolerant = planService(v2({ parallelism: 2, maxFailureRatio: 0.2 }), [fresh(1, { failing: 'connect ECONNREFUSED' }), old(2), old(3), old(4), old(5), old(6)], ctx());
    assert.equal(tolerant.status.update?.state, 'updating');
    const cont = planService(v2({ parallelism: 2, failureAction: 'continue' }, 3), [fresh(1, { state: 'failed', exitCode: 1 }), old(2), old(3)], ctx());
    assert.equal(cont.status.update?.state, 'updating');
    assert.equal(cont.shutdown.length, 2, 'a failed slot does not hold the batch');
  });

  it('rolls back with rollbackConfig and ends in rollback_completed', () => {
    const s = service({ replicas: 2, generation: 3, rollbackConfig: { parallelism: 0, monitor: '0s' } });
    const svc: Service = { ...s, deployment: { ...(s.deployment as NonNullable<Service['deployment']>), cause: 'auto-rollback', rollbackTo: 1 } };
    const start = planService(svc, [old(1), old(2)], ctx());
    assert.equal(start.status.update?.state, 'rollback_started');
    assert.equal(start.shutdown.length, 2, 'rollbackConfig.parallelism 0 = all at once');
    const done = planService(after(svc, start), [fresh(1, { readyAt: NOW - 10 }), fresh(2, { readyAt: NOW - 10 })].map((i) => ({ ...i, generation: 3 })), ctx());
    assert.equal(done.status.update?.state, 'rollback_completed');
  });

  it('start-first stops the old instance only once the new one is ready, not merely running', () => {
    const svc = v2({ order: 'start-first', parallelism: 1 }, 1);
    const starting = planService(svc, [fresh(1), old(1)], ctx());
    assert.equal(starting.shutdown.length, 0);
    const oldOne = old(1);
    const ready = planService(svc, [fresh(1, { readyAt: NOW - 10 }), oldOne], ctx());
    assert.deepEqual(ready.shutdown.map((s) => s.id), [oldOne.id]);
  });

  it('minHealth keeps that fraction ready: at most max(1, floor(n × (1 − minHealth))) at once', () => {
    assert.equal(batchLimit({ parallelism: 0, delay: '0s', failureAction: 'pause', monitor: '0s', maxFailureRatio: 0, order: 'stop-first', minHealth: 0.8 }, false, 10), 2);
    assert.equal(batchLimit({ parallelism: 0, delay: '0s', failureAction: 'pause', monitor: '0s', maxFailureRatio: 0, order: 'stop-first', minHealth: 0.8 }, false, 1), 1);
    assert.equal(batchLimit({ parallelism: 1, delay: '0s', failureAction: 'pause', monitor: '0s', maxFailureRatio: 0, order: 'stop-first', minHealth: 0 }, false, 10), 1);
    const plan = planService(v2({ parallelism: 0, minHealth: 0.7 }), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((s) => old(s)), ctx());
    assert.equal(plan.shutdown.length, 3);
  });

  it('replaces an instance the user removed at once, while it drains', () => {
    const removed: Instance = { ...instance({ slot: 2 }), desiredState: 'shutdown', desiredReason: INSTANCE_REMOVED_REASON };
    const plan = planService(service({ replicas: 2 }), [instance({ slot: 1 }), removed], ctx());
    assert.deepEqual(plan.create.map((c) => c.slot), [2]);
    const stateful = planService(service({ replicas: 2, stateful: true }), [instance({ slot: 1 }), removed], ctx());
    assert.equal(stateful.create.length, 0, 'a stateful slot waits for its data directory');
  });

  it('counts only ready instances as running', () => {
    const plan = planService(service({ replicas: 2, generation: 2 }), [fresh(1, { readyAt: NOW - 10 }), fresh(2)], ctx());
    assert.equal(plan.status.runningInstances, 1);
    assert.equal(plan.status.phase, 'deploying');
  });
});

describe('planRollout: after a pause', () => {
  it('counts no more failures once the rollout is paused', () => {
    const svc = v2({ parallelism: 2, failureAction: 'pause' }, 3);
    const paused = planService(svc, [fresh(1, { failing: 'HTTP 503' }), old(2), old(3)], ctx());
    assert.equal(paused.status.update?.state, 'paused');
    const restarted = planService(after(svc, paused), [fresh(1, { state: 'failed', exitCode: 1 }), old(2), old(3)], ctx());
    assert.equal(restarted.status.update?.failedInstances.length, 1);
    assert.ok(!restarted.events.some((e) => e.type === 'service.update_failed_instance'));
  });
});

describe('planRollout: failureAction continue', () => {
  it('finishes a rollout whose new instances all crash, with the failures counted, instead of hanging in updating', () => {
    const svc = v2({ parallelism: 1, failureAction: 'continue', monitor: '1s' }, 3);
    const f1 = fresh(1, { state: 'failed', exitCode: 3 });
    const first = planService(svc, [f1, old(2), old(3)], ctx());
    assert.equal(first.status.update?.state, 'updating');
    assert.equal(first.shutdown.length, 1, 'slot 1 failed: the rollout moves on to slot 2');

    // Slot 1's restart is starting (the restart policy's): it does not hold the batch.
    const r1 = fresh(1);
    const f2 = fresh(2, { state: 'failed', exitCode: 3 });
    const second = planService(after(svc, first), [r1, f1, f2, old(3)], ctx());
    assert.equal(second.status.update?.state, 'updating');
    assert.equal(second.shutdown.length, 1, 'slot 3 is replaced although slot 1 is starting again');
    assert.match(second.status.update?.message ?? '', /0\/3 updated, 2 failed/);

    const f3 = fresh(3, { state: 'failed', exitCode: 3 });
    const done = planService(after(svc, second), [r1, f1, fresh(2), f2, f3], ctx());
    const update = done.status.update;
    assert.equal(update?.state, 'completed');
    assert.equal(update?.updatedInstances, 0);
    assert.equal(update?.totalInstances, 3);
    assert.equal(update?.failedInstances.length, 3);
    assert.equal(update?.message, 'update to generation 2 completed with failures: 0/3 instance(s) ready, 3 failed (failureAction continue): web-1 (generation 2) failed: exited with code 3');
    const event = done.events.find((e) => e.type === 'service.update_completed');
    assert.equal(event?.severity, 'warning');
    assert.equal(done.status.phase, 'deploying', 'the service itself is not running as asked');
    assert.match(done.status.message, /^0\/3 running; update to generation 2 completed with failures: 0\/3 instance\(s\) ready, 3 failed/, 'the service\'s status says so too');
  });

  it('counts a failed slot as updated once its restart has been ready for monitor', () => {
    const svc = v2({ parallelism: 2, failureAction: 'continue', monitor: '1s' }, 2);
    const f1 = fresh(1, { state: 'failed', exitCode: 1 });
    const first = planService(svc, [f1, fresh(2, { readyAt: NOW - 5000 })], ctx());
    assert.equal(first.status.update?.state, 'completed');
    assert.equal(first.status.update?.updatedInstances, 1);
    assert.match(first.status.update?.message ?? '', /completed with failures: 1\/2 instance\(s\) ready, 1 failed/);
    const healed = planService(after(svc, first), [fresh(1, { readyAt: NOW - 5000 }), f1, fresh(2, { readyAt: NOW - 5000 })], ctx());
    assert.equal(healed.status.update?.updatedInstances, 2, 'the update status follows the restart that became ready');
  });

  it('after it completed, an instance that moves (a drain) does not take the update\'s count down', () => {
    const svc = v2({ parallelism: 0, monitor: '1s' }, 2);
    const done = planService(svc, [fresh(1, { readyAt: NOW - 5000 }), fresh(2, { readyAt: NOW - 5000 })], ctx());
    assert.equal(done.status.update?.state, 'completed');
    assert.equal(done.status.update?.updatedInstances, 2);
    // Slot 2's instance moved to another node: its new instance runs, its readiness probe has not passed yet.
    const moved = planService(after(svc, done), [fresh(1, { readyAt: NOW - 5000 }), fresh(2)], ctx());
    assert.equal(moved.status.update?.state, 'completed');
    assert.equal(moved.status.update?.updatedInstances, 2, 'still 2/2: the move is not this rollout\'s');
  });

  it('start-first: a failed slot keeps its old instance serving and is not tried again by this rollout', () => {
    const svc = v2({ parallelism: 1, failureAction: 'continue', order: 'start-first', monitor: '0s' }, 2);
    const old1 = old(1);
    const f1 = fresh(1, { state: 'failed', exitCode: 1 });
    const plan = planService(svc, [f1, old1, old(2)], ctx());
    assert.ok(!plan.shutdown.some((s) => s.id === old1.id), 'the old instance of slot 1 keeps serving');
    assert.deepEqual(plan.create.map((c) => c.slot), [2], 'no second new instance in slot 1; slot 2 is next');
    const done = planService(after(svc, plan), [f1, old1, fresh(2, { readyAt: NOW - 10 })], ctx());
    assert.equal(done.status.update?.state, 'completed');
    assert.match(done.status.update?.message ?? '', /1\/2 instance\(s\) ready, 1 failed/);
  });

  it('completes with failures within maxFailureRatio under pause, and says so', () => {
    const svc = v2({ parallelism: 0, maxFailureRatio: 0.5, monitor: '0s' }, 4);
    const plan = planService(svc, [fresh(1, { state: 'failed', exitCode: 2 }), ...[2, 3, 4].map((s) => fresh(s, { readyAt: NOW - 10 }))], ctx());
    assert.equal(plan.status.update?.state, 'completed');
    assert.match(plan.status.update?.message ?? '', /completed with failures: 3\/4 instance\(s\) ready, 1 failed \(within maxFailureRatio 0\.5\)/);
  });
});
