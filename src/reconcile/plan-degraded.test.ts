import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Instance, Service } from '../model/index.js';
import { planService } from './plan-service.js';
import { explainService } from './explain-service.js';
import { instance, node, service, T0 } from '../../test/fixtures.js';

/*
 * `degraded`: everything the controller can run runs the deployed generation, and the other slots wait
 * for their node (down) or for a node that fits — the service is not `deploying` (nothing is on its way).
 */

const NOW = T0 + 60_000;
const running = (svc: Service, slot: number, on: string, o: Parameters<typeof instance>[0] = {}): Instance => {
  const i = instance({ slot, node: on, ...o });
  return { ...i, id: `web-${slot}-${on}`, spec: { ...i.spec, containers: svc.deployment?.spec.containers ?? [] } };
};
/** The service as the next pass sees it, with the status the last plan wrote. */
const withStatus = (svc: Service, status: Partial<Service['status']>): Service => ({ ...svc, status: { ...svc.status, ...status } });

describe('degraded: slots that wait for their node', () => {
  const global = service({ mode: 'global', generation: 3 });
  const on = [running(global, 1, 'a', { generation: 3 }), running(global, 2, 'b', { generation: 3 }), running(global, 3, 'c', { generation: 3 })];

  it('a global service whose slot waits for a down node is degraded (2/3), not deploying, and says which slot waits', () => {
    const plan = planService(global, on, { now: NOW, nodes: [node('a'), node('b'), node('c', { ready: false })] });
    assert.deepEqual([plan.create, plan.shutdown], [[], []]);
    assert.equal(plan.status.phase, 'degraded');
    assert.deepEqual([plan.status.runningInstances, plan.status.desiredInstances], [2, 3]);
    assert.equal(plan.status.message, '2/3 running; web-3 waits for node c (down)');
    assert.equal(plan.status.observedGeneration, 3, 'it runs generation 3 wherever it can');

    // `why`: degraded, with the slot that waits as the reason.
    const svc = withStatus(global, plan.status);
    const x = explainService(svc, on, { now: NOW, downNodes: new Set(['c']) });
    assert.equal(x.verdict, 'degraded');
    assert.equal(x.summary, '2/3 instances of web ready: web-3 waits for node c (down)');
    assert.deepEqual(x.reasons.map((r) => [r.kind, r.slot, r.message]), [['unschedulable', 3, 'web-3 waits for node c (down)']]);
    assert.deepEqual(x.instances.filter((i) => !i.ready).map((i) => i.slot), [3]);

    // The node returns: running again, 3/3.
    const back = planService(svc, on, { now: NOW, nodes: [node('a'), node('b'), node('c')] });
    assert.equal(back.status.phase, 'running');
    assert.equal(back.status.message, '3/3 running');
  });

  it('a replicated slot that no other node can take and a stateful slot that waits for its node are degraded too', () => {
    const web = service({ replicas: 2, placement: { maxReplicasPerNode: 1 } });
    const alone = planService(web, [running(web, 1, 'a'), running(web, 2, 'b')], { now: NOW, nodes: [node('a'), node('b', { ready: false }), node('c', { availability: 'drain' })] });
    assert.deepEqual([alone.create, alone.shutdown], [[], []]);
    assert.equal(alone.status.phase, 'degraded');
    assert.match(alone.status.message, /^1\/2 running; web-2 stays on node b \(node b is down\): no other node can take it/);

    const db = service({ replicas: 2, stateful: true });
    const waits = planService(db, [running(db, 1, 'a'), running(db, 2, 'b')], { now: NOW, nodes: [node('a'), node('b', { ready: false })] });
    assert.equal(waits.status.phase, 'degraded');
    assert.equal(waits.status.message, '1/2 running; web-2 waits for node b (down), where its data is');
  });

  it('a rollout spends no batch on a slot whose node is down: it updates the others, names the slot, and finishes it when the node returns', () => {
    const v4 = service({ mode: 'global', generation: 4, updateConfig: { parallelism: 1, monitor: '0s' } });
    const svc: Service = { ...v4, status: { ...v4.status, observedGeneration: 3 } };
    const old = (slot: number, on: string): Instance => {
      const i = running(v4, slot, on, { generation: 3 });
      return { ...i, spec: { ...i.spec, containers: i.spec.containers.map((c) => ({ ...c, command: ['node', 'old.js'] })) } };
    };
    const [a, b, c] = [old(1, 'a'), old(2, 'b'), old(3, 'c')];
    const nodes = [node('a', { ready: false }), node('b'), node('c')];
    const first = planService(svc, [a, b, c], { now: NOW, nodes });
    assert.deepEqual(first.shutdown.map((x) => x.id), [b.id], 'not web-1: its node is down, a stop would never end and hold the batch');
    assert.equal(first.status.update?.message, 'updating to generation 4: 0/3 updated, 1 waiting for their node (down)');
    assert.match(first.status.message, /web-1 waits for node a \(down\)/);

    // b and c updated; the rollout waits for a's node, and goes on once it is back.
    const fresh = (slot: number, on: string): Instance => running(v4, slot, on, { generation: 4, createdAt: NOW - 1000, startedAt: NOW - 1000 });
    const rest = [a, fresh(2, 'b'), fresh(3, 'c')];
    const waits = planService(withStatus(svc, first.status), rest, { now: NOW, nodes });
    assert.deepEqual([waits.create, waits.shutdown], [[], []]);
    assert.equal(waits.status.update?.state, 'updating');
    assert.equal(waits.status.update?.message, 'updating to generation 4: 2/3 updated, 1 waiting for their node (down)');
    const back = planService(withStatus(svc, waits.status), rest, { now: NOW, nodes: [node('a'), node('b'), node('c')] });
    assert.deepEqual(back.shutdown.map((x) => x.id), [a.id]);
  });

  it('is degraded while a slot waits for its restart back-off or its restart policy ended it (as Swarm shows 1/2, nothing deploys)', () => {
    const web = service({ replicas: 2 });
    const crashed = running(web, 2, 'a', { state: 'failed', exitCode: 1, finishedAt: NOW - 100 });
    const backoff = planService(web, [running(web, 1, 'a'), crashed], { now: NOW, nodes: [node('a')] });
    assert.deepEqual([backoff.create, backoff.shutdown], [[], []]);
    assert.equal(backoff.status.phase, 'degraded');
    assert.match(backoff.status.message, /^1\/2 running; .*web-2 exited with code 1; restarting in \d+s/);
    const degraded = backoff.events.filter((e) => e.type === 'service.degraded');
    assert.equal(degraded.length, 1);
    assert.match(degraded[0]?.message ?? '', /^1 of 2 slots waits: its instance exited with code 1; restarting in \d+s \(back-off \d+ ms\) \(web-2\)$/);
    // Once restarted it is deploying (on its way), and running again says for how long it was not.
    const restarted = planService(withStatus(web, backoff.status), [running(web, 1, 'a'), crashed], { now: NOW + 60_000, nodes: [node('a')] });
    assert.equal(restarted.create.length, 1);
    assert.equal(restarted.status.phase, 'deploying');
    assert.equal(restarted.events.filter((e) => e.type === 'service.degraded').length, 0, 'said once per spell');

    const job = service({ replicas: 2, restartPolicy: { condition: 'none', delay: '5s', maxAttempts: 0, window: '0s' } });
    const done = planService(job, [running(job, 1, 'a'), running(job, 2, 'a', { state: 'complete', exitCode: 0, finishedAt: NOW - 100 })], { now: NOW, nodes: [node('a')] });
    assert.equal(done.status.phase, 'degraded');
    assert.match(done.status.message, /web-2 exited with code 0; restart condition is none/);
  });

  it('stays deploying while something is on its way: a replacement, a rollout', () => {
    const web = service({ replicas: 2 });
    const replaced = planService(web, [running(web, 1, 'a'), running(web, 2, 'b')], { now: NOW, nodes: [node('a'), node('b', { ready: false }), node('c')] });
    assert.equal(replaced.create.length, 1);
    assert.equal(replaced.status.phase, 'deploying');

    // A global rollout still replacing the instances of the nodes that are up.
    const v4 = service({ mode: 'global', generation: 4 });
    const outdated = on.map((i) => ({ ...i, spec: { ...i.spec, containers: i.spec.containers.map((c) => ({ ...c, command: ['node', 'old.js'] })) } }));
    const rolling = planService({ ...v4, status: { ...v4.status, observedGeneration: 3 } }, outdated, { now: NOW, nodes: [node('a'), node('b'), node('c', { ready: false })] });
    assert.equal(rolling.status.update?.state, 'updating');
    assert.equal(rolling.status.phase, 'deploying');
  });
});
