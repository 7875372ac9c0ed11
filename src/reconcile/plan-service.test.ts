import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { planService } from './plan-service.js';
import { explainService } from './explain-service.js';
import { runsDeployment } from '../model/index.js';
import { instance, node, service, T0 } from '../../test/fixtures.js';

const ctx = { now: T0 + 60_000, nodes: [node()] };
/** An instance running an older template (different command) than the fixtures' service. */
const outdated = (o: Parameters<typeof instance>[0] = {}) => {
  const i = instance({ generation: 1, ...o });
  return { ...i, spec: { ...i.spec, containers: i.spec.containers.map((c) => ({ ...c, command: ['node', 'old.js'] })) } };
};

describe('planService', () => {
  it('plans nothing for a service that was created but never deployed', () => {
    const plan = planService(service({ deployed: false, replicas: 3 }), [], ctx);
    assert.equal(plan.create.length, 0);
    assert.equal(plan.status.phase, 'initialized');
  });

  it('counts a service without containers as running from its creation: it serves its network face, nothing to deploy', () => {
    const plan = planService(service({ deployed: false, containers: [], endpoints: ['10.0.0.1:5432'] }), [], ctx);
    assert.equal(plan.status.phase, 'running');
    assert.equal(plan.status.message, 'no containers: serves 1 endpoint set by hand');
    const explained = explainService(service({ deployed: false, containers: [], selector: { app: 'shop' } }), []);
    assert.equal(explained.verdict, 'healthy');
    assert.equal(explained.summary, "web has no containers: serves the instances of the grid's services labelled app=shop");
  });

  it('creates one instance per empty slot when scaling 0 → 3', () => {
    const plan = planService(service({ replicas: 3 }), [], ctx);
    assert.deepEqual(plan.create.map((c) => c.slot), [1, 2, 3]);
    assert.equal(plan.status.phase, 'deploying');
  });

  it('places no more new slots than maxNewSlots and leaves the rest for a later pass; a replacement is never held back', () => {
    const crashed = instance({ slot: 1, state: 'failed', exitCode: 1 });
    const plan = planService(service({ replicas: 10, restartPolicy: { condition: 'any', delay: '0s' } }), [crashed], { ...ctx, maxNewSlots: 3 });
    assert.deepEqual(plan.create.map((c) => c.slot), [1, 2, 3, 4], 'slot 1 restarts, and three new slots');
    assert.equal(plan.deferred, 6);
    assert.equal(plan.status.phase, 'deploying');
    assert.equal(planService(service({ replicas: 10 }), [], ctx).deferred, undefined, 'no limit: nothing deferred');
  });

  it('reports running once every slot runs the deployed generation', () => {
    const plan = planService(service({ replicas: 2 }), [instance({ slot: 1 }), instance({ slot: 2 })], ctx);
    assert.equal(plan.create.length, 0);
    assert.equal(plan.shutdown.length, 0);
    assert.equal(plan.status.phase, 'running');
    assert.equal(plan.status.runningInstances, 2);
    assert.ok(plan.events.some((e) => e.type === 'service.converged'), JSON.stringify(plan.events));
  });

  it('stops the highest slots first when scaling 5 → 2', () => {
    const all = [1, 2, 3, 4, 5].map((slot) => instance({ slot }));
    const plan = planService(service({ replicas: 2 }), all, ctx);
    assert.deepEqual(plan.shutdown.map((s) => all.find((i) => i.id === s.id)?.slot).sort(), [3, 4, 5]);
  });

  it('restarts a crashed instance in the same slot after the restart delay', () => {
    const crashed = instance({ slot: 1, state: 'failed', exitCode: 137, startedAt: T0, finishedAt: T0 + 10_000 });
    const early = planService(service({ replicas: 1, restartPolicy: { delay: '5s' } }), [crashed], { ...ctx, now: T0 + 12_000 });
    assert.equal(early.create.length, 0);
    assert.equal(early.requeueAfterMs, 3000);
    assert.equal(early.requeueForMonitor, undefined, 'a restart back-off waits: never paced');
    const due = planService(service({ replicas: 1, restartPolicy: { delay: '5s' } }), [crashed], { ...ctx, now: T0 + 15_000 });
    assert.deepEqual(due.create.map((c) => [c.slot, c.restarts]), [[1, 1]]);
    const restarting = due.events.find((e) => e.type === 'instance.restarting');
    assert.match(restarting?.message ?? '', /exited with code 137/);
  });

  it('doubles the back-off with each consecutive restart, capped at five minutes', () => {
    const crashed = (restarts: number) => instance({ slot: 1, restarts, state: 'failed', exitCode: 1, startedAt: T0, finishedAt: T0 + 1000 });
    const wait = (restarts: number) => planService(service({ restartPolicy: { delay: '10s' } }), [crashed(restarts)], { ...ctx, now: T0 + 1000 }).requeueAfterMs;
    assert.equal(wait(0), 10_000);
    assert.equal(wait(1), 20_000);
    assert.equal(wait(3), 80_000);
    assert.equal(wait(10), 300_000);
  });

  it('does not restart a clean exit under on-failure, nor anything under none', () => {
    const done = instance({ state: 'complete', exitCode: 0, finishedAt: T0 });
    assert.equal(planService(service({ restartPolicy: { condition: 'on-failure', delay: '0s' } }), [done], ctx).create.length, 0);
    const failed = instance({ state: 'failed', exitCode: 2, finishedAt: T0 });
    assert.equal(planService(service({ restartPolicy: { condition: 'none' } }), [failed], ctx).create.length, 0);
    assert.equal(planService(service({ restartPolicy: { condition: 'on-failure', delay: '0s' } }), [failed], ctx).create.length, 1);
  });

  it('gives up after maxAttempts restarts within the window', () => {
    const history = [
      instance({ slot: 1, restarts: 2, state: 'failed', exitCode: 1, finishedAt: T0 + 3000, createdAt: T0 + 2000 }),
      instance({ slot: 1, restarts: 1, state: 'failed', exitCode: 1, finishedAt: T0 + 2000, createdAt: T0 + 1000 }),
      instance({ slot: 1, restarts: 0, state: 'failed', exitCode: 1, finishedAt: T0 + 1000, createdAt: T0 }),
    ];
    const plan = planService(service({ restartPolicy: { delay: '0s', maxAttempts: 2, window: '10m' } }), history, ctx);
    assert.equal(plan.create.length, 0);
    assert.match(plan.status.message, /gave up after 2 restart/);
  });

  it('starts stateful slots in order: slot 2 only once slot 1 runs', () => {
    const svc = service({ replicas: 3, stateful: true });
    assert.deepEqual(planService(svc, [], ctx).create.map((c) => c.slot), [1]);
    assert.deepEqual(planService(svc, [instance({ slot: 1, state: 'starting' })], ctx).create.length, 0);
    assert.deepEqual(planService(svc, [instance({ slot: 1 })], ctx).create.map((c) => c.slot), [2]);
  });

  it('scales a stateful service down one slot at a time from the highest', () => {
    const all = [1, 2, 3].map((slot) => instance({ slot }));
    const plan = planService(service({ replicas: 1, stateful: true }), all, ctx);
    assert.deepEqual(plan.shutdown.map((s) => all.find((i) => i.id === s.id)?.slot), [3]);
  });

  it('runs one instance per ready node in global mode', () => {
    const plan = planService(service({ mode: 'global' }), [], { ...ctx, nodes: [node('a'), node('b')] });
    assert.deepEqual(plan.create.map((c) => c.node), ['a', 'b']);
  });

  it('replaces outdated instances parallelism slots at a time, stop-first', () => {
    const old = [1, 2, 3].map((slot) => outdated({ slot }));
    const plan = planService(service({ replicas: 3, generation: 2, updateConfig: { parallelism: 2 } }), old, ctx);
    assert.equal(plan.shutdown.length, 2);
    assert.equal(plan.create.length, 0);
  });

  it('does not replace instances when only replicas or the restart policy change', () => {
    const running = [1, 2].map((slot) => instance({ slot, generation: 1 }));
    const plan = planService(service({ replicas: 3, generation: 2, restartPolicy: { delay: '1s' } }), running, ctx);
    assert.equal(plan.shutdown.length, 0);
    assert.deepEqual(plan.create.map((c) => c.slot), [3]);
  });

  it('does not replace instances whose containers differ from the deployed ones only in the order of their fields', () => {
    // `docker service create` then `docker service scale`: the face's update writes the same container
    // with its fields in another order than the create did.
    const reordered = (o: Parameters<typeof instance>[0]) => {
      const i = instance({ generation: 1, ...o });
      return { ...i, spec: { ...i.spec, containers: i.spec.containers.map((c) => Object.fromEntries(Object.entries(c).reverse()) as typeof c) } };
    };
    const running = [1, 2].map((slot) => reordered({ slot }));
    assert.notEqual(JSON.stringify(running[0]?.spec.containers), JSON.stringify(service().spec.containers), 'the fixture reorders the fields');
    const svc = service({ replicas: 3, generation: 2 });
    const plan = planService(svc, running, ctx);
    assert.equal(plan.shutdown.length, 0);
    assert.deepEqual(plan.create.map((c) => c.slot), [3]);
    assert.ok(running.every((i) => runsDeployment(i, svc.deployment!)), 'the model agrees: they run the deployment');
  });

  it('replaces every instance after a restart (a new restart generation)', () => {
    const running = [1, 2].map((slot) => instance({ slot }));
    const plan = planService(service({ replicas: 2, restartGeneration: 1, updateConfig: { parallelism: 0 } }), running, ctx);
    assert.equal(plan.shutdown.length, 2);
  });

  it('creates the replacement once the outdated instance has stopped', () => {
    const stopped = outdated({ slot: 1, desiredState: 'shutdown', state: 'shutdown', finishedAt: T0 });
    const plan = planService(service({ replicas: 1, generation: 2 }), [stopped], ctx);
    assert.deepEqual(plan.create.map((c) => [c.slot, c.restarts]), [[1, 0]]);
  });

  it('starts the new instance first with order start-first and stops the old once it runs', () => {
    const svc = service({ replicas: 1, generation: 2, updateConfig: { order: 'start-first' } });
    const old = outdated({ slot: 1 });
    assert.equal(planService(svc, [old], ctx).create.length, 1);
    assert.equal(planService(svc, [old], ctx).shutdown.length, 0);
    const fresh = instance({ slot: 1, generation: 2, createdAt: T0 + 50_000 });
    assert.deepEqual(planService(svc, [fresh, old], ctx).shutdown.map((s) => s.id), [old.id]);
  });

  it('stops every instance of a stopped service and removes a removed one when all have ended', () => {
    const live = [instance({ slot: 1 }), instance({ slot: 2 })];
    assert.equal(planService(service({ desired: 'stopped' }), live, ctx).shutdown.length, 2);
    const ended = live.map((i) => ({ ...i, desiredState: 'shutdown' as const, status: { ...i.status, state: 'shutdown' as const } }));
    const plan = planService(service({ desired: 'removing' }), ended, ctx);
    assert.equal(plan.removeService, true);
    assert.equal(plan.remove.length, 2);
  });

  it('keeps at most five ended instances per slot', () => {
    const history = Array.from({ length: 8 }, (_, k) => instance({ slot: 1, state: 'failed', exitCode: 1, finishedAt: T0 + k, createdAt: T0 + k }));
    assert.equal(planService(service({ restartPolicy: { condition: 'none' } }), history, ctx).remove.length, 3);
  });

  it('never creates an instance in a slot that already has a live one, nor outside 1..replicas', () => {
    const states = ['new', 'starting', 'running', 'failed', 'shutdown'] as const;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 8 }),
        fc.array(fc.record({ slot: fc.integer({ min: 1, max: 10 }), state: fc.constantFrom(...states), gen: fc.integer({ min: 1, max: 2 }) }), { maxLength: 12 }),
        (replicas, raw) => {
          const list = raw.map((r) => (r.gen === 1 ? outdated : instance)({ slot: r.slot, state: r.state, generation: r.gen, finishedAt: T0, ...(r.state === 'failed' ? { exitCode: 1 } : {}) }));
          const plan = planService(service({ replicas, generation: 2 }), list, { ...ctx, now: T0 + 3_600_000 });
          const live = (slot: number) => list.some((i) => i.slot === slot && !['failed', 'shutdown'].includes(i.status.state));
          return (
            new Set(plan.create.map((c) => c.slot)).size === plan.create.length &&
            plan.create.every((c) => c.slot >= 1 && c.slot <= replicas && !live(c.slot))
          );
        },
      ),
    );
  });

  it('runs no instances for a service without containers', () => {
    const plan = planService(service({ containers: [], endpoints: ['127.0.0.5:9000'] }), [], ctx);
    assert.equal(plan.create.length, 0);
    assert.equal(plan.status.phase, 'running');
  });
});
