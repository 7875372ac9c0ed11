import type { Instance, NewServiceEvent, Service, ServiceDeployment, ServicePhase } from '../model/index.js';
import { DEFAULT_SPEC_LIMITS, INSTANCE_REMOVED_REASON, canonicalJson, deployStateOf, describeNetworkOnly, isReady, isTerminal, slotName } from '../model/index.js';
import { unrunnableReason } from './unrunnable.js';
import type { NodeRejection } from './schedule.js';
import { ServiceScheduler, describeUnschedulable } from './schedule.js';
import type { DesiredSlot, PendingSlot } from './slot-placement.js';
import { asLost, desiredSlots, globalSlots, leaveWhy, lostInstances, misplacedInstances, movedOff, movesStateful, pendingNotes, placeSlot, slotOf } from './slot-placement.js';
import { respreads } from './spread-moves.js';
import { describeEnd, restartDecision } from './restart-decision.js';
import { planRollout } from './rollout.js';
import type { PlanContext, PlannedCreate, ServicePlan } from './service-plan.js';
import { countRunning, groupBySlot, trimHistory } from './slot-groups.js';
import { countSlots, phaseOf } from './service-phase.js';
import { phaseEvents } from './phase-events.js';

export { HISTORY_PER_SLOT } from './slot-groups.js';

export type { PlanContext, PlannedCreate, ServicePlan } from './service-plan.js';

/**
 * The pure reconciler of one service: from the service, every instance it has (ended ones too) and the
 * time, the plan that moves it one step closer to what its deployment asks. No I/O, no clock.
 *
 * - replicated: slots 1..replicas; global: one slot per node that may run it (globalSlots).
 * - a new instance goes where the scheduler says (schedule.ts: filters, then ranking); a stateful slot's
 *   to the node its data is on. Running instances are not moved for a better node; they leave a
 *   draining node start-first, and a down or removed node's replicated ones are replaced elsewhere
 *   (docs/scheduling.md). A slot that fits nowhere is in `pending`, with every node's reason.
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
  /** Whether a restart back-off set requeueAfterMs (else only a rollout's monitor window did). */
  let restartWaits = false;
  /** Slots whose ended instance is not restarted by this pass, with why (countSlots: they wait). */
  const endedSlots = new Map<number, string>();
  const notes: string[] = [];
  const wantRunning = (i: Instance): boolean => i.desiredState === 'running' && !isTerminal(i.status.state);
  const stop = (i: Instance, reason: string): void => {
    if (wantRunning(i)) shutdown.push({ id: i.id, reason });
  };

  // Ended instances past the history limit (never an instance of a lost node: its node may come back).
  const grouped = groupBySlot(instances);
  const remove = trimHistory(grouped);
  const pending: PendingSlot[] = [];
  const retire: string[] = [];
  const base = { grid: service.grid, service: service.name };

  if (service.desired === 'removing' || service.deployment === null || service.desired === 'stopped') {
    const reason = service.desired === 'removing' ? 'service removed' : 'service stopped';
    instances.forEach((i) => stop(i, reason));
    // An instance on a node that was removed (`node rm --force`) will never report that it ended.
    const known = new Set(ctx.nodes.map((n) => n.name));
    const active = instances.filter((i) => !isTerminal(i.status.state) && (known.size === 0 || known.has(i.node))).length;
    if (service.desired === 'removing') {
      const done = active === 0;
      return {
        create, shutdown, retire, events, removeService: done, pending,
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
    return { create, shutdown, retire, events, remove, removeService: false, pending, status: { phase, desiredInstances: 0, runningInstances: countRunning(instances), observedGeneration: service.deployment?.generation ?? 0, message } };
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
      create, shutdown, retire, events, remove, removeService: false, pending,
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
  // Current: the deployed containers and restart generation (the model's runsDeployment; replicas or
  // policies replace nothing, as a pod-template hash ignores the replica count). Compared as values: a
  // spec stored through the Docker face orders fields otherwise. Text first (canonicalJson costs 6×),
  // each instance's answer kept for the pass: after a scale every pass compares every instance.
  const templateText = JSON.stringify(spec.containers);
  let templateCanonical: string | undefined;
  const currentCache = new Map<string, boolean>();
  const current = (i: Instance): boolean => {
    if (i.restartGeneration !== restartGeneration) return false;
    if (i.generation === generation) return true;
    let c = currentCache.get(i.id);
    if (c === undefined) currentCache.set(i.id, (c = JSON.stringify(i.spec.containers) === templateText || canonicalJson(i.spec.containers) === (templateCanonical ??= canonicalJson(spec.containers))));
    return c;
  };
  const nodesByName = new Map(ctx.nodes.map((n) => [n.name, n]));
  const onUpNode = (i: Instance): boolean => nodesByName.size === 0 || nodesByName.get(i.node)?.ready === true;
  // The instances of a lost node still count there (a down node takes nothing new anyway).
  const scheduler = new ServiceScheduler({ spec, nodes: ctx.nodes, instances, ...(ctx.usage ? { usage: ctx.usage } : {}) });
  let bySlot = grouped;
  const place = (s: DesiredSlot, moving?: { readonly from: string; readonly why: string }, left?: string): string | undefined => {
    const avoid = moving?.from ?? left;
    const r = placeSlot(s, { spec, scheduler, history: bySlot.get(s.slot) ?? [], ...(avoid !== undefined ? { avoid } : {}), ...(left !== undefined ? { leaveHome: true } : {}) });
    if ('node' in r) {
      scheduler.assign(r.node);
      return r.node;
    }
    pending.push(moving ? { ...r, message: `${slotName(service.name, s.slot)} stays on node ${moving.from} (${moving.why}): no other node can take it: ${r.unschedulable.message}` } : r);
    return undefined;
  };

  // Node loss (Swarm's orchestrator restarts a down node's tasks elsewhere; Nomad reschedules lost
  // allocations): a replicated slot whose instance is on a down or removed node gets a new instance on
  // another node, and the old one desired state shutdown — its record stays, and the node's agent stops
  // it if the node comes back. When no other node can take it, it is left as it is (it may still be
  // serving behind a partition; stopping it would gain nothing). The rest of the plan sees the
  // replaced ones as ended.
  const candidates = lostInstances(spec, instances, nodesByName);
  const replaced = new Set<number>();
  let view = instances;
  if (candidates.size > 0) {
    const lost = new Set<string>();
    for (const [slot, list] of [...bySlot.entries()].sort(([a], [b]) => a - b)) {
      const mine = list.filter((i) => candidates.has(i.id));
      if (mine.length === 0) continue;
      const newest = list.find((i) => i.desiredState === 'running' && !isTerminal(i.status.state));
      if (spec.mode === 'replicated' && slot <= spec.replicas && newest !== undefined && candidates.has(newest.id)) {
        const why = candidates.get(newest.id) ?? '';
        const node = place({ slot }, { from: newest.node, why });
        if (node === undefined) continue;
        create.push({ slot, node, restarts: 0, reason: `replacing an instance: ${why}` });
        replaced.add(slot);
      }
      // Also those already stopping there, those of slots scaled away, and a removed node's global instance.
      mine.forEach((i) => lost.add(i.id));
    }
    for (const i of instances) {
      if (!lost.has(i.id) || i.desiredState !== 'running') continue;
      shutdown.push({ id: i.id, reason: `${candidates.get(i.id) ?? 'its node is lost'}${replaced.has(i.slot) ? ': replaced on another node' : ''}` });
    }
    if (lost.size > 0) {
      view = instances.map((i) => (lost.has(i.id) ? asLost(i) : i));
      bySlot = groupBySlot(view);
    }
  }
  const global = spec.mode === 'global' && spec.containers.length > 0 ? globalSlots(bySlot, scheduler, ctx.nodes) : undefined;
  const slots: DesiredSlot[] = global ? global.slots : desiredSlots(spec);
  const desiredCount = slots.length;
  let maxSlot = 0;
  for (const slot of bySlot.keys()) if (slot > maxSlot) maxSlot = slot;
  // The live instances of each slot (those still wanted running), found once per slot: the loops below
  // read them up to three times per slot, and a service may have 10,000 slots.
  const liveCache = new Map<number, readonly Instance[]>();
  const liveOf = (slot: number): readonly Instance[] => {
    let live = liveCache.get(slot);
    if (live === undefined) liveCache.set(slot, (live = (bySlot.get(slot) ?? NONE).filter(wantRunning)));
    return live;
  };

  // Scale down: slots past the desired count (global: slots whose node left).
  const desired = new Set(slots.map((s) => s.slot));
  const excess: [number, readonly Instance[]][] = [];
  for (const entry of bySlot) if (!desired.has(entry[0])) excess.push(entry);
  excess.sort(([a], [b]) => b - a);
  const excessWhy = (slot: number): string => global?.leaving.get(slot) ?? 'scaled down';
  if (spec.stateful) {
    const highest = excess.find(([, list]) => list.some((i) => !isTerminal(i.status.state)));
    if (highest) highest[1].forEach((i) => stop(i, excessWhy(highest[0])));
  } else {
    excess.forEach(([slot, list]) => list.forEach((i) => stop(i, excessWhy(slot))));
  }
  const stillScalingDown = spec.stateful && excess.some(([, list]) => list.some((i) => !isTerminal(i.status.state)));

  const orderedSlots = spec.stateful ? [...slots].sort((a, b) => a.slot - b.slot) : slots;
  // Stateful replacements go from the highest slot down (StatefulSet's rolling update order).
  const replaceOrder = spec.stateful ? [...orderedSlots].reverse() : orderedSlots;
  // Instances on nodes that no longer meet the placement (a constraint, a platform, maxReplicasPerNode):
  // the rollout replaces them as it replaces an old template. A stateful slot stays where its data is,
  // unless the service moves stateful slots; it is named (a note, and the rollout's completion).
  // A deploy that changed the spread preferences evens the spread out while its rollout runs (docs/rollouts.md, "Spread changes").
  const { misplaced, staying } = global === undefined
    ? misplacedInstances(spec, view.filter((i) => desired.has(i.slot) && !isTerminal(i.status.state) && current(i)), { scheduler, nodes: ctx.nodes, desired: desiredCount, respread: respreads(service as Service & { deployment: ServiceDeployment }) })
    : { misplaced: new Map<string, string>(), staying: [] };
  const rollout = planRollout({
    service: service as Service & { deployment: ServiceDeployment },
    slots: replaceOrder.map((s) => s.slot),
    bySlot,
    current,
    misplaced,
    staying,
    downNodes: new Set(ctx.nodes.filter((n) => !n.ready).map((n) => n.name)),
    now: ctx.now,
  });
  // Up to date for the rollout: the deployed template, and while it runs, a node that meets the placement.
  const upToDate = rollout.current;
  // The spread ranks where the instances the rollout moves will be gone from (their replacements go where it is even).
  if (misplaced.size > 0) for (const i of view) if (misplaced.has(i.id) && wantRunning(i) && current(i) && !upToDate(i)) scheduler.leave(i.node);
  events.push(...rollout.events);
  if (rollout.wakeAt !== undefined) requeueAfterMs = Math.max(1, rollout.wakeAt - ctx.now);
  let budget = rollout.budget;

  let allLowerRunning = true;
  /** Slots that never had an instance: placed in this pass, and left for a later one (maxNewSlots). */
  let newSlots = 0;
  let deferred = 0;
  const replacing = new Set<number>();
  for (const { slot } of replaceOrder) {
    if (replaced.has(slot)) continue; // its new instance (on another node) is planned already
    if (rollout.progress.get(slot) === 'waiting') continue; // its node is down: nothing can be done there
    const live = liveOf(slot);
    if (live.every(upToDate)) continue; // nothing outdated
    const outdated = live.filter((i) => !upToDate(i));
    const fresh = live.filter(upToDate);
    // Outdated only by its node (the placement changed): it moves, and the messages say where from and why.
    const moving = outdated.every(current) ? outdated[0] : undefined;
    const movingWhy = moving ? misplaced.get(moving.id) : undefined;
    // A slot whose new instance failed in this rollout is not tried again by it (the old instance that
    // start-first kept goes on serving); a later deploy request tries again.
    const retry = !rollout.failedSlots.has(slot);
    if (spec.updateConfig.order === 'start-first' && !spec.stateful) {
      const ready = fresh.find(isReady);
      if (ready) {
        outdated.forEach((i) => stop(i, movingWhy !== undefined ? `${movingWhy}: moved to node ${ready.node}` : 'replaced by a newer instance'));
        replacing.add(slot);
      } else if (fresh.length > 0) {
        replacing.add(slot); // new one on its way
      } else if (budget > 0 && retry) {
        budget--;
        replacing.add(slot);
        const node = place(slotOf(slot, slots), moving && movingWhy !== undefined ? { from: moving.node, why: movingWhy } : undefined);
        if (node !== undefined) create.push({ slot, node, restarts: 0, reason: `update to generation ${generation}${movingWhy !== undefined ? `: moving off node ${moving?.node} (${movingWhy})` : ''}` });
      }
    } else if (budget > 0 && retry) {
      // Stop-first stops an instance that only has to move once another node can take it (capacity
      // is not given up for a slot that would then wait for room).
      const nowhere = moving && movingWhy !== undefined ? scheduler.pick({ avoid: moving.node }) : undefined;
      if (nowhere && 'unschedulable' in nowhere) {
        pending.push({ slot, unschedulable: nowhere.unschedulable, message: `${slotName(service.name, slot)} stays on node ${moving?.node} (${movingWhy}): no other node can take it: ${nowhere.unschedulable.message}` });
        continue;
      }
      if (nowhere) scheduler.assign(nowhere.node); // held for its replacement: the next move of this batch looks elsewhere
      budget--;
      replacing.add(slot);
      outdated.forEach((i) => stop(i, `update to generation ${generation}${misplaced.has(i.id) && current(i) ? `: ${misplaced.get(i.id)}` : ''}`));
    }
  }

  // Drain (and constraints no longer met): a live instance leaves its node start-first, as a start-first
  // rollout replaces one — its replacement elsewhere first, then it stops (and drains) once that is ready.
  // A stateful slot stays (its data is on the node) unless the service moves stateful slots: then it
  // stops first and starts again elsewhere. Global slots leave through globalSlots.
  const leaveCache = new Map<string, NodeRejection | null>(); // the same for every instance on a node
  for (const s of global ? [] : orderedSlots) {
    if (replacing.has(s.slot) || replaced.has(s.slot)) continue;
    const live = liveOf(s.slot);
    let found: { i: Instance; why: string }[] | undefined;
    for (const i of live) {
      if (misplaced.has(i.id) && !upToDate(i)) continue; // the rollout moves it, in its batch
      let why = leaveCache.get(i.node);
      if (why === undefined) leaveCache.set(i.node, (why = leaveWhy(i, scheduler) ?? null));
      if (why) (found ??= []).push({ i, why: why.message });
    }
    if (found === undefined) continue;
    const leaving = found;
    const first = leaving[0] as { i: Instance; why: string };
    const staying = live.filter((i) => !leaving.some((x) => x.i === i));
    if (spec.stateful) {
      if (movesStateful(spec)) leaving.forEach((x) => stop(x.i, `${x.why}: moving to another node`));
      else notes.push(`${slotName(service.name, s.slot)} stays on node ${first.i.node} (${first.why}): its data is there (placement.moveStatefulSlots moves it)`);
      continue;
    }
    const ready = staying.find((i) => current(i) && isReady(i));
    if (ready) leaving.forEach((x) => stop(x.i, `${x.why}: moved to node ${ready.node}`));
    else if (staying.length === 0) {
      const node = place(s, { from: first.i.node, why: first.why });
      if (node !== undefined) create.push({ slot: s.slot, node, restarts: 0, reason: `moving off node ${first.i.node} (${first.why})` });
    }
  }

  for (const s of orderedSlots) {
    const { slot } = s;
    if (replaced.has(slot)) {
      allLowerRunning = false;
      continue; // its instance's node is lost: replaced above
    }
    const list = bySlot.get(slot) ?? NONE;
    const live = liveOf(slot);
    if (live.length > 0) {
      const down = live.find((i) => !onUpNode(i));
      if (down && !pending.some((p) => p.slot === slot)) notes.push(`${slotName(service.name, slot)} waits for node ${down.node} (down)${spec.stateful ? ', where its data is' : ''}`);
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
      allLowerRunning = false;
      if (!last && ctx.maxNewSlots !== undefined && newSlots >= ctx.maxNewSlots) {
        deferred++; // placed by a later pass: this one places no more than it may create
        continue;
      }
      const node = place(s, undefined, movedOff(service.deployment, { last, current, update: rollout.update }));
      if (node === undefined) continue;
      if (!last) newSlots++;
      const why = replaceNow ? 'replacing an instance removed by the user' : last ? 'replacing a stopped instance' : slot > maxSlot && global === undefined ? 'scaled up' : 'new slot';
      create.push({ slot, node, restarts: 0, reason: why });
      continue;
    }
    const decision = restartDecision(spec.restartPolicy, last, list, ctx.now);
    allLowerRunning = false;
    // A slot whose instance is not started again now waits (its back-off) or is done (its policy): as
    // Swarm's `1/2` and a pod in CrashLoopBackOff, the service is then degraded, not deploying.
    if (decision.kind !== 'restart') endedSlots.set(slot, `its instance ${decision.reason}`);
    const node = decision.kind === 'restart' ? place(s) : undefined;
    if (decision.kind === 'restart' && node !== undefined) {
      create.push({ slot, node, restarts: decision.restarts, reason: decision.reason });
      events.push({ ...base, type: 'instance.restarting', severity: 'warning', instance: last.id, slot, message: `${slotName(service.name, slot)} restarting (restart ${decision.restarts}): it ${describeEnd(last)}`, data: { exitCode: last.status.exitCode, restarts: decision.restarts } });
    } else if (decision.kind === 'wait') {
      const wait = decision.at - ctx.now;
      requeueAfterMs = requeueAfterMs === undefined ? wait : Math.min(requeueAfterMs, wait);
      restartWaits = true;
      notes.push(`${slotName(service.name, slot)} ${decision.reason}`);
    } else {
      notes.push(`${slotName(service.name, slot)} ${decision.reason}`);
    }
  }

  const counts = countSlots({ slots: slots.map((s) => s.slot), instances: view, bySlot, current, upToDate, onUpNode, pendingSlots: new Map(pending.map((p) => [p.slot, p.unschedulable.message])), endedSlots });
  const { running } = counts;
  // Degraded: everything that can run runs and the rest waits (the status message names each slot).
  const phase = phaseOf(counts, { desired: desiredCount, creates: create.length, stops: shutdown.length, update: rollout.update });
  const converged = phase === 'running';
  const degraded = phase === 'degraded';
  const transition = phaseEvents(service as Service & { deployment: ServiceDeployment }, { phase, counts, desired: desiredCount, now: ctx.now });
  events.push(...transition.events);
  if (desiredCount === 0 && spec.mode === 'global' && spec.containers.length > 0) notes.push(`no node can run it: ${describeUnschedulable(scheduler.rejections()).message}`);
  notes.push(...pendingNotes(service.name, pending));
  const update = rollout.update;
  const completedWithFailures = (update.state === 'completed' || update.state === 'rollback_completed') && update.updatedInstances < update.totalInstances;
  if (update.state === 'paused' || update.state === 'rollback_paused' || update.state === 'rollback_started' || completedWithFailures) notes.unshift(update.message);
  const networkOnly = deployStateOf(service).kind === 'network-only';
  // A global service with no node to run on is converged (nothing to run), and says why; so does a
  // converged service with a slot that stays on a node it should leave (a stateful slot's data).
  const quiet = converged && notes.length === 0 && !(global !== undefined && desiredCount === 0);
  const message = networkOnly && converged ? describeNetworkOnly(service.spec) : quiet ? `${running}/${desiredCount} running` : [`${running}/${desiredCount} running`, ...notes].join('; ');
  for (const c of create) {
    for (const i of bySlot.get(c.slot) ?? []) if (isTerminal(i.status.state) && i.desiredState === 'running') retire.push(i.id);
  }
  return {
    create, shutdown, retire, remove, events, removeService: false, pending,
    ...(deferred > 0 ? { deferred } : {}),
    // Degraded runs the deployed generation wherever it can: observed, so a later rollout goes back to it.
    status: {
      phase, desiredInstances: desiredCount, runningInstances: running, observedGeneration: converged || degraded ? generation : service.status.observedGeneration, message, update: rollout.update,
      ...(transition.degradedSince !== undefined ? { degradedSince: transition.degradedSince } : {}),
    },
    ...(rollout.rollbackTo !== undefined ? { rollback: { toGeneration: rollout.rollbackTo, ifRequestedAt: service.deployment.requestedAt } } : {}),
    ...(requeueAfterMs === undefined ? {} : { requeueAfterMs, ...(restartWaits ? {} : { requeueForMonitor: true }) }),
  };
}

const NONE: readonly Instance[] = [];
