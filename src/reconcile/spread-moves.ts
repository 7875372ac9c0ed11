import type { Instance, NodeInfo, Service, ServiceDeployment, ServiceSpec } from '../model/index.js';
import type { ServiceScheduler } from './schedule.js';

/*
 * A deploy that changes the spread preferences (`placement.preferences`, Swarm's `--placement-pref
 * spread=node.labels.zone`) rolls out by moving just enough instances that the spread over the new
 * labels is as even as the scheduler would place them from scratch (docs/rollouts.md, "Spread
 * changes"). Swarm re-creates every task on such an update; berth moves an instance only from a group
 * that runs at least two more than another group that can take one (at the first spread level where
 * the two differ), which is the evenness the scheduler's ranking reaches when it places them one by
 * one. Pure, as everything in reconcile/.
 */

export interface SpreadInput {
  readonly spec: ServiceSpec;
  /** Every node the store knows (the scheduler's). */
  readonly nodes: readonly NodeInfo[];
  /**
   * The live instances of the desired slots that run the deployed template (current), those stopping
   * too: a slot with a stopping instance counts where its replacement goes, not where it was.
   */
  readonly live: readonly Instance[];
  /** Instances leaving their node anyway (a constraint, maxReplicasPerNode): they count nowhere. */
  readonly leaving: ReadonlySet<string>;
  /**
   * How many slots the service should run. Those without an instance that stays where it runs (empty,
   * stopping, outdated, leaving) get one where the scheduler ranks best: they count there first.
   */
  readonly desired: number;
  readonly scheduler: ServiceScheduler;
}

/**
 * Whether the service's rollout evens its spread out now: its deployment changed the spread preferences
 * (ServiceDeployment.spreadChanged, set by the store) and the rollout of that deployment has not
 * completed. Once it completed nothing is moved for the spread (no rebalancing: docs/scheduling.md).
 */
export function respreads(service: Service & { readonly deployment: ServiceDeployment }): boolean {
  const update = service.status.update;
  const done = update?.requestedAt === service.deployment.requestedAt && (update.state === 'completed' || update.state === 'rollback_completed');
  return service.deployment.spreadChanged === true && !done;
}

/** A spread level's label value as messages show it (nodes without the label share ""). */
function shown(value: string): string {
  return value === '' ? '(no value)' : value;
}

/**
 * The instances to move so that the spread is even, id → why (`spread over node.labels.zone: a runs 3
 * instance(s), b 1`), for planRollout to replace as outdated (misplacedInstances). Chosen greedily, as
 * the scheduler would undo the imbalance: the biggest difference at the shallowest level first; from a
 * group, the node that runs the most (then the one with the highest slot), and its highest slot (as
 * scale-down removes the highest).
 * Counted are the instances meant to run (desired running) on nodes that keep them (up, not draining,
 * meeting the placement), then the slots without one (empty, stopping, outdated, leaving), each where
 * the scheduler will place it (the emptiest group with room) — so a stop-first move whose instance
 * ended is not taken for a group short of one; a group can take as many as its nodes' room under maxReplicasPerNode
 * (resources are the scheduler's to check when it places). A start-first move under way (a slot
 * with an older live instance than its newest) stays chosen: its older instance counts nowhere and
 * is returned again, so the choice does not flip between passes.
 * Empty without preferences, for a global service (one instance per node), and on one group.
 */
export function spreadMoves(input: SpreadInput): Map<string, string> {
  const { spec, scheduler } = input;
  const out = new Map<string, string>();
  const prefs = spec.placement?.preferences ?? [];
  if (prefs.length === 0 || spec.mode !== 'replicated') return out;
  const keepsOn = new Map<string, boolean>();
  const keeps = (name: string): boolean => {
    let k = keepsOn.get(name);
    if (k === undefined) {
      const n = scheduler.node(name);
      keepsOn.set(name, (k = n !== undefined && n.ready && scheduler.check(n, { existing: true }) === undefined));
    }
    return k;
  };

  // Slots with a start-first move under way: their older live instances leave.
  const bySlot = new Map<number, Instance[]>();
  for (const i of input.live) {
    if (i.desiredState !== 'running' || input.leaving.has(i.id)) continue;
    const list = bySlot.get(i.slot);
    if (list) list.push(i);
    else bySlot.set(i.slot, [i]);
  }
  const leavingNow: Instance[] = [];
  /** Per node: the instances that may move, and how many count there. */
  const onNode = new Map<string, Instance[]>();
  const countOn = new Map<string, number>();
  for (const list of bySlot.values()) {
    list.sort((a, b) => (a.createdAt === b.createdAt ? b.version - a.version : a.createdAt < b.createdAt ? 1 : -1));
    const [newest, ...older] = list as [Instance, ...Instance[]];
    leavingNow.push(...older.filter((i) => keeps(i.node)));
    if (!keeps(newest.node)) continue;
    countOn.set(newest.node, (countOn.get(newest.node) ?? 0) + 1);
    if (older.length === 0) {
      const movable = onNode.get(newest.node);
      if (movable) movable.push(newest);
      else onNode.set(newest.node, [newest]);
    }
  }

  // Groups: counts at every level (by path prefix), and per leaf its movable instances and its room.
  const paths = new Map<string, readonly string[]>();
  const count = new Map<string, number>();
  const movable = new Map<string, { node: string; list: Instance[] }[]>();
  const room = new Map<string, number>();
  const max = spec.placement?.maxReplicasPerNode ?? 0;
  for (const n of input.nodes) {
    const path = scheduler.spreadGroups(n);
    const leaf = path[path.length - 1] as string;
    paths.set(leaf, path);
    const mine = countOn.get(n.name) ?? 0;
    for (const g of path) count.set(g, (count.get(g) ?? 0) + mine);
    const list = onNode.get(n.name);
    if (list) {
      const perLeaf = movable.get(leaf) ?? [];
      perLeaf.push({ node: n.name, list: list.sort((a, b) => b.slot - a.slot) });
      movable.set(leaf, perLeaf);
    }
    if (scheduler.check(n) === undefined) room.set(leaf, (room.get(leaf) ?? 0) + (max > 0 ? Math.max(0, max - scheduler.countOn(n.name)) : Infinity));
  }
  if (paths.size < 2) return out;

  // The slots the scheduler places in this pass or the next ones, where it would: the emptiest group with room.
  const key = (leaf: string): number[] => (paths.get(leaf) as readonly string[]).map((g) => count.get(g) ?? 0);
  let placed = 0;
  for (const list of bySlot.values()) if (keeps((list[0] as Instance).node)) placed++;
  for (let k = placed; k < input.desired; k++) {
    let to: string | undefined;
    for (const [leaf, free] of room) {
      if (free <= 0) continue;
      if (to === undefined || compare(key(leaf), key(to)) < 0 || (compare(key(leaf), key(to)) === 0 && leaf < to)) to = leaf;
    }
    if (to === undefined) break;
    for (const g of paths.get(to) as readonly string[]) count.set(g, (count.get(g) ?? 0) + 1);
    room.set(to, (room.get(to) ?? 0) - 1);
  }

  const whyOf = (from: readonly string[], to: readonly string[], level: number): string => {
    const value = (p: readonly string[]): string => shown((p[level] as string).split('\u0000')[level + 1] ?? '');
    return `spread over ${prefs[level]?.spread ?? ''}: ${value(from)} runs ${count.get(from[level] as string) ?? 0} instance(s), ${value(to)} ${count.get(to[level] as string) ?? 0}`;
  };
  for (const i of leavingNow) {
    // Its slot's newest instance runs elsewhere already (its stop then says `…: moved to node b1`).
    const newest = (bySlot.get(i.slot) ?? [])[0];
    const from = paths.get(leafOf(scheduler, input.nodes, i.node));
    const to = newest ? paths.get(leafOf(scheduler, input.nodes, newest.node)) : undefined;
    const level = from && to ? Math.max(0, from.findIndex((g, l) => g !== to[l])) : 0;
    out.set(i.id, `spread over ${prefs[level]?.spread ?? ''}`);
  }

  for (;;) {
    let best: { from: string; to: string; level: number; diff: number } | undefined;
    for (const [from, nodes] of movable) {
      if (!nodes.some((x) => x.list.length > 0)) continue;
      const fp = paths.get(from) as readonly string[];
      for (const [to, free] of room) {
        if (to === from || free <= 0) continue;
        const tp = paths.get(to) as readonly string[];
        const level = fp.findIndex((g, l) => g !== tp[l]);
        const diff = (count.get(fp[level] as string) ?? 0) - (count.get(tp[level] as string) ?? 0);
        if (diff < 2) continue;
        // Shallowest level first, then the biggest difference, then the emptiest receiver below it, then names.
        if (best === undefined || level < best.level || (level === best.level && (diff > best.diff || (diff === best.diff && deeper(tp, paths.get(best.to) as readonly string[], level, count) < 0)))) {
          best = { from, to, level, diff };
        }
      }
    }
    if (best === undefined) return out;
    const fp = paths.get(best.from) as readonly string[];
    const tp = paths.get(best.to) as readonly string[];
    const nodes = movable.get(best.from) as { node: string; list: Instance[] }[];
    nodes.sort((a, b) => b.list.length - a.list.length || (b.list[0]?.slot ?? 0) - (a.list[0]?.slot ?? 0));
    const moved = (nodes[0] as { list: Instance[] }).list.shift() as Instance;
    out.set(moved.id, whyOf(fp, tp, best.level));
    for (const g of fp) count.set(g, (count.get(g) ?? 0) - 1);
    for (const g of tp) count.set(g, (count.get(g) ?? 0) + 1);
    room.set(best.to, (room.get(best.to) ?? 0) - 1);
  }
}

/** The leaf group of a node by name ("" path for a node the store forgot). */
function leafOf(scheduler: ServiceScheduler, nodes: readonly NodeInfo[], name: string): string {
  const n = scheduler.node(name) ?? nodes.find((x) => x.name === name);
  if (!n) return '';
  const path = scheduler.spreadGroups(n);
  return path[path.length - 1] as string;
}

/** Compares two receivers below `level` by their counts, emptiest first (the scheduler's ranking). */
function deeper(a: readonly string[], b: readonly string[], level: number, count: ReadonlyMap<string, number>): number {
  for (let l = level; l < a.length; l++) {
    const d = (count.get(a[l] as string) ?? 0) - (count.get(b[l] as string) ?? 0);
    if (d !== 0) return d;
  }
  return a[a.length - 1] === b[b.length - 1] ? 0 : (a[a.length - 1] as string) < (b[b.length - 1] as string) ? -1 : 1;
}

function compare(a: readonly number[], b: readonly number[]): number {
  for (let k = 0; k < a.length; k++) {
    const d = (a[k] ?? 0) - (b[k] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
