import type { Instance, NewServiceEvent, Service, ServiceDeployment, UpdateConfig, UpdateState, UpdateStatus } from '../model/index.js';
import { failingProbe, isReady, isTerminal, probeOutputLine, readySince, slotName } from '../model/index.js';
import { parseDuration } from '../lib/index.js';

/*
 * The rollout of one deployment (Swarm's updater, as a pure function of what is stored): which outdated
 * instances to replace now, whether the new ones count as updated (ready for `monitor`), whether they
 * failed, and what the update status says. planService calls it on every pass.
 *
 * A slot of the deployment is, by its newest instance:
 *   updated     current, ready, and ready for at least monitor (+ delay before the next batch)
 *   monitoring  current and ready, not for long enough yet              — in flight
 *   starting    current, not ready yet, not failing                     — in flight
 *   failed      current and ended, or its readiness/liveness probe failing; or a new instance of
 *               this rollout failed in it and its restart is not updated yet (Swarm's updater does
 *               not wait for a slot that failed: it counts the failure and moves on)
 *   stopping    an outdated instance is stopping for it (stop-first)    — in flight
 *   outdated    an outdated instance still serves it
 *   waiting     an outdated instance is on a node that is down: it can be neither stopped nor replaced
 *               until its agent returns, so the slot holds no batch (nor completes)
 * In-flight slots use up the batch (parallelism, or what minHealth allows). The rollout completes
 * once every slot is updated or failed in it — with failures when failureAction is continue or they
 * stay within maxFailureRatio (Swarm: "update completed" with the failures counted).
 */

export type SlotProgress = 'updated' | 'monitoring' | 'starting' | 'failed' | 'stopping' | 'outdated' | 'waiting' | 'empty';

export interface RolloutInput {
  readonly service: Service & { readonly deployment: ServiceDeployment };
  /** The desired slots, in replacement order (stateful: highest first). */
  readonly slots: readonly number[];
  /** Instances per slot, newest first. */
  readonly bySlot: ReadonlyMap<number, readonly Instance[]>;
  readonly current: (i: Instance) => boolean;
  /**
   * Live instances whose node no longer meets the deployed placement, or that a changed spread moves
   * (misplacedInstances), id → why:
   * outdated for the rollout while it runs or is paused, as Swarm's placement is part of the task spec;
   * once it completed, what moves them is the constraint enforcer (planService), not this rollout.
   */
  readonly misplaced?: ReadonlyMap<string, string>;
  /** Slots that the placement (or the spread) would move but that stay (a stateful slot's data), as status notes: named when the rollout completes. */
  readonly staying?: readonly string[];
  /** Nodes marked down: an outdated instance there waits for its node (`waiting`) instead of holding a batch. */
  readonly downNodes?: ReadonlySet<string>;
  readonly now: number;
}

export interface RolloutPlan {
  readonly update: UpdateStatus;
  readonly events: readonly NewServiceEvent[];
  /** How many more outdated slots may start being replaced now. */
  readonly budget: number;
  /** failureAction = rollback tripped: deploy the spec of this generation again. */
  readonly rollbackTo?: number;
  readonly progress: ReadonlyMap<number, SlotProgress>;
  /** Every slot is updated (or failed in this rollout) and nothing outdated is left outside failed slots. */
  readonly complete: boolean;
  /** Slots where a new instance of this rollout failed and that are not updated (yet): not retried by the rollout. */
  readonly failedSlots: ReadonlySet<number>;
  /** When a monitoring slot will count as updated (epoch ms). */
  readonly wakeAt?: number;
  /**
   * Whether an instance is up to date for this rollout: `current`, and while the rollout has not
   * completed, on a node that meets the placement (not in `misplaced`).
   */
  readonly current: (i: Instance) => boolean;
}

const ACTIVE: readonly UpdateState[] = ['updating', 'rollback_started'];

/** A user's rollback or the controller's automatic one. */
function isRollbackDeployment(deployment: ServiceDeployment): boolean {
  return deployment.cause === 'rollback' || deployment.cause === 'auto-rollback';
}

/** The update config that rolls this deployment out: rollbackConfig for a rollback (Swarm). */
export function rolloutConfig(deployment: ServiceDeployment): UpdateConfig {
  return isRollbackDeployment(deployment) ? deployment.spec.rollbackConfig : deployment.spec.updateConfig;
}

/**
 * Instances replaced at once: `parallelism` (0 = all); stateful services one at a time; Kontena's
 * minHealth keeps at least that fraction of the replicas: max(1, floor(n × (1 − minHealth))).
 */
export function batchLimit(config: UpdateConfig, stateful: boolean, desired: number): number {
  if (stateful) return 1;
  let limit = config.parallelism === 0 ? Math.max(1, desired) : config.parallelism;
  // The epsilon keeps 10 × (1 − 0.8) = 1.9999999999999996 from flooring to 1.
  if (config.minHealth !== undefined) limit = Math.min(limit, Math.max(1, Math.floor(desired * (1 - config.minHealth) + 1e-9)));
  return limit;
}

export function planRollout(input: RolloutInput): RolloutPlan {
  const { service, slots, bySlot, now } = input;
  const dep = service.deployment;
  const config = rolloutConfig(dep);
  const monitorMs = parseDuration(config.monitor);
  const delayMs = parseDuration(config.delay);
  const events: NewServiceEvent[] = [];
  const base = { grid: service.grid, service: service.name };
  const isRollback = isRollbackDeployment(dep);

  let update = service.status.update;
  if (!update || update.requestedAt !== dep.requestedAt || update.generation !== dep.generation) {
    const continuingAutoRollback = dep.cause === 'auto-rollback' && update?.state === 'rollback_started';
    const message = isRollback ? `rolling back to generation ${dep.rollbackTo ?? '?'} (deployed as generation ${dep.generation})` : `updating to generation ${dep.generation}`;
    update = {
      state: isRollback ? 'rollback_started' : 'updating',
      generation: dep.generation,
      requestedAt: dep.requestedAt,
      ...(service.status.observedGeneration > 0 ? { fromGeneration: service.status.observedGeneration } : {}),
      startedAt: new Date(now).toISOString(),
      message: continuingAutoRollback && update ? update.message : message,
      failedInstances: [],
      updatedInstances: 0,
      totalInstances: slots.length,
    };
    if (!continuingAutoRollback) events.push({ ...base, type: isRollback ? 'service.rollback_started' : 'service.update_started', severity: 'info', message, data: { generation: dep.generation } });
  }
  // Placement is rolled out like the containers until the rollout completes (docs/rollouts.md).
  const misplaced = input.misplaced;
  const settled = update.state === 'completed' || update.state === 'rollback_completed';
  const current = misplaced === undefined || misplaced.size === 0 || settled ? input.current : (i: Instance): boolean => input.current(i) && !misplaced.has(i.id);
  const startedAtMs = Date.parse(update.startedAt);
  // Instances created after the deploy request belong to this rollout (both times are the store's clock).
  const requestedAtMs = Date.parse(dep.requestedAt);

  // Classify every desired slot.
  const progress = new Map<number, SlotProgress>();
  const failed = new Set(update.failedInstances);
  const newlyFailed: { instance: Instance; why: string }[] = [];
  let wakeAt: number | undefined;
  // The update's state until the failure action below: read once, not per slot.
  const active = ACTIVE.includes(update.state);
  for (const slot of slots) {
    const list = bySlot.get(slot) ?? NONE;
    const newest = list[0];
    const stopping = list.length > 1 && list.some((i) => i.desiredState === 'shutdown' && !isTerminal(i.status.state) && !current(i));
    if (!newest) {
      progress.set(slot, 'empty');
      continue;
    }
    const waitsForNode = !isTerminal(newest.status.state) && (input.downNodes?.has(newest.node) ?? false);
    if (!current(newest)) {
      // Stopping, or stopped with its replacement about to be created: in flight either way — unless
      // its node is down: then it waits for the node, and the batch goes on with other slots.
      progress.set(slot, waitsForNode ? 'waiting' : newest.desiredState === 'running' && !isTerminal(newest.status.state) ? 'outdated' : 'stopping');
      continue;
    }
    const why = failureOf(newest);
    if (why !== undefined) {
      progress.set(slot, 'failed');
      // Counted while the rollout runs: once paused or done, a crash-looping instance is the restart
      // policy's business, not more failures of this rollout.
      const counts = active && Date.parse(newest.createdAt) >= requestedAtMs;
      if (counts && !failed.has(newest.id)) {
        failed.add(newest.id);
        newlyFailed.push({ instance: newest, why });
      }
      continue;
    }
    if (newest.desiredState !== 'running' || isTerminal(newest.status.state)) {
      // An instance from before the deploy request stopped on purpose (one that moves off a node that
      // no longer meets the placement, stop-first): its replacement comes next, the slot is in flight.
      const replaced = newest.desiredState === 'shutdown' && Date.parse(newest.createdAt) < requestedAtMs;
      progress.set(slot, replaced && waitsForNode ? 'waiting' : stopping || replaced ? 'stopping' : 'empty');
      continue;
    }
    const since = readySince(newest);
    if (since === undefined) {
      progress.set(slot, 'starting');
    } else if (now - since >= monitorMs + delayMs || !active) {
      progress.set(slot, 'updated');
    } else {
      progress.set(slot, 'monitoring');
      const at = since + monitorMs + delayMs;
      wakeAt = wakeAt === undefined ? at : Math.min(wakeAt, at);
    }
    // start-first keeps the outdated instance while the new one starts: the slot is still in flight.
    if (stopping && progress.get(slot) === 'updated') progress.set(slot, 'stopping');
  }
  // A slot whose new instance failed in this rollout is done with, as far as the rollout goes: its
  // restart (the restart policy's) does not hold the batch, and it counts as updated once ready.
  const failedSlots = new Set<number>();
  for (const slot of failed.size === 0 ? [] : slots) {
    if (progress.get(slot) === 'updated') continue;
    if ((bySlot.get(slot) ?? []).some((i) => failed.has(i.id) && current(i))) {
      failedSlots.add(slot);
      progress.set(slot, 'failed');
    }
  }

  for (const f of newlyFailed) {
    events.push({
      ...base, type: 'service.update_failed_instance', severity: 'warning', instance: f.instance.id, slot: f.instance.slot,
      message: `${slotName(service.name, f.instance.slot)} (generation ${dep.generation}) failed: ${f.why}`,
      data: { generation: dep.generation },
    });
  }
  const failedInstances = [...failed];
  const counts = countBy(progress);
  // After a rollout completed, its count follows a failed slot whose restart became ready, but never
  // drops: an instance that moves later (a drain, a placement change) starts again and is monitored
  // again, and that is no longer this rollout's progress.
  const ended = update.state === 'completed' || update.state === 'rollback_completed';
  const updatedInstances = ended ? Math.max(update.updatedInstances, counts.updated ?? 0) : (counts.updated ?? 0);
  update = { ...update, failedInstances, updatedInstances, totalInstances: slots.length };

  // Failure action (Swarm: failures / slots > maxFailureRatio).
  let rollbackTo: number | undefined;
  const lastFailure = newlyFailed.at(-1);
  if (ACTIVE.includes(update.state) && lastFailure && failedInstances.length / Math.max(1, slots.length) > config.maxFailureRatio) {
    const reason = `${slotName(service.name, lastFailure.instance.slot)} (new, generation ${dep.generation}) failed: ${lastFailure.why}`;
    const canRollBack = !isRollback && update.fromGeneration !== undefined && update.fromGeneration !== dep.generation;
    if (config.failureAction === 'rollback' && canRollBack) {
      rollbackTo = update.fromGeneration;
      const message = `update to generation ${dep.generation} failed, rolling back to generation ${rollbackTo}: ${reason}`;
      update = { ...update, state: 'rollback_started', message };
      events.push({ ...base, type: 'service.rollback_started', severity: 'warning', message, data: { generation: dep.generation, rollbackTo } });
    } else if (config.failureAction !== 'continue') {
      const state: UpdateState = isRollback ? 'rollback_paused' : 'paused';
      const what = isRollback ? 'rollback' : `update to generation ${dep.generation}`;
      const note = config.failureAction === 'rollback' ? ' (nothing to roll back to)' : '';
      const message = `${what} paused${note}: ${reason}`;
      update = { ...update, state, message };
      events.push({ ...base, type: isRollback ? 'service.rollback_paused' : 'service.update_paused', severity: 'warning', message, data: { generation: dep.generation } });
    }
  }

  // An outdated instance left in a failed slot (start-first keeps it while the new one fails) stays:
  // the rollout moved on from that slot, as Swarm's does.
  let outdatedLeft = false;
  for (const [slot, list] of bySlot) {
    if (!failedSlots.has(slot) && list.some((i) => !isTerminal(i.status.state) && !current(i))) {
      outdatedLeft = true;
      break;
    }
  }
  const complete = slots.every((s) => progress.get(s) === 'updated' || failedSlots.has(s)) && !outdatedLeft;
  if (complete && ACTIVE.includes(update.state) && rollbackTo === undefined) {
    const tookMs = now - startedAtMs;
    const state: UpdateState = isRollback ? 'rollback_completed' : 'completed';
    const what = isRollback ? `rollback to generation ${dep.rollbackTo ?? '?'}` : `update to generation ${dep.generation}`;
    let message: string;
    if (failedSlots.size > 0) {
      // Completed with failures: updatedInstances < totalInstances says so to clients (docs/rollouts.md).
      const why = config.failureAction === 'continue' ? 'failureAction continue' : `within maxFailureRatio ${config.maxFailureRatio}`;
      const first = [...failedSlots].sort((a, b) => a - b)[0] as number;
      const culprit = (bySlot.get(first) ?? []).find((i) => failed.has(i.id));
      const detail = culprit ? `: ${slotName(service.name, first)} (generation ${dep.generation}) failed: ${failureOf(culprit) ?? describeFailedStatus(culprit)}` : '';
      message = `${what} completed with failures: ${updatedInstances}/${slots.length} instance(s) ready, ${failedSlots.size} failed (${why})${detail}`;
    } else {
      const failures = failedInstances.length > 0 ? ` (${failedInstances.length} instance failure(s) tolerated)` : '';
      message = `${what} completed: ${slots.length}/${slots.length} instance(s) ready${failures}${replacedNote(slots, bySlot, requestedAtMs)}`;
    }
    const staying = input.staying ?? [];
    if (staying.length > 0) message += `; ${staying.length} slot(s) stay on a node the new placement would not put them on: ${staying[0] ?? ''}`;
    update = { ...update, state, message, completedAt: new Date(now).toISOString() };
    events.push({
      ...base, type: isRollback ? 'service.rollback_completed' : 'service.update_completed', severity: failedSlots.size > 0 ? 'warning' : 'info',
      message: `${message} in ${(tookMs / 1000).toFixed(1)} s`, data: { generation: dep.generation, tookMs, failedSlots: failedSlots.size },
    });
  } else if (ACTIVE.includes(update.state) && rollbackTo === undefined) {
    const parts = [`${counts.updated ?? 0}/${slots.length} updated`];
    for (const k of ['monitoring', 'starting', 'stopping', 'failed'] as const) if (counts[k]) parts.push(`${counts[k]} ${k}`);
    if (counts.waiting) parts.push(`${counts.waiting} waiting for their node (down)`);
    const head = isRollback ? `rolling back to generation ${dep.rollbackTo ?? '?'}` : `updating to generation ${dep.generation}`;
    update = { ...update, message: `${head}: ${parts.join(', ')}` };
  }

  let budget = 0;
  if (ACTIVE.includes(update.state) && rollbackTo === undefined) {
    const inFlight = (counts.monitoring ?? 0) + (counts.starting ?? 0) + (counts.stopping ?? 0);
    budget = Math.max(0, batchLimit(config, service.deployment.spec.stateful, slots.length) - inFlight);
  }
  return { update, events, budget, progress, complete, failedSlots, current, ...(rollbackTo !== undefined ? { rollbackTo } : {}), ...(wakeAt !== undefined ? { wakeAt } : {}) };
}

/**
 * What a rollout that completed without failures did besides starting its slots: `; none needed
 * replacing or moving` when it created no instance (a change of placement that every instance meets
 * already, of the update config, a scale-down), or `; 2 moved to another node` when replacements run
 * on other nodes than the instances they replaced.
 */
function replacedNote(slots: readonly number[], bySlot: ReadonlyMap<number, readonly Instance[]>, requestedAtMs: number): string {
  let created = 0;
  let moved = 0;
  for (const slot of slots) {
    const list = bySlot.get(slot) ?? NONE;
    const newest = list[0];
    if (!newest || Date.parse(newest.createdAt) < requestedAtMs) continue;
    created++;
    const before = list.find((i) => Date.parse(i.createdAt) < requestedAtMs);
    if (before !== undefined && before.node !== newest.node) moved++;
  }
  if (created === 0) return '; none needed replacing or moving';
  return moved > 0 ? `; ${moved} moved to another node` : '';
}

/** Why a current instance counts as failed, or undefined: it ended on its own, or a probe fails. */
function failureOf(i: Instance): string | undefined {
  const s = i.status;
  if (i.desiredState === 'running' && (s.state === 'failed' || s.state === 'rejected' || s.state === 'complete')) {
    return s.message || `${s.state}${s.exitCode !== undefined ? ` with exit code ${s.exitCode}` : ''}`;
  }
  if (s.state === 'running' && i.desiredState === 'running' && !isReady(i)) {
    const probe = failingProbe(i);
    if (probe) return `${probe.kind} probe ${probe.target} failed ${probe.consecutiveFailures} time(s): ${probeOutputLine(probe.lastOutput)}`;
  }
  return undefined;
}

/** `exited with code 3`, for an instance of a failed slot that failureOf no longer describes (retired). */
function describeFailedStatus(i: Instance): string {
  const s = i.status;
  return s.message || `${s.state}${s.exitCode !== undefined ? ` with exit code ${s.exitCode}` : ''}`;
}

const NONE: readonly Instance[] = [];

function countBy(progress: ReadonlyMap<number, SlotProgress>): Partial<Record<SlotProgress, number>> {
  const out: Partial<Record<SlotProgress, number>> = {};
  for (const p of progress.values()) out[p] = (out[p] ?? 0) + 1;
  return out;
}
