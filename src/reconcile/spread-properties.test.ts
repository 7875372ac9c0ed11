import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Instance, NodeInfo, Service } from '../model/index.js';
import { isTerminal } from '../model/index.js';
import { planService } from './plan-service.js';
import { indexUsage } from './schedule.js';
import { iso, node, service, T0 } from '../../test/fixtures.js';

/*
 * The rollout of a spread change over whole histories: instances start spread at random over zones of
 * one to three nodes; a deploy adds a spread over the zone; the plans are applied (a new instance is
 * ready at once, a stopped one ends at once) until the rollout completes. It must end even (the zones'
 * counts differ by one at most) having moved no more instances than the fewest moves that even them.
 */

const NOW = T0 + 60_000;

/** The fewest moves from `counts` to an even spread: the fullest groups keep ⌈n/g⌉, the others ⌊n/g⌋. */
function fewestMoves(counts: readonly number[]): number {
  const n = counts.reduce((a, b) => a + b, 0);
  const sorted = [...counts].sort((a, b) => b - a);
  const floor = Math.floor(n / counts.length);
  const extra = n % counts.length;
  return sorted.reduce((moves, c, k) => moves + Math.max(0, c - (k < extra ? floor + 1 : floor)), 0);
}

interface Run {
  readonly perZone: readonly number[];
  readonly where: readonly number[];
  readonly parallelism: number;
  readonly order: 'stop-first' | 'start-first';
  readonly maxReplicasPerNode?: number;
}

/** Plays the rollout of a deploy that adds a zone spread to instances placed by `where`; the zones' counts before and after. */
function play(run: Run): { before: number[]; after: number[]; created: number; nodes: NodeInfo[]; instances: Instance[] } {
  const nodes: NodeInfo[] = run.perZone.flatMap((count, z) => Array.from({ length: count }, (_, k) => node(`z${z}-n${k}`, { labels: { zone: `z${z}` } })));
  const placement = { preferences: [{ spread: 'node.labels.zone' }], ...(run.maxReplicasPerNode ? { maxReplicasPerNode: run.maxReplicasPerNode } : {}) };
  const base = service({ replicas: run.where.length, generation: 2, placement, updateConfig: { parallelism: run.parallelism, order: run.order, monitor: '0s' } });
  let svc: Service = { ...base, deployment: base.deployment && { ...base.deployment, spreadChanged: true }, status: { ...base.status, phase: 'running', observedGeneration: 1 } };
  const containers = svc.deployment?.spec.containers ?? [];
  let seq = 0;
  const make = (slot: number, on: string, generation: number, at: number): Instance => {
    seq++;
    return {
      id: `web-${slot}-${seq}`, grid: 'default', service: 'web', serviceId: 'svc-1', slot, node: on, generation, restartGeneration: 0, restarts: 0, version: seq,
      createdAt: iso(at), desiredState: 'running', spec: { containers, address: '', restartPolicy: svc.spec.restartPolicy, env: {} },
      status: { state: 'running', timestamp: iso(at), message: 'running', startedAt: iso(at) },
    };
  };
  let instances = run.where.map((w, k) => make(k + 1, (nodes[w % nodes.length] as NodeInfo).name, 1, T0 - 60_000));
  const zoneOf = (name: string): string => name.slice(0, name.indexOf('-'));
  const zoneCounts = (list: readonly Instance[]): number[] => run.perZone.map((_, z) => list.filter((i) => i.desiredState === 'running' && !isTerminal(i.status.state) && zoneOf(i.node) === `z${z}`).length);
  const before = zoneCounts(instances);
  let steps = 0;
  for (; steps < 60 && svc.status.update?.state !== 'completed'; steps++) {
    const plan = planService(svc, instances, { now: NOW + steps, nodes, usage: indexUsage(instances) });
    const stop = new Set([...plan.shutdown.map((x) => x.id), ...plan.retire]);
    instances = instances.map((i) => (stop.has(i.id) ? { ...i, desiredState: 'shutdown' as const, status: { ...i.status, state: 'shutdown' as const } } : i));
    for (const c of plan.create) instances.push(make(c.slot, c.node, 2, T0 + 1 + seq));
    for (const slot of new Set(instances.map((i) => i.slot))) {
      const alive = instances.filter((i) => i.slot === slot && i.desiredState === 'running' && !isTerminal(i.status.state));
      assert.ok(alive.length <= 2, `slot ${slot} runs ${alive.length} instances`);
    }
    svc = { ...svc, status: { ...svc.status, ...plan.status } };
  }
  assert.equal(svc.status.update?.state, 'completed', `not completed after ${steps} passes: ${svc.status.update?.message}`);
  return { before, after: zoneCounts(instances), created: instances.filter((i) => i.generation === 2).length, nodes, instances };
}

const runs = (maxReplicas: fc.Arbitrary<number | undefined>): fc.Arbitrary<Run> =>
  fc.record({
    perZone: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 2, maxLength: 4 }),
    where: fc.array(fc.nat(), { minLength: 1, maxLength: 12 }),
    parallelism: fc.integer({ min: 0, max: 3 }),
    order: fc.constantFrom('stop-first' as const, 'start-first' as const),
    maxReplicasPerNode: maxReplicas,
  }).map(({ maxReplicasPerNode, ...r }) => (maxReplicasPerNode === undefined ? r : { ...r, maxReplicasPerNode }));

describe('spread change rollouts (property)', () => {
  it('end even, with the fewest moves, whatever the start, the batch size and the order', () => {
    fc.assert(
      fc.property(runs(fc.constant(undefined)), (run) => {
        const { before, after, created } = play(run);
        assert.ok(Math.max(...after) - Math.min(...after) <= 1, `uneven at the end: ${after.join('/')}`);
        assert.equal(created, fewestMoves(before), `${created} instances created for ${fewestMoves(before)} needed moves (${before.join('/')} → ${after.join('/')})`);
      }),
      { numRuns: 200 },
    );
  });

  it('under maxReplicasPerNode, end with no zone two short of another that has room left', () => {
    fc.assert(
      fc.property(runs(fc.integer({ min: 1, max: 4 })), (run) => {
        const max = run.maxReplicasPerNode ?? 0;
        fc.pre(run.where.length <= max * run.perZone.reduce((a, b) => a + b, 0)); // every replica fits somewhere
        const { after, instances } = play(run);
        const room = run.perZone.map((count, z) => count * max - instances.filter((i) => i.desiredState === 'running' && !isTerminal(i.status.state) && i.node.startsWith(`z${z}-`)).length);
        for (let a = 0; a < after.length; a++) {
          for (let b = 0; b < after.length; b++) {
            assert.ok(!((after[a] ?? 0) - (after[b] ?? 0) >= 2 && (room[b] ?? 0) > 0), `zone ${a} runs ${after[a]}, zone ${b} ${after[b]} with room for ${room[b]} (${after.join('/')})`);
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});
