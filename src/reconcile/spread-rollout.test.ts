import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Instance, NodeInfo, Service, ServiceSpecInput } from '../model/index.js';
import type { ServicePlan } from './plan-service.js';
import { planService } from './plan-service.js';
import { iso, instance, node, service, T0 } from '../../test/fixtures.js';

/*
 * A deploy that changes the spread preferences rolls out by moving just enough instances that the
 * spread over the new label is as even as the scheduler would place them (docs/rollouts.md, "Spread
 * changes"); a deploy that leaves them alone moves nothing for the spread.
 */

const NOW = T0 + 60_000;
const zone = (name: string, z: string, extra: Partial<NodeInfo> = {}): NodeInfo => node(name, { labels: { zone: z }, ...extra });
const SPREAD = { preferences: [{ spread: 'node.labels.zone' }] };

/** Generation 2 of `web`, whose deploy changed the spread preferences (generation 1's rollout completed). */
function respread(o: Partial<ServiceSpecInput>, changed = true): Service {
  const s = service({ generation: 2, ...o });
  const deployment = s.deployment && changed ? { ...s.deployment, spreadChanged: true as const } : s.deployment;
  return { ...s, deployment, status: { ...s.status, phase: 'running', observedGeneration: 1 } };
}

/** A ready instance of generation 1 (created before the deploy request), current by its template, on `on`. */
function running(svc: Service, slot: number, on: string, o: Parameters<typeof instance>[0] = {}): Instance {
  const i = instance({ slot, node: on, generation: 1, createdAt: T0 - 60_000, ...o });
  return { ...i, id: `web-${slot}-${on}-${i.version}`, spec: { ...i.spec, containers: svc.deployment?.spec.containers ?? [] } };
}
const after = (svc: Service, plan: ServicePlan): Service => ({ ...svc, status: { ...svc.status, ...plan.status } });
const ended = (i: Instance): Instance => ({ ...i, desiredState: 'shutdown', status: { ...i.status, state: 'shutdown', finishedAt: iso(NOW - 500) } });
const on = (svc: Service, nodes: readonly string[]): Instance[] => nodes.map((n, k) => running(svc, k + 1, n));

describe('a spread change rolls out (planService)', () => {
  const nodes = [zone('a1', 'a'), zone('b1', 'b'), zone('b2', 'b')];

  it('moves one instance from the fuller zone to the emptier one (2/4 → 3/3), stop-first, and says it moved', () => {
    const svc = respread({ replicas: 6, placement: SPREAD, updateConfig: { parallelism: 1, monitor: '5s' } });
    const six = on(svc, ['a1', 'b1', 'b2', 'a1', 'b1', 'b2']);
    const s5 = six[5] as Instance; // web-6 on b2: the highest slot of the fullest zone's nodes
    const first = planService(svc, six, { now: NOW, nodes });
    assert.deepEqual(first.shutdown, [{ id: s5.id, reason: 'update to generation 2: spread over node.labels.zone: b runs 4 instance(s), a 2' }]);
    assert.deepEqual(first.create, []);
    assert.equal(first.status.update?.state, 'updating');
    assert.equal(first.status.update?.message, 'updating to generation 2: 5/6 updated');

    // Stopping: nothing else moves (zone b counts 3 once web-6 is on its way out); stopped: it starts in zone a.
    const stopping = six.map((i) => (i === s5 ? { ...i, desiredState: 'shutdown' as const } : i));
    const whileStopping = planService(after(svc, first), stopping, { now: NOW, nodes });
    assert.deepEqual([whileStopping.shutdown, whileStopping.create], [[], []]);
    const gone = six.map((i) => (i === s5 ? ended(i) : i));
    const stopped = planService(after(svc, whileStopping), gone, { now: NOW, nodes });
    assert.deepEqual(stopped.create.map((c) => [c.slot, c.node]), [[6, 'a1']]);
    assert.deepEqual(stopped.shutdown, []);

    const new6 = running(svc, 6, 'a1', { generation: 2, createdAt: NOW - 2000, startedAt: NOW - 1000 });
    const all = [...gone, new6];
    const monitoring = planService(after(svc, stopped), all, { now: NOW, nodes });
    assert.deepEqual([monitoring.shutdown, monitoring.create], [[], []], 'even now: nothing more moves');
    const done = planService(after(svc, monitoring), all, { now: NOW + 10_000, nodes });
    assert.equal(done.status.update?.state, 'completed');
    assert.equal(done.status.update?.message, 'update to generation 2 completed: 6/6 instance(s) ready; 1 moved to another node');
    assert.equal(done.status.phase, 'running');
  });

  it('start-first moves as many as the spread needs in one batch, keeps its choice while they start, and stops each old instance once its replacement is ready', () => {
    const four = [zone('a1', 'a'), zone('a2', 'a'), zone('b1', 'b'), zone('b2', 'b')];
    const svc = respread({ replicas: 4, placement: SPREAD, updateConfig: { order: 'start-first', parallelism: 2 } });
    const old = on(svc, ['a1', 'a2', 'a1', 'a2']);
    const first = planService(svc, old, { now: NOW, nodes: four });
    assert.deepEqual(first.create.map((c) => [c.slot, c.node, c.reason]), [
      [3, 'b1', 'update to generation 2: moving off node a1 (spread over node.labels.zone: a runs 3 instance(s), b 1)'],
      [4, 'b2', 'update to generation 2: moving off node a2 (spread over node.labels.zone: a runs 4 instance(s), b 0)'],
    ]);
    assert.deepEqual(first.shutdown, []);

    // Starting: the same two move (no third, no other choice), nothing is stopped yet.
    const starting = [...old, running(svc, 3, 'b1', { generation: 2, state: 'starting', createdAt: NOW - 1000 }), running(svc, 4, 'b2', { generation: 2, state: 'starting', createdAt: NOW - 1000 })];
    const waiting = planService(after(svc, first), starting, { now: NOW, nodes: four });
    assert.deepEqual([waiting.create, waiting.shutdown], [[], []]);
    assert.equal(waiting.status.update?.message, 'updating to generation 2: 2/4 updated, 2 starting');

    const ready = [...old, running(svc, 3, 'b1', { generation: 2, createdAt: NOW - 1000, startedAt: NOW - 500 }), running(svc, 4, 'b2', { generation: 2, createdAt: NOW - 1000, startedAt: NOW - 500 })];
    const second = planService(after(svc, waiting), ready, { now: NOW, nodes: four });
    assert.deepEqual(second.shutdown.map((x) => [x.id, x.reason]), [
      [old[2]?.id, 'spread over node.labels.zone: moved to node b1'],
      [old[3]?.id, 'spread over node.labels.zone: moved to node b2'],
    ]);
    const rest = [old[0], old[1], ended(old[2] as Instance), ended(old[3] as Instance), ...ready.slice(4)] as Instance[];
    const done = planService(after(svc, second), rest, { now: NOW + 10_000, nodes: four });
    assert.equal(done.status.update?.message, 'update to generation 2 completed: 4/4 instance(s) ready; 2 moved to another node');
  });

  it('completes at once when the spread is already even — also when it is even another way than the scheduler would have chosen', () => {
    const svc = respread({ replicas: 4, placement: SPREAD });
    const even = planService(svc, on(svc, ['a1', 'b1', 'a1', 'b2']), { now: NOW, nodes });
    assert.deepEqual([even.create, even.shutdown], [[], []]);
    assert.equal(even.status.update?.message, 'update to generation 2 completed: 4/4 instance(s) ready; none needed replacing or moving');

    // Three over two zones: 1/2 is as even as 2/1.
    const three = respread({ replicas: 3, placement: SPREAD });
    const odd = planService(three, on(three, ['a1', 'b1', 'b2']), { now: NOW, nodes });
    assert.deepEqual([odd.create, odd.shutdown], [[], []]);
    assert.equal(odd.status.update?.state, 'completed');
  });

  it('moves nothing for the spread on a deploy that left the preferences alone, nor once its rollout completed', () => {
    const svc = respread({ replicas: 4, placement: SPREAD }, false);
    const uneven = on(svc, ['a1', 'a1', 'a1', 'b1']);
    const plan = planService(svc, uneven, { now: NOW, nodes });
    assert.deepEqual([plan.create, plan.shutdown], [[], []]);
    assert.equal(plan.status.update?.message, 'update to generation 2 completed: 4/4 instance(s) ready; none needed replacing or moving');

    const changed = respread({ replicas: 4, placement: SPREAD });
    const completed = { ...changed, status: { ...changed.status, observedGeneration: 2, update: { ...(plan.status.update as NonNullable<Service['status']['update']>), requestedAt: changed.deployment?.requestedAt ?? '' } } };
    const later = planService(completed, uneven, { now: NOW, nodes });
    assert.deepEqual([later.create, later.shutdown], [[], []], 'no rebalancing outside the rollout of the change');
  });

  it('does not count a full node out: its zone is not taken for emptier than it is', () => {
    // Zone a runs 2 on a1 (full: maxReplicasPerNode 2) and 1 on a2; zone b 1. Even is 2/2: one moves from a to b, none into a2.
    const svc = respread({ replicas: 4, placement: { ...SPREAD, maxReplicasPerNode: 2 }, updateConfig: { order: 'start-first' } });
    const four = [zone('a1', 'a'), zone('a2', 'a'), zone('b1', 'b')];
    const plan = planService(svc, on(svc, ['a1', 'a1', 'a2', 'b1']), { now: NOW, nodes: four });
    assert.deepEqual(plan.create.map((c) => [c.slot, c.node]), [[2, 'b1']]);
  });

  it('keeps a stateful slot where its data is and names it; moves it when the service moves stateful slots', () => {
    const db = respread({ replicas: 2, stateful: true, placement: SPREAD });
    const two = [zone('a1', 'a'), zone('a2', 'a'), zone('b1', 'b')];
    const kept = planService(db, on(db, ['a1', 'a2']), { now: NOW, nodes: two });
    assert.deepEqual([kept.create, kept.shutdown], [[], []]);
    assert.equal(kept.status.update?.state, 'completed');
    assert.ok(kept.status.update?.message.endsWith('; 1 slot(s) stay on a node the new placement would not put them on: web-2 stays on node a2 (spread over node.labels.zone: a runs 2 instance(s), b 0): its data is there (placement.moveStatefulSlots moves it)'), kept.status.update?.message);

    const moving = respread({ replicas: 2, stateful: true, placement: { ...SPREAD, moveStatefulSlots: true } });
    const old = on(moving, ['a1', 'a2']);
    const stop = planService(moving, old, { now: NOW, nodes: two });
    assert.deepEqual(stop.shutdown.map((x) => x.id), [old[1]?.id]);
    const start = planService(after(moving, stop), [old[0] as Instance, ended(old[1] as Instance)], { now: NOW, nodes: two });
    assert.deepEqual(start.create.map((c) => [c.slot, c.node]), [[2, 'b1']]);
  });

  it('evens out the first spread level before the second', () => {
    const prefs = { preferences: [{ spread: 'node.labels.zone' }, { spread: 'node.labels.rack' }] };
    const racks = [node('a-r1', { labels: { zone: 'a', rack: 'r1' } }), node('a-r2', { labels: { zone: 'a', rack: 'r2' } }), node('b-r1', { labels: { zone: 'b', rack: 'r1' } }), node('b-r2', { labels: { zone: 'b', rack: 'r2' } })];
    const svc = respread({ replicas: 4, placement: prefs, updateConfig: { order: 'start-first', parallelism: 0 } });
    // Zone a 3 (all in rack r1), zone b 1: one moves from a-r1 to zone b, then zone a's racks are 2/0:
    // one more leaves a-r1. Placed as the scheduler ranks (slot order): one in each empty rack.
    const plan = planService(svc, on(svc, ['a-r1', 'a-r1', 'a-r1', 'b-r1']), { now: NOW, nodes: racks });
    assert.deepEqual(plan.create.map((c) => [c.slot, c.node, c.reason]), [
      [2, 'a-r2', 'update to generation 2: moving off node a-r1 (spread over node.labels.rack: r1 runs 2 instance(s), r2 0)'],
      [3, 'b-r2', 'update to generation 2: moving off node a-r1 (spread over node.labels.zone: a runs 3 instance(s), b 1)'],
    ]);
  });
});
