import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Instance, NodeInfo, Service, ServiceEvent } from '../model/index.js';
import type { ServicePlan } from './plan-service.js';
import { planService } from './plan-service.js';
import { explainService } from './explain-service.js';
import { iso, instance, node, service, T0 } from '../../test/fixtures.js';

/*
 * The events of entering and leaving `degraded` (phase-events.ts): said once per spell, from the phase
 * and `degradedSince` the last pass stored — not on every pass, and not again by a server that takes
 * the lead and plans from the same stored status.
 */

const NOW = T0 + 60_000;
const running = (svc: Service, slot: number, on: string, o: Parameters<typeof instance>[0] = {}): Instance => {
  const i = instance({ slot, node: on, generation: 3, ...o });
  return { ...i, id: `web-${slot}-${on}`, spec: { ...i.spec, containers: svc.deployment?.spec.containers ?? [] } };
};
/** The service as the next pass (of this server or of a new leader) reads it: with the status the plan wrote. */
const stored = (svc: Service, plan: ServicePlan): Service => {
  const { degradedSince: _drop, ...rest } = svc.status;
  return { ...svc, status: { ...rest, ...plan.status, updatedAt: svc.status.updatedAt } };
};
const ofType = (plan: ServicePlan, type: string) => plan.events.filter((e) => e.type === type);

describe('phase events: degraded and back', () => {
  const global = service({ mode: 'global', generation: 3, phase: 'running' });
  const on = [running(global, 1, 'a'), running(global, 2, 'b'), running(global, 3, 'c')];
  const up = [node('a'), node('b'), node('c')];
  const cDown = [node('a'), node('b'), node('c', { ready: false })];

  it('warns once when the service enters degraded, naming how many slots wait and why, and not on the passes after it', () => {
    const first = planService(global, on, { now: NOW, nodes: cDown });
    assert.equal(first.status.phase, 'degraded');
    const [warning, ...more] = ofType(first, 'service.degraded');
    assert.equal(more.length, 0);
    assert.equal(warning?.severity, 'warning');
    assert.equal(warning?.message, '1 of 3 slots waits: node c is down (web-3)');
    assert.deepEqual(warning?.data, { generation: 3, running: 2, waiting: 1, desired: 3, slots: [3], nodes: ['c'] });
    assert.equal(first.status.degradedSince, iso(NOW));

    // Later passes — this server's, or a new leader's reading the stored status — say nothing more.
    let svc = stored(global, first);
    for (const at of [NOW + 1000, NOW + 5000, NOW + 20_000]) {
      const again = planService(svc, on, { now: at, nodes: cDown });
      assert.equal(again.status.phase, 'degraded');
      assert.deepEqual(again.events, [], `no event at +${at - NOW} ms`);
      assert.equal(again.status.degradedSince, iso(NOW), 'the spell started when it was first degraded');
      svc = stored(svc, again);
    }
  });

  it('says once, as service.converged, that it is back to its full count and for how long it was not', () => {
    const degraded = stored(global, planService(global, on, { now: NOW, nodes: cDown }));
    const back = planService(degraded, on, { now: NOW + 30_000, nodes: up });
    assert.equal(back.status.phase, 'running');
    assert.deepEqual(back.events.map((e) => [e.type, e.severity, e.message]), [['service.converged', 'info', '3/3 instance(s) running generation 3 again, after 30.0 s degraded']]);
    assert.deepEqual(back.events[0]?.data, { generation: 3, degradedForMs: 30_000 });
    assert.equal(back.status.degradedSince, undefined, 'the spell is over');
    assert.deepEqual(planService(stored(degraded, back), on, { now: NOW + 31_000, nodes: up }).events, []);

    // A service that converges after a deploy (never degraded) still says how long the deploy took.
    const fresh = planService({ ...global, status: { ...global.status, phase: 'deploying' } }, on, { now: NOW, nodes: up });
    assert.deepEqual(ofType(fresh, 'service.converged').map((e) => [e.type, e.message]), [['service.converged', '3/3 instance(s) running generation 3, 60000 ms after the deploy request']]);
    assert.deepEqual(ofType(fresh, 'service.converged')[0]?.data, { generation: 3, convergedAfterMs: 60_000 });
  });

  it('groups the waiting slots by reason, keeps the spell through deploying (no second warning), and ends it once every slot runs', () => {
    const fixture = service({ replicas: 5, generation: 3, phase: 'running', placement: { maxReplicasPerNode: 1 } });
    // Its rollout completed (generation 3 is the one its instances run).
    const update = { state: 'completed', generation: 3, requestedAt: iso(T0), startedAt: iso(T0), completedAt: iso(T0), message: 'update to generation 3 completed', failedInstances: [], updatedInstances: 5, totalInstances: 5 } as const;
    const web: Service = { ...fixture, status: { ...fixture.status, observedGeneration: 3, update } };
    const nodes: NodeInfo[] = [node('a'), node('b'), node('c'), node('d', { ready: false })];
    const four = [running(web, 1, 'a'), running(web, 2, 'b'), running(web, 3, 'c'), running(web, 4, 'd')];
    const first = planService(web, four, { now: NOW, nodes });
    assert.equal(first.status.phase, 'degraded');
    const warning = ofType(first, 'service.degraded')[0];
    assert.match(warning?.message ?? '', /^2 of 5 slots wait: node d is down \(web-4\); no suitable node \(1 node down; max replicas per node reached on 3 nodes\): .* \(web-5\)$/);
    assert.deepEqual(warning?.data?.['slots'], [4, 5]);
    assert.deepEqual(warning?.data?.['nodes'], ['d']);

    // A node joins: web-4 is replaced there (deploying: the spell goes on, unannounced), then runs — and
    // the service is degraded again (web-5 still fits nowhere), within the same spell: no second warning.
    const joined = [...nodes, node('e')];
    const placing = planService(stored(web, first), four, { now: NOW + 10_000, nodes: joined });
    assert.deepEqual(placing.create.map((c) => [c.slot, c.node]), [[4, 'e']]);
    assert.equal(placing.status.phase, 'deploying');
    assert.deepEqual(placing.events, []);
    assert.equal(placing.status.degradedSince, iso(NOW));
    const old4 = { ...(four[3] as Instance), desiredState: 'shutdown' as const };
    const moved = [...four.slice(0, 3), old4, running(web, 4, 'e', { createdAt: NOW + 10_000 })];
    moved[4] = { ...(moved[4] as Instance), id: 'web-4-e' };
    const still = planService(stored(web, placing), moved, { now: NOW + 12_000, nodes: joined });
    assert.equal(still.status.phase, 'degraded');
    assert.deepEqual(still.events, [], 'the same spell: not announced again');
    assert.equal(still.status.degradedSince, iso(NOW));

    // d returns and its agent stops the old web-4: web-5 starts there, runs, and the converged event counts the whole spell.
    const dBack = joined.map((n) => (n.name === 'd' ? { ...n, ready: true } : n));
    const ended = [...moved.slice(0, 3), { ...old4, status: { ...old4.status, state: 'shutdown' as const } }, moved[4] as Instance];
    const starting = planService(stored(web, still), ended, { now: NOW + 30_000, nodes: dBack });
    assert.deepEqual(starting.create.map((c) => [c.slot, c.node]), [[5, 'd']]);
    assert.deepEqual(starting.events, []);
    const all = [...ended, running(web, 5, 'd', { createdAt: NOW + 30_000 })];
    const back = planService(stored(web, starting), all, { now: NOW + 40_000, nodes: dBack });
    assert.equal(back.status.phase, 'running');
    assert.deepEqual(back.events.map((e) => e.message), ['5/5 instance(s) running generation 3 again, after 40.0 s degraded']);
    assert.equal(back.status.degradedSince, undefined);
  });

  it('a stop ends the spell: the next degraded is announced again', () => {
    const degraded = stored(global, planService(global, on, { now: NOW, nodes: cDown }));
    const stopping = planService({ ...degraded, desired: 'stopped' }, on, { now: NOW + 1000, nodes: cDown });
    assert.equal(stopping.status.degradedSince, undefined);
    const restarted = planService(stored({ ...degraded, desired: 'running' }, stopping), on, { now: NOW + 2000, nodes: cDown });
    assert.equal(ofType(restarted, 'service.degraded').length, 1);
  });

  it('`why` shows the warning as the evidence of the slot that waits while degraded, and not once the service runs again', () => {
    const plan = planService(global, on, { now: NOW, nodes: cDown });
    const warning = ofType(plan, 'service.degraded')[0];
    assert.ok(warning);
    const events: ServiceEvent[] = [{ ...warning, id: 7, time: iso(NOW) }];
    const degraded = stored(global, plan);
    const x = explainService(degraded, on, { now: NOW, downNodes: new Set(['c']), events });
    assert.equal(x.verdict, 'degraded');
    assert.deepEqual(x.reasons.map((r) => [r.kind, r.message, r.evidence.event?.type]), [['unschedulable', 'web-3 waits for node c (down)', 'service.degraded']]);

    const back = stored(degraded, planService(degraded, on, { now: NOW + 1000, nodes: up }));
    const y = explainService(back, on, { now: NOW + 1000, events });
    assert.equal(y.verdict, 'healthy');
    assert.deepEqual(y.reasons, [], 'the spell is over: its warning is no reason');
  });
});
