import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Service } from '../model/index.js';
import { planService } from './plan-service.js';
import { explainService } from './explain-service.js';
import { instance, node, service, T0 } from '../../test/fixtures.js';

/*
 * A deployed spec the server cannot run — a row stored before a limit existed or was lowered (the
 * 99,999,999-replica service that took the server down on every restart), or one edited by hand — is
 * marked failed with the reason, and the plan is built without anything proportional to its size.
 */

const ctx = { now: T0 + 60_000, nodes: [node()] };

/** The fixture service with its deployed replicas overwritten, as a direct edit of the database would. */
function stored(replicas: unknown, base: Service = service({ replicas: 3 })): Service {
  const deployment = base.deployment as NonNullable<Service['deployment']>;
  return { ...base, spec: { ...base.spec, replicas: replicas as number }, deployment: { ...deployment, spec: { ...deployment.spec, replicas: replicas as number } } };
}

describe('planService: a deployed spec past the limits', () => {
  it('marks a service with 99,999,999 replicas failed, creates and stops nothing, and stays small and fast', () => {
    const running = [instance({ slot: 1 }), instance({ slot: 2 })];
    const heapBefore = process.memoryUsage().heapUsed;
    const started = performance.now();
    const plan = planService(stored(99_999_999), running, ctx);
    const tookMs = performance.now() - started;
    assert.equal(plan.status.phase, 'failed');
    assert.match(plan.status.message, /cannot run generation 1: spec\.replicas: Invalid value: 99999999: must be an integer from 0 to 1000/);
    assert.match(plan.status.message, /berth service scale web N/);
    assert.deepEqual([plan.create.length, plan.shutdown.length, plan.retire.length], [0, 0, 0], 'the instances that run are left alone');
    assert.equal(plan.status.runningInstances, 2);
    // Not a speed goal (those live in bench/): a planner that walked 99,999,999 slots runs for minutes
    // or out of memory, so a bound this loose still tells the two apart on a loaded machine.
    assert.ok(tookMs < 5000, `planned in ${tookMs.toFixed(1)} ms`);
    assert.ok(process.memoryUsage().heapUsed - heapBefore < 50 * 1024 * 1024, 'no allocation by the replica count');
    const event = plan.events.find((e) => e.type === 'service.unrunnable');
    assert.equal(event?.severity, 'error');
  });

  it('records the unrunnable event once, not on every reconcile', () => {
    const first = planService(stored(5000), [], ctx);
    const again = planService({ ...stored(5000), status: { ...stored(5000).status, ...first.status, updatedAt: '' } }, [], ctx);
    assert.equal(again.status.phase, 'failed');
    assert.equal(again.events.filter((e) => e.type === 'service.unrunnable').length, 0);
  });

  it('follows the server\'s limit: 5000 replicas run under --max-replicas 10000', () => {
    const plan = planService(stored(5000), [], { ...ctx, limits: { maxReplicas: 10_000 } });
    assert.equal(plan.status.phase, 'deploying');
    assert.equal(plan.create.length, 5000);
  });

  it('treats a hand-edited replica count that is not a number, and a spec without its lists, as unrunnable', () => {
    assert.equal(planService(stored('99999999'), [], ctx).status.phase, 'failed');
    const base = service();
    const broken = { ...base, deployment: { ...(base.deployment as NonNullable<Service['deployment']>), spec: { name: 'web', replicas: 1 } as unknown as Service['spec'] } };
    const plan = planService(broken, [], ctx);
    assert.equal(plan.status.phase, 'failed');
    assert.match(plan.status.message, /malformed/);
  });

  it('still stops and removes such a service when asked', () => {
    const removing = { ...stored(99_999_999, service({ replicas: 3, desired: 'removing' })) };
    const plan = planService(removing, [instance({ slot: 1 })], ctx);
    assert.equal(plan.status.phase, 'removing');
    assert.equal(plan.shutdown.length, 1);
  });

  it('is explained by why: verdict failed, the reason and what to do', () => {
    const plan = planService(stored(99_999_999), [], ctx);
    const failed = { ...stored(99_999_999), status: { ...plan.status, updatedAt: '' } };
    const why = explainService(failed, []);
    assert.equal(why.verdict, 'failed');
    assert.equal(why.reasons[0]?.kind, 'unrunnable');
    assert.match(why.summary, /web cannot run: cannot run generation 1: spec\.replicas/);
    assert.ok(why.suggestions.some((s) => s.includes('berth service scale web')));
  });
});
