import type { Instance, NewServiceEvent, NodeInfo, Service, ServiceDeployment, ServicePhase, SpecLimits, UpdateStatus } from '../model/index.js';
import { DEFAULT_SPEC_LIMITS, INSTANCE_REMOVED_REASON, deployStateOf, describeNetworkOnly, isReady, isTerminal, slotName } from '../model/index.js';
import { unrunnableReason } from './unrunnable.js';
import { describeEnd, restartDecision } from './restart-decision.js';
import { planRollout } from './rollout.js';

/** Swarm keeps 5 ended tasks per slot (`--task-history-limit`); so does berth. */
export const HISTORY_PER_SLOT = 5;

export interface PlanContext {
  /** Epoch ms. */
  readonly now: number;
  /** Nodes that can take instances, sorted by name. */
  readonly nodes: readonly NodeInfo[];
  /** The server's limits; a deployed spec past them is not run (default DEFAULT_SPEC_LIMITS). */
  readonly limits?: SpecLimits;
}

export interface PlannedCreate {
  readonly slot: number;
  readonly node: string;
  readonly restarts: number;
  readonly reason: string;
}

/** What one reconcile pass of a service wants done. The controller fills in ids and addresses. */
export interface ServicePlan {
  readonly create: readonly PlannedCreate[];
  readonly shutdown: readonly { readonly id: string; readonly reason: string }[];
  /** Ended instances whose slot gets a new instance: their desired state becomes shutdown (history). */
  readonly retire: readonly string[];
  /** Ended instances to forget (history beyond the limit, or everything once a removal is done). */
  readonly remove: readonly string[];
  readonly removeService: boolean;
  readonly status: {
    readonly phase: ServicePhase;
    readonly desiredInstances: number;
    readonly runningInstances: number;
    readonly observedGeneration: number;
    readonly message: string;
    readonly update?: UpdateStatus;
  };
  /** failureAction = rollback tripped: deploy this generation's spec again (if still the latest request). */
  readonly rollback?: { readonly toGeneration: number; readonly ifRequestedAt: string };
  readonly events: readonly NewServiceEvent[];
  /** Look at the service again after this long (a restart back-off is running). */
  readonly requeueAfterMs?: number;
}

/**
 * The pure reconciler of one service: from the service, every instance it has (ended ones too) and the
 * time, the plan that moves it one step closer to what its deployment asks. No I/O, no clock.
 *
 * - replicated: slots 1..replicas; global: one slot per ready node.
 * - an empty slot gets an instance at once, unless its last instance ended on its own: then the restart
 *   policy decides (restartDecision).
 * - stateful: slot N+1 is created only once slots 1..N are running; scale-down removes the highest slot
 *   first and one at a time; replacements go one at a time from the highest slot (StatefulSet order).
 * - instances of an older generation or restart generation are replaced in batches (planRollout: the
 *   update config's parallelism and minHealth, monitor, failure action), stop-first or start-first; a
 *   start-first slot stops its old instance once the new one is ready.
 * - an instance removed by the user (`service rm --instance`) is replaced at once, while it drains.
 * - scale-down removes the highest slots first.
 */
export function planService(service: Service, instances: readonly Instance[], ctx: PlanContext): ServicePlan {
  const create: PlannedCreate[] = [];
  const shutdown: { id: string; reason: string }[] = [];
  const events: NewServiceEvent[] = [];
  let requeueAfterMs: number | undefined;
  const notes: string[] = [];
  const wantRunning = (i: Instance): boolean => i.desiredState === 'running' && !isTerminal(i.status.state);
  const stop = (i: Instance, reason: string): void => {
    if (wantRunning(i)) shutdown.push({ id: i.id, reason });
  };

  const bySlot = groupBySlot(instances);
  const remove = trimHistory(bySlot);
  const retire: string[] = [];
  const base = { grid: service.grid, service: service.name };

  if (service.desired === 'removing' || service.deployment === null || service.desired === 'stopped') {
    const reason = service.desired === 'removing' ? 'service removed' : 'service stopped';
    instances.forEach((i) => stop(i, reason));
    const active = instances.filter((i) => !isTerminal(i.status.state)).length;
    if (service.desired === 'removing') {
      const done = active === 0;
      return {
        create, shutdown, retire, events, removeService: done,
        remove: done ? instances.map((i) => i.id) : remove,
        status: { phase: 'removing', desiredInstances: 0, runningInstances: countRunning(instances), observedGeneration: service.deployment?.generation ?? 0, message: done ? 'removed' : `stopping ${active} instance(s)` },
      };
    }
    // A service without containers has nothing to deploy: its network face serves once stored.
    const networkOnly = service.desired === 'running' && deployStateOf(service).kind === 'network-only';
    const phase: ServicePhase = networkOnly ? 'running' : service.deployment === null ? 'initialized' : 'stopped';
    const message = networkOnly
      ? describeNetworkOnly(service.spec)
      : service.deployment === null ? 'created; not deployed yet (run deploy)' : active > 0 ? `stopping ${active} instance(s)` : 'stopped';
    return { create, shutdown, retire, events, remove, removeService: false, status: { phase, desiredInstances: 0, runningInstances: countRunning(instances), observedGeneration: service.deployment?.generation ?? 0, message } };
  }

  // A deployed spec this server cannot run (a row stored before a limit was lowered, or edited by hand):
  // plan nothing proportional to it, touch no instance, and say why — the rest of the server carries on.
  const unrunnable = unrunnableReason({ name: service.name, deployment: service.deployment }, ctx.limits ?? DEFAULT_SPEC_LIMITS);
  if (unrunnable !== undefined) {
    if (service.status.phase !== 'failed' || service.status.message !== unrunnable) {
      events.push({ ...base, type: 'service.unrunnable', severity: 'error', message: unrunnable, data: { generation: service.deployment.generation } });
    }
    const asked: unknown = service.deployment.spec?.replicas;
    return {
      create, shutdown, retire, events, remove, removeService: false,
      status: {
        phase: 'failed',
        desiredInstances: typeof asked === 'number' && Number.isSafeInteger(asked) && asked >= 0 ? asked : 0,
        runningInstances: countRunning(instances),
        observedGeneration: service.status.observedGeneration,
        message: unrunnable,
      },
    };
  }

  const { spec, generation, restartGeneration } = service.deployment;
  // An instance is current when it runs the deployed containers and restart generation. Other spec
  // changes (replicas, restart policy, update config) do not replace instances, as a Deployment's
  // pod-template hash ignores its replica count.
  const template = JSON.stringify(spec.containers);
  const currentCache = new Map<string, boolean>();
  const current = (i: Instance): boolean => {
    let c = currentCache.get(i.id);
    if (c === undefined) {
      c = i.restartGeneration === restartGeneration && (i.generation === generation || JSON.stringify(i.spec.containers) === template);
      currentCache.set(i.id, c);
    }
    return c;
  };
  const slots = desiredSlots(service, ctx.nodes);
  const desiredCount = slots.length;
  const maxSlot = Math.max(0, ...bySlot.keys());

  // Scale down: slots past the desired count.
  const desired = new Set(slots.map((s) => s.slot));
  const excess = [...bySlot.entries()].filter(([slot]) => !desired.has(slot)).sort(([a], [b]) => b - a);
  if (spec.stateful) {
    const highest = excess.find(([, list]) => list.some((i) => !isTerminal(i.status.state)));
    if (highest) highest[1].forEach((i) => stop(i, 'scaled down'));
  } else {
    excess.forEach(([, list]) => list.forEach((i) => stop(i, 'scaled down')));
  }
  const stillScalingDown = spec.stateful && excess.some(([, list]) => list.some((i) => !isTerminal(i.status.state)));

  const orderedSlots = spec.stateful ? [...slots].sort((a, b) => a.slot - b.slot) : slots;
  // Stateful replacements go from the highest slot down (StatefulSet's rolling update order).
  const replaceOrder = spec.stateful ? [...orderedSlots].reverse() : orderedSlots;
  const rollout = planRollout({
    service: service as Service & { deployment: ServiceDeployment },
    slots: replaceOrder.map((s) => s.slot),
    bySlot,
    current,
    now: ctx.now,
  });
  events.push(...rollout.events);
  if (rollout.wakeAt !== undefined) requeueAfterMs = Math.max(1, rollout.wakeAt - ctx.now);
  let budget = rollout.budget;

  let allLowerRunning = true;
  const replacing = new Set<number>();
  for (const { slot } of replaceOrder) {
    const list = bySlot.get(slot) ?? [];
    const live = list.filter(wantRunning);
    const outdated = live.filter((i) => !current(i));
    const fresh = live.filter(current);
    if (outdated.length === 0) continue;
    // A slot whose new instance failed in this rollout is not tried again by it (the old instance that
    // start-first kept goes on serving); a later deploy request tries again.
    const retry = !rollout.failedSlots.has(slot);
    if (spec.updateConfig.order === 'start-first' && !spec.stateful) {
      if (fresh.some(isReady)) {
        outdated.forEach((i) => stop(i, 'replaced by a newer instance'));
        replacing.add(slot);
      } else if (fresh.length > 0) {
        replacing.add(slot); // new one on its way
      } else if (budget > 0 && retry) {
        budget--;
        replacing.add(slot);
        create.push({ slot, node: nodeFor(slot, slots), restarts: 0, reason: `update to generation ${generation}` });
      }
    } else if (budget > 0 && retry) {
      budget--;
      replacing.add(slot);
      outdated.forEach((i) => stop(i, `update to generation ${generation}`));
    }
  }

  for (const { slot, node } of orderedSlots) {
    const list = bySlot.get(slot) ?? [];
    const live = list.filter(wantRunning);
    if (live.length > 0) {
      if (!live.some((i) => i.status.state === 'running')) allLowerRunning = false;
      continue;
    }
    if (replacing.has(slot) && list.some((i) => !isTerminal(i.status.state))) {
      allLowerRunning = false;
      continue; // the outdated instance is still stopping (stop-first)
    }
    if (spec.stateful && (!allLowerRunning || stillScalingDown)) {
      allLowerRunning = false;
      continue; // ordered start: wait for the lower slots
    }
    const last = list[0];
    if (!last || last.desiredState === 'shutdown' || !current(last)) {
      // A fresh slot, or the last instance was stopped on purpose: no back-off. An instance the user
      // removed is replaced while it drains (a stateful slot waits: its data directory is the slot's).
      const stillStopping = list.filter((i) => !isTerminal(i.status.state));
      const replaceNow = !spec.stateful && stillStopping.length > 0 && stillStopping.every((i) => i.desiredReason === INSTANCE_REMOVED_REASON) && !list.some(wantRunning);
      if (stillStopping.length > 0 && !replaceNow) {
        allLowerRunning = false;
        continue; // still stopping
      }
      create.push({ slot, node, restarts: 0, reason: replaceNow ? 'replacing an instance removed by the user' : last ? 'replacing a stopped instance' : slot > maxSlot ? 'scaled up' : 'new slot' });
      allLowerRunning = false;
      continue;
    }
    const decision = restartDecision(spec.restartPolicy, last, list, ctx.now);
    allLowerRunning = false;
    if (decision.kind === 'restart') {
      create.push({ slot, node, restarts: decision.restarts, reason: decision.reason });
      events.push({ ...base, type: 'instance.restarting', severity: 'warning', instance: last.id, slot, message: `${slotName(service.name, slot)} restarting (restart ${decision.restarts}): it ${describeEnd(last)}`, data: { exitCode: last.status.exitCode, restarts: decision.restarts } });
    } else if (decision.kind === 'wait') {
      const wait = decision.at - ctx.now;
      requeueAfterMs = requeueAfterMs === undefined ? wait : Math.min(requeueAfterMs, wait);
      notes.push(`${slotName(service.name, slot)} ${decision.reason}`);
    } else {
      notes.push(`${slotName(service.name, slot)} ${decision.reason}`);
    }
  }

  // Ready, not merely running: an instance counts once its readiness probes pass (isReady).
  const running = slots.filter(({ slot }) => (bySlot.get(slot) ?? []).some((i) => current(i) && isReady(i))).length;
  const extra = instances.filter((i) => !isTerminal(i.status.state) && (!current(i) || !desired.has(i.slot))).length;
  const converged = running === desiredCount && extra === 0 && create.length === 0;
  const phase: ServicePhase = converged ? 'running' : 'deploying';
  if (converged && service.status.phase !== 'running') {
    const tookMs = ctx.now - Date.parse(service.deployment.requestedAt);
    events.push({
      ...base, type: 'service.converged', severity: 'info',
      message: `${running}/${desiredCount} instance(s) running generation ${generation}, ${tookMs} ms after the deploy request`,
      data: { generation, convergedAfterMs: tookMs },
    });
  }
  if (desiredCount === 0 && service.spec.mode === 'global') notes.push('no ready node to place instances on');
  const update = rollout.update;
  const completedWithFailures = (update.state === 'completed' || update.state === 'rollback_completed') && update.updatedInstances < update.totalInstances;
  if (update.state === 'paused' || update.state === 'rollback_paused' || update.state === 'rollback_started' || completedWithFailures) notes.unshift(update.message);
  const networkOnly = deployStateOf(service).kind === 'network-only';
  const message = networkOnly && converged ? describeNetworkOnly(service.spec) : converged ? `${running}/${desiredCount} running` : [`${running}/${desiredCount} running`, ...notes].join('; ');
  for (const c of create) {
    for (const i of bySlot.get(c.slot) ?? []) if (isTerminal(i.status.state) && i.desiredState === 'running') retire.push(i.id);
  }
  return {
    create, shutdown, retire, remove, events, removeService: false,
    status: { phase, desiredInstances: desiredCount, runningInstances: running, observedGeneration: converged ? generation : service.status.observedGeneration, message, update: rollout.update },
    ...(rollout.rollbackTo !== undefined ? { rollback: { toGeneration: rollout.rollbackTo, ifRequestedAt: service.deployment.requestedAt } } : {}),
    ...(requeueAfterMs === undefined ? {} : { requeueAfterMs }),
  };
}

function desiredSlots(service: Service, nodes: readonly NodeInfo[]): { slot: number; node: string }[] {
  const spec = service.deployment?.spec ?? service.spec;
  if (spec.containers.length === 0) return []; // a network-only service: ExternalName or hand-set endpoints
  if (spec.mode === 'global') return nodes.map((n, i) => ({ slot: i + 1, node: n.name }));
  const first = nodes[0]?.name ?? '';
  return Array.from({ length: spec.replicas }, (_, i) => ({ slot: i + 1, node: nodes.length > 0 ? (nodes[i % nodes.length]?.name ?? first) : first }));
}

function nodeFor(slot: number, slots: readonly { slot: number; node: string }[]): string {
  return slots.find((s) => s.slot === slot)?.node ?? '';
}

/** Instances per slot, newest first. */
function groupBySlot(instances: readonly Instance[]): Map<number, Instance[]> {
  const map = new Map<number, Instance[]>();
  for (const i of instances) {
    const list = map.get(i.slot) ?? [];
    list.push(i);
    map.set(i.slot, list);
  }
  for (const list of map.values()) list.sort((a, b) => (a.createdAt === b.createdAt ? b.version - a.version : a.createdAt < b.createdAt ? 1 : -1));
  return map;
}

/** Ended instances past the per-slot history limit. */
function trimHistory(bySlot: Map<number, Instance[]>): string[] {
  const out: string[] = [];
  for (const list of bySlot.values()) {
    const ended = list.filter((i) => isTerminal(i.status.state));
    out.push(...ended.slice(HISTORY_PER_SLOT).map((i) => i.id));
  }
  return out;
}

function countRunning(instances: readonly Instance[]): number {
  return instances.filter((i) => i.status.state === 'running').length;
}
