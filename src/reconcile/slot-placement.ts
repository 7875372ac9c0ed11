import type { Instance, NodeInfo, ServiceDeployment, ServiceSpec, UpdateStatus } from '../model/index.js';
import { INSTANCE_REMOVED_REASON, isTerminal, slotName } from '../model/index.js';
import type { NodeRejection, ServiceScheduler, Unschedulable } from './schedule.js';
import { spreadMoves } from './spread-moves.js';

/*
 * How planService's slots meet nodes (docs/scheduling.md): which instances their node lost, which must
 * leave their node (drain, constraints no longer met), which nodes a global service has slots on, and
 * where a slot's new instance goes (the scheduler, or a stateful slot's own node).
 */

/** A slot planService keeps; a global slot is tied to its node. */
export interface DesiredSlot {
  readonly slot: number;
  readonly node?: string;
}

/** A slot whose new instance fits no node (yet): the status note and the scheduler's reasons. */
export interface PendingSlot {
  readonly slot: number;
  /** "web-3 pending: no suitable node (…): node a is draining; …" — as the status message has it. */
  readonly message: string;
  readonly unschedulable: Unschedulable;
}

/** Why an instance's node cannot run it any more: down (not ready) or removed from the store. */
function lostWhy(node: NodeInfo | undefined, name: string): string | undefined {
  if (!node) return `node ${name} was removed`;
  if (!node.ready) return `node ${name} is down`;
  return undefined;
}

/** Slots 1..replicas of a replicated service (global slots: globalSlots); none for a network-only service. */
export function desiredSlots(spec: ServiceSpec): DesiredSlot[] {
  if (spec.containers.length === 0) return []; // a network-only service: ExternalName or hand-set endpoints
  return Array.from({ length: spec.replicas }, (_, i) => ({ slot: i + 1 }));
}

/** The desired slot of that number (a global slot carries its node), or the bare number. */
export function slotOf(slot: number, slots: readonly DesiredSlot[]): DesiredSlot {
  return slots.find((s) => s.slot === slot) ?? { slot };
}

/** Whether a stateful slot may start elsewhere than where its data is (spec.placement.moveStatefulSlots). */
export function movesStateful(spec: ServiceSpec): boolean {
  return spec.placement?.moveStatefulSlots === true;
}

/**
 * Instances whose node is down or gone and that are replaced elsewhere, id → why (Swarm's orchestrator
 * restarts the tasks of a down node's replicated services; Nomad marks them lost and reschedules):
 * replicated instances on a down or removed node, and any instance on a removed node (a global slot's
 * node that left). Stateful slots stay unless the service moves them (their data is on that node);
 * a global slot waits for its node while the node is down. Nothing is lost while no node is known
 * (a store that has not heard from any agent yet tells nothing about them).
 */
export function lostInstances(spec: ServiceSpec, instances: readonly Instance[], nodes: ReadonlyMap<string, NodeInfo>): Map<string, string> {
  const out = new Map<string, string>();
  if (nodes.size === 0) return out;
  if (spec.stateful && !movesStateful(spec)) return out;
  for (const i of instances) {
    if (isTerminal(i.status.state)) continue;
    const node = nodes.get(i.node);
    const why = lostWhy(node, i.node);
    if (why === undefined) continue;
    if (spec.mode === 'global' && node !== undefined) continue; // down: the slot waits for its node
    out.set(i.id, why);
  }
  return out;
}

/**
 * The instance as planService sees it once its node is lost: ended and stopped on purpose, so that the
 * slot gets a new instance at once (no restart back-off) while the record stays (when the node comes
 * back, its agent stops the instance: its desired state is shutdown).
 */
export function asLost(i: Instance): Instance {
  return { ...i, desiredState: 'shutdown', status: { ...i.status, state: 'shutdown' } };
}

/**
 * Why a live instance must leave its node although the node is up: the node drains, or it no longer
 * meets the service's constraints, platforms or driver (swarmkit's constraint enforcer). Undefined: it stays.
 */
export function leaveWhy(i: Instance, scheduler: ServiceScheduler): NodeRejection | undefined {
  const node = scheduler.node(i.node);
  if (!node || !node.ready) return undefined;
  const r = scheduler.check(node, { existing: true });
  return r && r.filter !== 'ready' ? r : undefined;
}

/**
 * The live instances of a replicated service (those stopping too: the rollout waits until they ended)
 * whose node, although up, no longer meets the deployed placement: a constraint or platform it fails
 * (the first such filter's reason), or more instances of the service on the node than
 * `maxReplicasPerNode` (those of the highest slots beyond it, among those meant to run), and with
 * `respread` (a deploy changed the spread preferences, and its rollout has not completed) those that
 * make the spread uneven (spreadMoves, spread-moves.ts). A draining
 * node is not a reason here: leaving it is the node's business (leaveWhy), not the spec's. Swarm puts
 * placement in the task spec, so a change of it is a rolling update; planRollout counts `misplaced`
 * as outdated while the deployment's rollout runs (docs/rollouts.md, "Placement changes").
 * @returns `misplaced`: id → why ("node a does not meet node.labels.zone==b (it has
 *   node.labels.zone=a)"), the instances to move; `staying`: the notes of stateful slots that stay
 *   where their data is (unless the spec sets placement.moveStatefulSlots, then they are in `misplaced`)
 */
export function misplacedInstances(
  spec: ServiceSpec,
  live: readonly Instance[],
  ctx: { readonly scheduler: ServiceScheduler; readonly nodes: readonly NodeInfo[]; readonly desired: number; readonly respread?: boolean },
): { misplaced: Map<string, string>; staying: string[] } {
  const { scheduler } = ctx;
  const out = new Map<string, string>();
  const staying: string[] = [];
  if (spec.mode !== 'replicated' || spec.placement === undefined) return { misplaced: out, staying };
  const fits: Instance[] = [];
  for (const i of live) {
    const node = scheduler.node(i.node);
    if (!node || !node.ready) continue;
    const r = scheduler.check(node, { existing: true });
    if (r && (r.filter === 'constraints' || r.filter === 'platform')) out.set(i.id, r.message);
    else if (i.desiredState === 'running') fits.push(i); // maxReplicasPerNode counts those meant to stay
  }
  const max = spec.placement.maxReplicasPerNode ?? 0;
  if (max > 0) {
    const byNode = new Map<string, Instance[]>();
    for (const i of fits) {
      const list = byNode.get(i.node);
      if (list) list.push(i);
      else byNode.set(i.node, [i]);
    }
    for (const [node, list] of byNode) {
      if (list.length <= max) continue;
      // The lowest slots keep their place, as scale-down removes the highest.
      const sorted = [...list].sort((a, b) => a.slot - b.slot || (a.createdAt < b.createdAt ? -1 : 1));
      for (const i of sorted.slice(max)) out.set(i.id, `node ${node} runs ${list.length} instance(s) of ${spec.name} (maxReplicasPerNode ${max})`);
    }
  }
  if (ctx.respread === true) {
    for (const [id, why] of spreadMoves({ spec, nodes: ctx.nodes, live, leaving: new Set(out.keys()), scheduler, desired: ctx.desired })) out.set(id, why);
  }
  if (!spec.stateful || movesStateful(spec) || out.size === 0) return { misplaced: out, staying };
  for (const i of live) {
    const why = out.get(i.id);
    if (why !== undefined && i.desiredState === 'running') staying.push(`${slotName(spec.name, i.slot)} stays on node ${i.node} (${why}): its data is there (placement.moveStatefulSlots moves it)`);
  }
  return { misplaced: new Map(), staying };
}

/**
 * The slots of a global service: one per node that may run it (swarmkit's global orchestrator). A node
 * keeps the slot of its newest instance, so slot numbers stay with their node while nodes join and
 * leave; a node without one gets the lowest number no instance of the service ever had (a number whose
 * instances ran on another node is never reused for a new node). A node that passes every filter but
 * lacks the resources gets its slot too (pending, with the reason). A node keeps its slot while it is
 * paused or down with the instance on it; it loses it when it drains, is removed or stops meeting the
 * placement (`leaving` says why, by slot).
 */
export function globalSlots(bySlot: ReadonlyMap<number, readonly Instance[]>, scheduler: ServiceScheduler, nodes: readonly NodeInfo[]): { slots: DesiredSlot[]; leaving: Map<number, string> } {
  const slotOfNode = new Map<string, number>();
  for (const slot of [...bySlot.keys()].sort((a, b) => a - b)) {
    const n = bySlot.get(slot)?.[0]?.node;
    if (n !== undefined && !slotOfNode.has(n)) slotOfNode.set(n, slot);
  }
  const slots: DesiredSlot[] = [];
  const leaving = new Map<number, string>();
  const used = new Set(bySlot.keys());
  let next = 1;
  for (const node of [...nodes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const slot = slotOfNode.get(node.name);
    const live = slot !== undefined && (bySlot.get(slot) ?? []).some((i) => !isTerminal(i.status.state) && i.node === node.name);
    const rejection = scheduler.check(node, { existing: live });
    if (slot !== undefined && live && (rejection === undefined || rejection.filter === 'ready')) {
      slots.push({ slot, node: node.name });
    } else if (rejection === undefined || rejection.filter === 'resources') {
      // A node short of resources still gets its slot: the slot stays pending with the reason (Swarm's
      // global task "insufficient resources on 1 node"), and starts once room is made.
      if (slot !== undefined) {
        slots.push({ slot, node: node.name });
      } else {
        while (used.has(next)) next++;
        used.add(next);
        slots.push({ slot: next, node: node.name });
      }
    } else if (slot !== undefined && live) {
      leaving.set(slot, rejection.message);
    }
  }
  for (const [node, slot] of slotOfNode) if (!scheduler.node(node)) leaving.set(slot, `node ${node} was removed`);
  return { slots: slots.sort((a, b) => a.slot - b.slot), leaving };
}

/**
 * Where a slot's new instance goes: a global slot's node; a stateful slot's node (where its newest
 * instance ran: the data is there), unless that node is down, gone, draining or no longer meets the
 * placement and the service moves stateful slots; otherwise the scheduler's pick. `avoid` is a node the slot is leaving;
 * `leaveHome`: the rollout stopped the slot's instance to move it (moveStatefulSlots), so its node is not its home.
 * @returns the node, or the slot's pending note and the scheduler's reasons
 */
export function placeSlot(
  slot: DesiredSlot,
  ctx: { readonly spec: ServiceSpec; readonly scheduler: ServiceScheduler; readonly history: readonly Instance[]; readonly avoid?: string; readonly leaveHome?: boolean },
): { readonly node: string } | PendingSlot {
  const { spec, scheduler } = ctx;
  const who = slotName(spec.name, slot.slot);
  const pending = (what: string, unschedulable: Unschedulable): PendingSlot => ({ slot: slot.slot, message: `${who} ${what}: ${unschedulable.message}`, unschedulable });
  if (slot.node !== undefined) {
    const node = scheduler.node(slot.node);
    const r = node ? scheduler.check(node) : { node: slot.node, filter: 'ready' as const, message: `node ${slot.node} was removed` };
    return r ? pending('pending', { message: r.message, nodes: [r] }) : { node: slot.node };
  }
  const home = spec.stateful && ctx.leaveHome !== true ? ctx.history[0]?.node : undefined;
  if (home !== undefined) {
    const node = scheduler.node(home);
    const r = node ? scheduler.check(node, { home: true }) : { node: home, filter: 'ready' as const, message: `node ${home} was removed` };
    if (!r) return { node: home };
    // Its node is gone, down, draining, or no longer meets the placement: a slot that moves goes elsewhere.
    const away = r.filter === 'ready' || (r.filter === 'available' && node?.availability === 'drain') || r.filter === 'constraints' || r.filter === 'platform';
    if (!(away && movesStateful(spec))) {
      const hint = away ? ' (placement.moveStatefulSlots starts it elsewhere with an empty data directory)' : '';
      return pending(`waits for node ${home}, where its data is${hint}`, { message: r.message, nodes: [r] });
    }
  }
  const picked = scheduler.pick(ctx.avoid !== undefined ? { avoid: ctx.avoid } : {});
  return 'node' in picked ? picked : pending('pending', picked.unschedulable);
}

/**
 * The node a stateful slot's instance was stopped on to move it — by the rollout (`update`, running) of
 * a placement or spread change, in a service that moves stateful slots — or undefined. Its new
 * instance starts elsewhere (placeSlot's `leaveHome`), not back on the node it left: `last` is the
 * slot's newest instance, stopped on purpose (not removed by the user), of the deployed template
 * (`current`), created before the deploy request.
 */
export function movedOff(
  deployment: ServiceDeployment,
  slot: { readonly last: Instance | undefined; readonly current: (i: Instance) => boolean; readonly update: UpdateStatus },
): string | undefined {
  const { last, update } = slot;
  const spec = deployment.spec;
  if (!spec.stateful || !movesStateful(spec) || last === undefined || (update.state !== 'updating' && update.state !== 'rollback_started')) return undefined;
  const stopped = last.desiredState === 'shutdown' && last.desiredReason !== INSTANCE_REMOVED_REASON && slot.current(last);
  return stopped && Date.parse(last.createdAt) < Date.parse(deployment.requestedAt) ? last.node : undefined;
}

/**
 * The status notes of pending slots: one per reason, naming the first slot ("web-3 pending: …", or
 * "web-3 and 2 more slot(s) pending: …"), so that six replicas that fit nowhere are one note.
 */
export function pendingNotes(service: string, pending: readonly PendingSlot[]): string[] {
  const byText = new Map<string, PendingSlot[]>();
  for (const p of pending) {
    const head = slotName(service, p.slot);
    const text = p.message.startsWith(`${head} `) ? p.message.slice(head.length + 1) : p.message;
    const same = byText.get(text);
    if (same) same.push(p);
    else byText.set(text, [p]);
  }
  return [...byText.entries()].map(([text, list]) => {
    const head = slotName(service, (list[0] as PendingSlot).slot);
    return list.length === 1 ? `${head} ${text}` : `${head} and ${list.length - 1} more slot(s) ${text}`;
  });
}
