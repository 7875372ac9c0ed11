import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Instance, NodeInfo, Service } from '../model/index.js';
import { isTerminal } from '../model/index.js';
import { planService } from './plan-service.js';
import { indexUsage, reservationOf } from './schedule.js';
import { node, service, T0 } from '../../test/fixtures.js';

/*
 * The scheduler's invariants over whole histories: a service is planned, the plan applied (new
 * instances run at once, stopped ones end when their node can say so), while nodes go down, come back,
 * drain, pause and become active again at random.
 */

const NOW = T0 + 60_000;
type Op = 'down' | 'up' | 'drain' | 'pause' | 'active' | 'none';

interface World {
  nodes: NodeInfo[];
  instances: Instance[];
  seq: number;
}

function applyOp(w: World, index: number, op: Op): void {
  const target = w.nodes[index % w.nodes.length] as NodeInfo;
  w.nodes = w.nodes.map((n) => {
    if (n !== target) return n;
    if (op === 'down') return { ...n, ready: false };
    if (op === 'up') return { ...n, ready: true };
    if (op === 'drain' || op === 'pause' || op === 'active') return { ...n, availability: op };
    return n;
  });
  if (op === 'up') {
    // The node's agent is back: it stops what the controller stopped meanwhile (fencing).
    w.instances = w.instances.map((i) => (i.node === target.name && i.desiredState === 'shutdown' && !isTerminal(i.status.state) ? { ...i, status: { ...i.status, state: 'shutdown' } } : i));
  }
}

function step(w: World, svc: Service): void {
  const plan = planService(svc, w.instances, { now: NOW, nodes: w.nodes, usage: indexUsage(w.instances) });
  const up = new Set(w.nodes.filter((n) => n.ready).map((n) => n.name));
  const stop = new Set([...plan.shutdown.map((s) => s.id), ...plan.retire]);
  const gone = new Set(plan.remove);
  w.instances = w.instances
    .filter((i) => !gone.has(i.id))
    .map((i) => (stop.has(i.id) ? { ...i, desiredState: 'shutdown' as const, status: up.has(i.node) ? { ...i.status, state: 'shutdown' as const } : i.status } : i));
  for (const c of plan.create) {
    w.seq++;
    const at = new Date(T0 + w.seq).toISOString();
    w.instances.push({
      id: `web-${c.slot}-${w.seq}`, grid: 'default', service: 'web', serviceId: 'svc-1', slot: c.slot, node: c.node, generation: 1, restartGeneration: 0,
      restarts: c.restarts, version: w.seq, createdAt: at, desiredState: 'running',
      spec: { containers: svc.deployment?.spec.containers ?? [], address: '', restartPolicy: svc.spec.restartPolicy, env: {} },
      status: { state: 'running', timestamp: at, message: 'running', startedAt: at },
    });
  }
}

const live = (i: Instance): boolean => !isTerminal(i.status.state);

describe('scheduling properties', () => {
  const arbitrary = fc.record({
    cpus: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }),
    replicas: fc.integer({ min: 0, max: 9 }),
    maxPerNode: fc.integer({ min: 0, max: 3 }),
    reserve: fc.constantFrom(0, 0.5, 1, 1.5),
    stateful: fc.boolean(),
    ops: fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.constantFrom<Op>('down', 'up', 'drain', 'pause', 'active', 'none')), { maxLength: 10 }),
  });

  it('never places more instances on a node than maxReplicasPerNode, never reserves past capacity, never runs a slot twice', () => {
    fc.assert(
      fc.property(arbitrary, ({ cpus, replicas, maxPerNode, reserve, stateful, ops }) => {
        const svc = service({
          replicas, stateful,
          containers: [{ image: 'nginx:1.27', resources: { reservations: reserve > 0 ? { cpus: reserve } : {} } }],
          ...(maxPerNode > 0 ? { placement: { maxReplicasPerNode: maxPerNode } } : {}),
        });
        const w: World = { nodes: cpus.map((c, k) => node(`n${k}`, { drivers: ['process', 'docker'], capacity: { cpus: c, memoryBytes: 1024 ** 3 } })), instances: [], seq: 0 };
        for (const [index, op] of [[0, 'none'] as const, ...ops]) {
          applyOp(w, index, op);
          step(w, svc);
          step(w, svc); // a second pass: start-first moves stop their old instance
          for (const n of w.nodes) {
            const here = w.instances.filter((i) => i.node === n.name && live(i));
            if (maxPerNode > 0) assert.ok(here.filter((i) => i.desiredState === 'running').length <= maxPerNode, `${n.name} runs more than ${maxPerNode}`);
            const milli = here.reduce((sum, i) => sum + reservationOf(i.spec.containers).milliCpus, 0);
            assert.ok(milli <= n.capacity.cpus * 1000, `${n.name} reserves ${milli}m of ${n.capacity.cpus} CPUs`);
          }
          const usable = new Set(w.nodes.filter((n) => n.ready && n.availability !== 'drain').map((n) => n.name));
          for (let slot = 1; slot <= Math.max(replicas, ...w.instances.map((i) => i.slot)); slot++) {
            const running = w.instances.filter((i) => i.slot === slot && live(i) && i.desiredState === 'running');
            assert.ok(running.filter((i) => usable.has(i.node)).length <= 1, `slot ${slot} runs twice: ${running.map((i) => i.node).join(', ')}`);
            assert.ok(running.length <= 2, `slot ${slot} has ${running.length} instances meant to run`);
          }
        }
      }),
      { numRuns: 150 },
    );
  });

  it('heals: once every node is up and active, every slot that fits runs', () => {
    fc.assert(
      fc.property(arbitrary, ({ cpus, replicas, ops }) => {
        const svc = service({ replicas });
        const w: World = { nodes: cpus.map((c, k) => node(`n${k}`, { capacity: { cpus: c, memoryBytes: 1024 ** 3 } })), instances: [], seq: 0 };
        for (const [index, op] of ops) {
          applyOp(w, index, op);
          step(w, svc);
        }
        for (let k = 0; k < w.nodes.length; k++) {
          applyOp(w, k, 'up');
          applyOp(w, k, 'active');
        }
        for (let k = 0; k < 3; k++) step(w, svc);
        const slots = new Set(w.instances.filter((i) => live(i) && i.desiredState === 'running').map((i) => i.slot));
        assert.equal(slots.size, replicas);
      }),
      { numRuns: 100 },
    );
  });
});
