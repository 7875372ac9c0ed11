import type { Instance, NodeInfo, Service, SpecLimits, WhatIfChange, WhatIfMove, WhatIfPending, WhatIfPlan, WhatIfService, WhatIfWaiting } from '../model/index.js';
import { NodeNotFoundError, RequestInvalidError, isTerminal, serviceKey } from '../model/index.js';
import type { UsageIndex } from './schedule.js';
import { indexUsage } from './schedule.js';
import type { ServicePlan } from './plan-service.js';
import { planService } from './plan-service.js';
import { rolloutConfig } from './rollout.js';

/*
 * What-if planning (`berth plan --fail-node N | --drain N | --add-node LABELS`): the controller's own
 * code — planService with the scheduler, over every service in the controller's order, each pass
 * seeing the instances the passes before it placed — run on a copy of the cluster with one change, then
 * again as if every new instance became ready and every stopped one ended, until nothing changes. The
 * difference between the slots' nodes before and after is the answer; nothing is written. No peer has
 * it: Nomad's `job plan` dry-runs one job's update, not a node's failure.
 */

/** The cluster as the store has it now. */
export interface ClusterSnapshot {
  /** Every service, in the order the controller's full pass takes them (the store's list order). */
  readonly services: readonly Service[];
  /** Every instance of every service (ended ones too: the restart policy and slot history read them). */
  readonly instances: readonly Instance[];
  readonly nodes: readonly NodeInfo[];
  /** Epoch ms. */
  readonly now: number;
  readonly limits?: SpecLimits;
}

/** Passes simulated at most: a drain takes two (start, then stop), a stateful move three. */
export const MAX_ROUNDS = 8;

/**
 * The plan of one hypothetical change (see the file's comment). Pure: the snapshot is not modified.
 * @throws NodeNotFoundError for fail-node/drain of an unknown node; RequestInvalidError for add-node of a name taken
 */
export function planWhatIf(snapshot: ClusterSnapshot, change: WhatIfChange): WhatIfPlan {
  const nodes = applyChange(snapshot.nodes, change);
  const before = slotNodes(snapshot.instances);
  // What the controller would do anyway (a rollout under way, a slot that fits now): not the change's doing.
  const base = simulate(snapshot, byName(snapshot.nodes), before);
  const out = simulate(snapshot, nodes, before);

  const moves: WhatIfMove[] = [];
  const starts: WhatIfMove[] = [];
  const stops: WhatIfMove[] = [];
  const keys = [...new Set([...before.keys(), ...out.after.keys(), ...base.after.keys()])].sort();
  for (const key of keys) {
    const from = before.get(key) ?? null;
    const to = out.after.get(key) ?? null;
    if (from === to || to === (base.after.get(key) ?? null) || out.pending.has(key)) continue;
    const row = { ...slotOfKey(key), from, to, reason: out.reasons.get(key) ?? '' };
    if (from !== null && to !== null) moves.push(row);
    else if (to !== null) starts.push(row);
    else stops.push(row);
  }
  const pending = [...out.pending].filter(([k, p]) => base.pending.get(k)?.message !== p.message).map(([, p]) => p);
  const waiting = [...out.waiting].filter(([k, w]) => base.waiting.get(k)?.reason !== w.reason).map(([, w]) => w);

  const services: WhatIfService[] = [];
  for (const s of snapshot.services) {
    const key = serviceKey(s.grid, s.name);
    const lowest = out.lowest.get(key);
    const final = out.last.get(key)?.status;
    if (lowest === undefined || !final || !s.deployment || s.desired !== 'running') continue;
    const desired = final.desiredInstances;
    const readyBefore = base.first.get(key)?.status.runningInstances ?? 0;
    const minHealth = rolloutConfig(s.deployment).minHealth;
    const floor = minHealth === undefined ? 0 : Math.ceil(desired * minHealth - 1e-9);
    const row: WhatIfService = {
      grid: s.grid, service: s.name, desired, readyBefore,
      readyDuring: lowest, readyAfter: final.runningInstances,
      ...(minHealth !== undefined ? { minHealth } : {}),
      belowReplicas: lowest < desired || final.runningInstances < desired,
      belowMinHealth: minHealth !== undefined && Math.min(lowest, final.runningInstances) < floor,
    };
    // Only services the change makes worse (one already short for reasons of its own is not news).
    if (row.readyDuring < readyBefore || row.readyAfter < readyBefore) services.push(row);
  }
  return {
    change,
    nodes: nodes.map((n) => ({ name: n.name, ready: n.ready, availability: n.availability })),
    moves, starts, stops, pending, waiting, services, rounds: out.rounds, settled: out.settled,
  };
}

/** What the controller's passes do to a cluster with these nodes, until nothing changes (or MAX_ROUNDS). */
interface Outcome {
  /** The first pass's plans (right after the change), by serviceKey. */
  readonly first: ReadonlyMap<string, ServicePlan>;
  /** The fewest ready instances any pass saw, by serviceKey. */
  readonly lowest: ReadonlyMap<string, number>;
  /** The last pass's plans (once settled). */
  readonly last: ReadonlyMap<string, ServicePlan>;
  /** `grid/service#slot` → the node its instance runs on once settled. */
  readonly after: ReadonlyMap<string, string>;
  /** `grid/service#slot` → the reason of the first create or stop planned for it. */
  readonly reasons: ReadonlyMap<string, string>;
  readonly pending: ReadonlyMap<string, WhatIfPending>;
  readonly waiting: ReadonlyMap<string, WhatIfWaiting>;
  readonly rounds: number;
  readonly settled: boolean;
}

function simulate(snapshot: ClusterSnapshot, nodes: readonly NodeInfo[], before: ReadonlyMap<string, string>): Outcome {
  const sim = new Simulation(snapshot, nodes);
  const first = sim.pass();
  let rounds = 1;
  let changed = first.changed;
  let last = first.plans;
  const lowest = new Map<string, number>();
  const low = (plans: ReadonlyMap<string, ServicePlan>): void => {
    for (const [k, p] of plans) lowest.set(k, Math.min(lowest.get(k) ?? Infinity, p.status.runningInstances));
  };
  low(first.plans);
  while (changed && rounds < MAX_ROUNDS) {
    sim.settle();
    const next = sim.pass();
    rounds++;
    changed = next.changed;
    last = next.plans;
    low(last);
  }
  if (changed) sim.settle();
  const after = slotNodes(sim.instances);
  const reasons = new Map(first.reasons);
  for (const [k, r] of sim.reasons) if (!reasons.has(k)) reasons.set(k, r);

  const pending = new Map<string, WhatIfPending>();
  for (const s of snapshot.services) {
    for (const p of last.get(serviceKey(s.grid, s.name))?.pending ?? []) {
      pending.set(`${serviceKey(s.grid, s.name)}#${p.slot}`, { grid: s.grid, service: s.name, slot: p.slot, message: p.message, nodes: p.unschedulable.nodes });
    }
  }
  // Slots that stay where they are although their node is down, gone or draining (and are not pending).
  const waiting = new Map<string, WhatIfWaiting>();
  for (const [key, node] of after) {
    if (before.get(key) !== node || pending.has(key)) continue;
    const n = nodes.find((x) => x.name === node);
    const reason = n === undefined ? `node ${node} is gone` : !n.ready ? `node ${node} is down` : n.availability === 'drain' ? `node ${node} is draining` : undefined;
    if (reason !== undefined) waiting.set(key, { ...slotOfKey(key), node, reason });
  }
  return { first: first.plans, lowest, last, after, reasons, pending, waiting, rounds, settled: !changed };
}

function slotOfKey(key: string): { grid: string; service: string; slot: number } {
  const hash = key.lastIndexOf('#');
  const svc = key.slice(0, hash);
  const slash = svc.indexOf('/');
  return { grid: svc.slice(0, slash), service: svc.slice(slash + 1), slot: Number(key.slice(hash + 1)) };
}

/** Nodes sorted by name, as the controller passes them. */
function byName(nodes: readonly NodeInfo[]): NodeInfo[] {
  return [...nodes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The node list with the change applied (sorted by name, as the controller passes it). */
export function applyChange(nodes: readonly NodeInfo[], change: WhatIfChange): NodeInfo[] {
  const sorted = byName(nodes);
  if (change.kind === 'add-node') {
    let name = change.name ?? 'new-node';
    if (change.name !== undefined && nodes.some((n) => n.name === name)) throw new RequestInvalidError(`node "${name}" exists already: name the added node otherwise`, { name });
    for (let k = 2; nodes.some((n) => n.name === name); k++) name = `new-node-${k}`;
    const like = sorted[0];
    const added: NodeInfo = {
      name, address: '', drivers: change.drivers ?? like?.drivers ?? ['process'], labels: change.labels ?? {}, availability: 'active',
      os: like?.os ?? 'linux', arch: like?.arch ?? 'x86_64', capacity: change.capacity ?? like?.capacity ?? { cpus: 1, memoryBytes: 1024 ** 3 },
      ready: true, heartbeatAt: like?.heartbeatAt ?? new Date(0).toISOString(), version: 0,
    };
    return byName([...sorted, added]);
  }
  if (!nodes.some((n) => n.name === change.node)) throw new NodeNotFoundError(change.node);
  return sorted.map((n) => (n.name !== change.node ? n : change.kind === 'fail-node' ? { ...n, ready: false } : { ...n, availability: 'drain' }));
}

/** `grid/service#slot` → the node of the slot's newest instance that is meant to run and has not ended. */
function slotNodes(instances: readonly Instance[]): Map<string, string> {
  const out = new Map<string, { node: string; at: string; version: number }>();
  for (const i of instances) {
    if (i.desiredState !== 'running' || isTerminal(i.status.state)) continue;
    const key = `${serviceKey(i.grid, i.service)}#${i.slot}`;
    const seen = out.get(key);
    if (!seen || i.createdAt > seen.at || (i.createdAt === seen.at && i.version > seen.version)) out.set(key, { node: i.node, at: i.createdAt, version: i.version });
  }
  return new Map([...out].map(([k, v]) => [k, v.node]));
}

/** The cluster being planned: services and instances as the controller's writes would leave them. */
class Simulation {
  instances: Instance[];
  private services: Service[];
  private seq = 0;
  /** `grid/service#slot` → the reason of the latest create or stop planned for it. */
  readonly reasons = new Map<string, string>();
  private readonly pendingStops = new Set<string>();
  private usage: UsageIndex | undefined;

  constructor(
    private readonly snapshot: ClusterSnapshot,
    private readonly nodes: readonly NodeInfo[],
  ) {
    this.instances = [...snapshot.instances];
    this.services = [...snapshot.services];
    this.seq = Math.max(0, ...snapshot.instances.map((i) => i.version));
  }

  /** One pass of the controller over every service: plan, then write what it planned. */
  pass(): { plans: Map<string, ServicePlan>; changed: boolean; reasons: Map<string, string> } {
    const plans = new Map<string, ServicePlan>();
    const reasons = new Map<string, string>();
    let changed = false;
    this.services = this.services.map((service) => {
      const key = serviceKey(service.grid, service.name);
      const mine = this.instances.filter((i) => i.grid === service.grid && i.service === service.name);
      // As the controller: built from every active instance when a placement needs it, again after each write.
      const usage = (): UsageIndex => (this.usage ??= indexUsage(this.instances));
      const plan = planService(service, mine, { now: this.snapshot.now, nodes: this.nodes, usage, ...(this.snapshot.limits ? { limits: this.snapshot.limits } : {}) });
      plans.set(key, plan);
      if (plan.create.length + plan.shutdown.length + plan.retire.length > 0) changed = true;
      this.write(service, plan, reasons);
      return { ...service, status: { ...plan.status, updatedAt: new Date(this.snapshot.now).toISOString() } };
    });
    for (const [k, r] of reasons) this.reasons.set(k, r);
    return { plans, changed, reasons };
  }

  /** Between passes: new instances became ready, stopped ones ended (where their node can say so). */
  settle(): void {
    const up = new Set(this.nodes.filter((n) => n.ready).map((n) => n.name));
    this.instances = this.instances.map((i) => {
      if (this.pendingStops.has(i.id) && up.has(i.node) && !isTerminal(i.status.state)) {
        return { ...i, status: { ...i.status, state: 'shutdown', finishedAt: new Date(this.snapshot.now).toISOString() } };
      }
      if (i.id.startsWith('what-if-') && i.status.state === 'new' && i.desiredState === 'running') {
        return { ...i, status: { ...i.status, state: 'running', startedAt: new Date(this.snapshot.now).toISOString(), message: 'simulated' } };
      }
      return i;
    });
    this.pendingStops.clear();
    this.usage = undefined;
  }

  private write(service: Service, plan: ServicePlan, reasons: Map<string, string>): void {
    if (plan.create.length + plan.shutdown.length + plan.retire.length > 0) this.usage = undefined;
    const key = serviceKey(service.grid, service.name);
    const stop = new Map(plan.shutdown.map((s) => [s.id, s.reason]));
    const retire = new Set(plan.retire);
    this.instances = this.instances.map((i) => {
      const why = stop.get(i.id);
      if (why !== undefined) {
        this.pendingStops.add(i.id);
        reasons.set(`${key}#${i.slot}`, why);
        return { ...i, desiredState: 'shutdown', desiredReason: why };
      }
      return retire.has(i.id) ? { ...i, desiredState: 'shutdown' } : i;
    });
    const dep = service.deployment;
    if (!dep) return;
    for (const c of plan.create) {
      this.seq++;
      reasons.set(`${key}#${c.slot}`, c.reason);
      const at = new Date(this.snapshot.now).toISOString();
      this.instances.push({
        id: `what-if-${service.name}-${c.slot}-${this.seq}`, grid: service.grid, service: service.name, serviceId: service.id, slot: c.slot, node: c.node,
        generation: dep.generation, restartGeneration: dep.restartGeneration, restarts: c.restarts, version: this.seq, createdAt: at,
        spec: { containers: dep.spec.containers, address: '', restartPolicy: dep.spec.restartPolicy, env: {} },
        desiredState: 'running',
        status: { state: 'new', timestamp: at, message: 'what-if' },
      });
    }
  }
}
