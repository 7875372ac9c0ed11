import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Instance, NodeInfo, Service, ServiceSpecInput } from '../model/index.js';
import type { ServicePlan } from './plan-service.js';
import { planService } from './plan-service.js';
import { iso, instance, node, service, T0 } from '../../test/fixtures.js';

/*
 * A deploy that changes only the placement (a constraint, maxReplicasPerNode) is a rolling update of
 * the instances whose node no longer meets it (Swarm: placement is part of the task spec); those whose
 * node meets it stay. docs/rollouts.md, "Placement changes".
 */

const NOW = T0 + 60_000;
const zone = (name: string, z: string, extra: Partial<NodeInfo> = {}): NodeInfo => node(name, { labels: { zone: z }, ...extra });
const nodes = [zone('a1', 'a'), zone('a2', 'a'), zone('b1', 'b'), zone('b2', 'b'), zone('b3', 'b')];

/** Generation 2 of `web` (generation 1's rollout completed): the placement changed, the containers did not. */
function redeployed(o: Partial<ServiceSpecInput>): Service {
  const s = service({ generation: 2, ...o });
  return { ...s, status: { ...s.status, phase: 'running', observedGeneration: 1 } };
}

/** A ready instance of generation 1 (created before the deploy request) running the deployed containers, so current by its template, on `on`. */
function running(svc: Service, slot: number, on: string, o: Parameters<typeof instance>[0] = {}): Instance {
  const i = instance({ slot, node: on, generation: 1, createdAt: T0 - 60_000, ...o });
  return { ...i, id: `web-${slot}-${on}-${i.version}`, spec: { ...i.spec, containers: svc.deployment?.spec.containers ?? [] } };
}

/** The service as the next pass sees it: with the status the last plan wrote. */
function after(svc: Service, plan: ServicePlan): Service {
  return { ...svc, status: { ...svc.status, ...plan.status } };
}

/** `i` once the agent took its stop: stopping (desired shutdown), or ended. */
const stopping = (i: Instance): Instance => ({ ...i, desiredState: 'shutdown' });
const ended = (i: Instance): Instance => ({ ...i, desiredState: 'shutdown', status: { ...i.status, state: 'shutdown', finishedAt: iso(NOW - 500) } });

describe('a placement change rolls out (planService)', () => {
  it('replaces the instances whose node no longer meets a new constraint, parallelism at a time and stop-first, and leaves those that meet it', () => {
    const svc = redeployed({ replicas: 4, placement: { constraints: ['node.labels.zone==b'] }, updateConfig: { parallelism: 1, monitor: '5s' } });
    const on = [running(svc, 1, 'a1'), running(svc, 2, 'b1'), running(svc, 3, 'a2'), running(svc, 4, 'b2')];
    const [s1, s2, s3, s4] = on as [Instance, Instance, Instance, Instance];
    const ctx = (now = NOW) => ({ now, nodes });

    const first = planService(svc, on, ctx());
    assert.deepEqual(first.shutdown, [{ id: s1.id, reason: 'update to generation 2: node a1 does not meet node.labels.zone==b (it has node.labels.zone=a)' }]);
    assert.deepEqual(first.create, []);
    assert.equal(first.status.update?.state, 'updating', 'not completed at once: two instances have to move');
    assert.equal(first.status.update?.message, 'updating to generation 2: 2/4 updated');
    assert.equal(first.status.phase, 'deploying');

    // Slot 1 stopping, then stopped: one batch in flight, slot 3 waits; then slot 1 starts on a zone-b node.
    const whileStopping = planService(after(svc, first), [stopping(s1), s2, s3, s4], ctx());
    assert.deepEqual([whileStopping.shutdown, whileStopping.create], [[], []]);
    const stopped = planService(after(svc, whileStopping), [ended(s1), s2, s3, s4], ctx());
    assert.deepEqual(stopped.create.map((c) => [c.slot, c.node]), [[1, 'b3']]);
    assert.deepEqual(stopped.shutdown, [], 'slot 3 waits for the batch');

    // The new slot 1 is ready for 1 s of the 5 s monitor: slot 3 still waits; after the monitor it moves.
    const new1 = running(svc, 1, 'b3', { generation: 2, createdAt: NOW - 2000, startedAt: NOW - 1000 });
    const monitoring = planService(after(svc, stopped), [new1, ended(s1), s2, s3, s4], ctx());
    assert.deepEqual(monitoring.shutdown, []);
    assert.match(monitoring.status.update?.message ?? '', /^updating to generation 2: 2\/4 updated, 1 monitoring$/);
    const later = NOW + 10_000;
    const next = planService(after(svc, monitoring), [new1, ended(s1), s2, s3, s4], ctx(later));
    assert.deepEqual(next.shutdown, [{ id: s3.id, reason: 'update to generation 2: node a2 does not meet node.labels.zone==b (it has node.labels.zone=a)' }]);
    assert.equal(next.status.update?.updatedInstances, 3);

    // Slot 3 moved too: the rollout completes, counting both moves; slots 2 and 4 were never touched.
    const new3 = running(svc, 3, 'b1', { generation: 2, createdAt: later + 1000, startedAt: later + 1000 });
    const done = planService(after(svc, next), [new1, ended(s1), s2, new3, ended(s3), s4], ctx(later + 10_000));
    assert.equal(done.status.update?.state, 'completed');
    assert.equal(done.status.update?.updatedInstances, 4);
    assert.equal(done.status.update?.message, 'update to generation 2 completed: 4/4 instance(s) ready; 2 moved to another node');
    assert.equal(done.status.phase, 'running');
    for (const plan of [first, whileStopping, stopped, monitoring, next, done]) {
      assert.ok(!plan.shutdown.some((x) => x.id === s2.id || x.id === s4.id), 'an instance whose node meets the placement stays');
    }
  });

  it('start-first: starts the replacement on a node that meets the placement, and stops the old instance once it is ready', () => {
    const svc = redeployed({ replicas: 2, placement: { constraints: ['node.labels.zone==b'] }, updateConfig: { order: 'start-first', parallelism: 1 } });
    const old = running(svc, 1, 'a1');
    const stays = running(svc, 2, 'b1');
    const first = planService(svc, [old, stays], { now: NOW, nodes });
    assert.deepEqual(first.create.map((c) => [c.slot, c.node, c.reason]), [[1, 'b2', 'update to generation 2: moving off node a1 (node a1 does not meet node.labels.zone==b (it has node.labels.zone=a))']]);
    assert.deepEqual(first.shutdown, []);
    const starting = running(svc, 1, 'b2', { generation: 2, state: 'starting', createdAt: NOW - 1000 });
    assert.deepEqual(planService(after(svc, first), [starting, old, stays], { now: NOW, nodes }).shutdown, []);
    const ready = running(svc, 1, 'b2', { generation: 2, createdAt: NOW - 1000, startedAt: NOW - 500 });
    const second = planService(after(svc, first), [ready, old, stays], { now: NOW, nodes });
    assert.deepEqual(second.shutdown, [{ id: old.id, reason: 'node a1 does not meet node.labels.zone==b (it has node.labels.zone=a): moved to node b2' }]);
    assert.equal(second.status.update?.state, 'updating');
    // Draining: the rollout waits until it ended, as for an instance of an old template.
    const draining = planService(after(svc, second), [ready, stopping(old), stays], { now: NOW + 10_000, nodes });
    assert.equal(draining.status.update?.state, 'updating');
    assert.equal(draining.status.update?.message, 'updating to generation 2: 1/2 updated, 1 stopping');
    const done = planService(after(svc, draining), [ready, ended(old), stays], { now: NOW + 10_000, nodes });
    assert.equal(done.status.update?.state, 'completed');
    assert.equal(done.status.update?.message, 'update to generation 2 completed: 2/2 instance(s) ready; 1 moved to another node');
  });

  it('completes at once when every instance meets the new placement, and says that nothing needed to move', () => {
    const svc = redeployed({ replicas: 2, placement: { constraints: ['node.labels.zone!=c'] } });
    const plan = planService(svc, [running(svc, 1, 'a1'), running(svc, 2, 'b1')], { now: NOW, nodes });
    assert.deepEqual([plan.create, plan.shutdown], [[], []]);
    assert.equal(plan.status.update?.state, 'completed');
    assert.equal(plan.status.update?.message, 'update to generation 2 completed: 2/2 instance(s) ready; none needed replacing or moving');
    assert.equal(plan.status.phase, 'running');
  });

  it('moves the instances of the highest slots off a node that runs more than a lowered maxReplicasPerNode', () => {
    const svc = redeployed({ replicas: 3, placement: { maxReplicasPerNode: 1 } });
    const two = [node('a'), node('b'), node('c')];
    const on = [running(svc, 1, 'a'), running(svc, 2, 'a'), running(svc, 3, 'b')];
    const plan = planService(svc, on, { now: NOW, nodes: two });
    assert.deepEqual(plan.shutdown, [{ id: on[1]?.id, reason: 'update to generation 2: node a runs 2 instance(s) of web (maxReplicasPerNode 1)' }]);
    const next = planService(after(svc, plan), [ended(on[1] as Instance), on[0] as Instance, on[2] as Instance], { now: NOW, nodes: two });
    assert.deepEqual(next.create.map((c) => [c.slot, c.node]), [[2, 'c']]);
  });

  it('stop-first: keeps an instance that has to move while no other node can take it, and says why', () => {
    const svc = redeployed({ replicas: 1, placement: { constraints: ['node.labels.zone==b'] } });
    const old = running(svc, 1, 'a1');
    const plan = planService(svc, [old], { now: NOW, nodes: [zone('a1', 'a'), zone('b1', 'b', { ready: false })] });
    assert.deepEqual([plan.create, plan.shutdown], [[], []]);
    assert.equal(plan.pending[0]?.message, 'web-1 stays on node a1 (node a1 does not meet node.labels.zone==b (it has node.labels.zone=a)): no other node can take it: no suitable node (1 node down; scheduling constraints not satisfied on 1 node): node a1 does not meet node.labels.zone==b (it has node.labels.zone=a); node b1 is down');
    assert.equal(plan.status.update?.state, 'updating', 'the rollout waits for a node');
  });

  it('stop-first: stops no more instances in a batch than other nodes can take', () => {
    const svc = redeployed({ replicas: 2, placement: { constraints: ['node.labels.zone==b'], maxReplicasPerNode: 1 }, updateConfig: { parallelism: 2 } });
    const [s1, s2] = [running(svc, 1, 'a1'), running(svc, 2, 'a2')];
    const plan = planService(svc, [s1, s2], { now: NOW, nodes: [zone('a1', 'a'), zone('a2', 'a'), zone('b1', 'b')] });
    assert.deepEqual(plan.shutdown.map((x) => x.id), [s1.id]);
    assert.match(plan.pending[0]?.message ?? '', /^web-2 stays on node a2 \(node a2 does not meet node\.labels\.zone==b \(it has node\.labels\.zone=a\)\): no other node can take it: no suitable node \(.*max replicas per node reached on 1 node\)/);
  });

  it('pauses on a moved instance that fails (failureAction pause) and moves nothing more, not even outside the rollout', () => {
    const svc = redeployed({ replicas: 2, placement: { constraints: ['node.labels.zone==b'] }, updateConfig: { parallelism: 1 } });
    const [s1, s2] = [running(svc, 1, 'a1'), running(svc, 2, 'a2')];
    const first = planService(svc, [s1, s2], { now: NOW, nodes });
    assert.deepEqual(first.shutdown.map((x) => x.id), [s1.id]);
    const crashed = running(svc, 1, 'b1', { generation: 2, state: 'failed', exitCode: 3, createdAt: NOW - 1000, finishedAt: NOW - 500 });
    const paused = planService(after(svc, first), [crashed, ended(s1), s2], { now: NOW, nodes });
    assert.equal(paused.status.update?.state, 'paused');
    assert.deepEqual(paused.shutdown, [], 'slot 2 stays on a2 while the rollout is paused');
    assert.ok(!paused.create.some((c) => c.slot === 2), 'the constraint enforcer does not move it behind the paused rollout');
    const still = planService(after(svc, paused), [crashed, ended(s1), s2], { now: NOW + 60_000, nodes });
    assert.ok(!still.create.some((c) => c.slot === 2) && still.shutdown.length === 0);
  });

  it('keeps a stateful slot on its node (its data is there) and names it in the status and the completed rollout; moves it when the service moves stateful slots', () => {
    const svc = redeployed({ replicas: 1, stateful: true, placement: { constraints: ['node.labels.zone==b'] } });
    const plan = planService(svc, [running(svc, 1, 'a1')], { now: NOW, nodes });
    assert.deepEqual([plan.create, plan.shutdown], [[], []]);
    const note = 'web-1 stays on node a1 (node a1 does not meet node.labels.zone==b (it has node.labels.zone=a)): its data is there (placement.moveStatefulSlots moves it)';
    assert.ok(plan.status.message.includes(note), plan.status.message);
    assert.equal(plan.status.update?.state, 'completed');
    assert.ok(plan.status.update?.message.endsWith(`; 1 slot(s) stay on a node the new placement would not put them on: ${note}`), plan.status.update?.message);

    const moving = redeployed({ replicas: 1, stateful: true, placement: { constraints: ['node.labels.zone==b'], moveStatefulSlots: true } });
    const old = running(moving, 1, 'a1');
    const stop = planService(moving, [old], { now: NOW, nodes });
    assert.deepEqual(stop.shutdown, [{ id: old.id, reason: 'update to generation 2: node a1 does not meet node.labels.zone==b (it has node.labels.zone=a)' }]);
    const start = planService(after(moving, stop), [ended(old)], { now: NOW, nodes });
    assert.deepEqual(start.create.map((c) => c.node), ['b1'], 'started on a node that meets the placement, with an empty data directory');
    // With no node to go to, it is not stopped (a stateful slot never runs twice, so it would wait stopped).
    const nowhere = planService(moving, [old], { now: NOW, nodes: [zone('a1', 'a'), zone('b1', 'b', { availability: 'drain' })] });
    assert.deepEqual([nowhere.create, nowhere.shutdown], [[], []]);
    assert.match(nowhere.pending[0]?.message ?? '', /^web-1 stays on node a1 \(node a1 does not meet node\.labels\.zone==b \(it has node\.labels\.zone=a\)\): no other node can take it: no suitable node/);
  });
});
