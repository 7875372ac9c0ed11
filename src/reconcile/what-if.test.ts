import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Instance, NodeInfo, Service } from '../model/index.js';
import { hasCode } from '../lib/index.js';
import { planService } from './plan-service.js';
import { indexUsage } from './schedule.js';
import type { ClusterSnapshot } from './what-if.js';
import { planWhatIf } from './what-if.js';
import { instance, node, service, T0 } from '../../test/fixtures.js';

const NOW = T0 + 60_000;
const three = [node('a'), node('b'), node('c')];
/** A ready instance of `svc` in `slot` on `on`, running its deployed containers. */
const running = (svc: Service, slot: number, on: string): Instance => {
  const i = instance({ slot, node: on, service: svc.name, serviceId: svc.id });
  return { ...i, id: `${svc.name}-${slot}-${i.version}`, spec: { ...i.spec, containers: svc.deployment?.spec.containers ?? [] } };
};
const named = (name: string, o: Parameters<typeof service>[0] = {}): Service => ({ ...service({ name, ...o }), id: `svc-${name}` });
/** 6 replicas 2/2/2 over a, b, c. */
const spread = (svc: Service): Instance[] => [1, 2, 3, 4, 5, 6].map((slot) => running(svc, slot, ['a', 'b', 'c'][(slot - 1) % 3] as string));
const snapshot = (services: Service[], instances: Instance[], nodes: NodeInfo[] = three): ClusterSnapshot => ({ services, instances, nodes, now: NOW });

describe('planWhatIf', () => {
  it('--fail-node: moves the node\'s replicated instances to the others, and says the service drops below its replicas and minHealth meanwhile', () => {
    const web = named('web', { replicas: 6, updateConfig: { minHealth: 0.8 } });
    const plan = planWhatIf(snapshot([web], spread(web)), { kind: 'fail-node', node: 'b' });
    assert.deepEqual(plan.moves.map((m) => [m.slot, m.from, m.to]), [[2, 'b', 'a'], [5, 'b', 'c']]);
    assert.equal(plan.moves[0]?.reason, 'replacing an instance: node b is down');
    assert.deepEqual(plan.services, [{ grid: 'default', service: 'web', desired: 6, readyBefore: 6, readyDuring: 4, readyAfter: 6, minHealth: 0.8, belowReplicas: true, belowMinHealth: true }]);
    assert.deepEqual([plan.pending, plan.waiting, plan.starts, plan.stops], [[], [], [], []]);
    assert.equal(plan.settled, true);
  });

  it('--fail-node: a stateful slot waits for its node; a slot pinned to the node stays pending with the reason', () => {
    const db = named('db', { replicas: 1, stateful: true });
    const pinned = named('pinned', { replicas: 1, placement: { constraints: ['node.hostname==b'] } });
    const plan = planWhatIf(snapshot([db, pinned], [running(db, 1, 'b'), running(pinned, 1, 'b')]), { kind: 'fail-node', node: 'b' });
    assert.deepEqual(plan.waiting, [{ grid: 'default', service: 'db', slot: 1, node: 'b', reason: 'node b is down' }]);
    assert.deepEqual(plan.pending.map((p) => [p.service, p.slot]), [['pinned', 1]]);
    assert.match(plan.pending[0]?.message ?? '', /^pinned-1 stays on node b \(node b is down\): no other node can take it: no suitable node \(1 node down; scheduling constraints not satisfied on 2 nodes\)/);
    assert.deepEqual(plan.services.map((s) => [s.service, s.readyBefore, s.readyAfter]), [['db', 1, 0], ['pinned', 1, 0]]);
  });

  it('--drain: moves instances start-first, so no service drops; a stateful one stays and waits', () => {
    const web = named('web', { replicas: 6 });
    const db = named('db', { replicas: 1, stateful: true });
    const plan = planWhatIf(snapshot([web, db], [...spread(web), running(db, 1, 'a')]), { kind: 'drain', node: 'a' });
    assert.deepEqual(plan.moves.map((m) => [m.service, m.slot, m.from, m.to]), [['web', 1, 'a', 'b'], ['web', 4, 'a', 'c']]);
    assert.equal(plan.moves[0]?.reason, 'moving off node a (node a is draining)');
    assert.deepEqual(plan.services, []);
    assert.deepEqual(plan.waiting.map((w) => [w.service, w.node, w.reason]), [['db', 'a', 'node a is draining']]);
    assert.ok(plan.rounds >= 2, 'the old instances stop in a later pass, once their replacements are ready');
  });

  it('--drain of a stateful service that moves its slots: stopped first, started elsewhere — the service dips meanwhile', () => {
    const db = named('db', { replicas: 1, stateful: true, placement: { moveStatefulSlots: true } });
    const plan = planWhatIf(snapshot([db], [running(db, 1, 'a')]), { kind: 'drain', node: 'a' });
    assert.deepEqual(plan.moves.map((m) => [m.slot, m.from, m.to, m.reason]), [[1, 'a', 'b', 'node a is draining: moving to another node']]);
    assert.deepEqual(plan.services.map((s) => [s.service, s.readyBefore, s.readyDuring, s.readyAfter]), [['db', 1, 0, 1]]);
    assert.ok(plan.rounds >= 3 && plan.settled);
  });

  it('--add-node: a global service starts on it, and a slot pending for want of its label fits', () => {
    const agent = named('agent', { mode: 'global' });
    const zoned = named('zoned', { replicas: 1, placement: { constraints: ['node.labels.zone==c'] } });
    const instances = [running(agent, 1, 'a'), running(agent, 2, 'b'), running(agent, 3, 'c')];
    const plan = planWhatIf(snapshot([agent, zoned], instances), { kind: 'add-node', labels: { zone: 'c' } });
    assert.deepEqual(plan.starts.map((m) => [m.service, m.slot, m.to]), [['agent', 4, 'new-node'], ['zoned', 1, 'new-node']]);
    assert.deepEqual(plan.moves, []);
    assert.deepEqual(plan.pending, []);
  });

  it('--drain of a global service\'s node: its instance stops', () => {
    const agent = named('agent', { mode: 'global' });
    const plan = planWhatIf(snapshot([agent], [running(agent, 1, 'a'), running(agent, 2, 'b')], [node('a'), node('b')]), { kind: 'drain', node: 'b' });
    assert.deepEqual(plan.stops.map((m) => [m.slot, m.from, m.reason]), [[2, 'b', 'node b is draining']]);
  });

  it('reports what the change causes, not what the controller does anyway (a slot filled the same way without it)', () => {
    const pinned = named('pinned', { replicas: 2, placement: { constraints: ['node.hostname==a'] } });
    const web = named('web', { replicas: 1 });
    const plan = planWhatIf(snapshot([pinned, web], [running(pinned, 1, 'a'), running(web, 1, 'b')]), { kind: 'drain', node: 'b' });
    assert.deepEqual(plan.starts, [], 'pinned-2 starts on a with or without the drain');
    assert.deepEqual(plan.moves.map((m) => [m.service, m.slot, m.from, m.to]), [['web', 1, 'b', 'a']]);
  });

  it('refuses an unknown node and an added node whose name is taken; changes nothing it was given', () => {
    const web = named('web', { replicas: 6 });
    const snap = snapshot([web], spread(web));
    const copy = JSON.stringify(snap);
    assert.throws(() => planWhatIf(snap, { kind: 'fail-node', node: 'zz' }), (e: unknown) => hasCode(e, 'NODE_NOT_FOUND'));
    assert.throws(() => planWhatIf(snap, { kind: 'add-node', name: 'a' }), (e: unknown) => hasCode(e, 'REQUEST_INVALID'));
    const plan = planWhatIf(snap, { kind: 'fail-node', node: 'a' });
    assert.equal(JSON.stringify(snap), copy);
    assert.deepEqual(JSON.parse(JSON.stringify(plan)), plan, 'the plan is plain JSON');
  });

  it('--fail-node moves exactly what planService plans with that node down (the controller\'s own code)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 4 }),
        fc.integer({ min: 0, max: 8 }),
        fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 8, maxLength: 8 }),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 2 }),
        (nodeCount, replicas, where, failIndex, maxPerNode) => {
          const nodes = Array.from({ length: nodeCount }, (_, k) => node(`n${k}`));
          const svc = named('web', { replicas, ...(maxPerNode > 0 ? { placement: { maxReplicasPerNode: maxPerNode } } : {}) });
          // A converged service: every slot runs somewhere (what-if reports the change's doing, not a slot filled anyway).
          const instances = where.slice(0, replicas).map((w, k) => running(svc, k + 1, `n${w % nodeCount}`));
          // More instances on a node than maxReplicasPerNode is not converged: the rollout moves them.
          fc.pre(maxPerNode === 0 || nodes.every((n) => instances.filter((i) => i.node === n.name).length <= maxPerNode));
          const failed = `n${failIndex % nodeCount}`;
          const downed = nodes.map((n) => (n.name === failed ? { ...n, ready: false } : n));
          const direct = planService(svc, instances, { now: NOW, nodes: downed, usage: indexUsage(instances) });
          const what = planWhatIf(snapshot([svc], instances, nodes), { kind: 'fail-node', node: failed });
          // The failed node's slots: moved where planService puts them, or pending with its reason.
          const replacing = direct.create.filter((c) => c.reason === `replacing an instance: node ${failed} is down`);
          assert.deepEqual(what.moves.map((m) => `${m.slot}@${m.from}>${m.to}`).sort(), replacing.map((c) => `${c.slot}@${failed}>${c.node}`).sort());
          const stuck = direct.pending.filter((p) => p.message.startsWith(`web-${p.slot} stays on node ${failed} `));
          assert.deepEqual(what.pending.map((p) => `${p.slot}: ${p.message}`).sort(), stuck.map((p) => `${p.slot}: ${p.message}`).sort());
          const onFailed = instances.filter((i) => i.node === failed).map((i) => i.slot).sort();
          assert.deepEqual([...what.moves.map((m) => m.slot), ...what.pending.map((p) => p.slot)].sort(), onFailed);
        },
      ),
    );
  });
});
