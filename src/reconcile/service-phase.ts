import type { Instance, ServicePhase, UpdateStatus } from '../model/index.js';
import { isReady, isTerminal } from '../model/index.js';

/*
 * The phase planService reports (docs/reconcile.md): running (converged), degraded (everything that
 * can run runs, the other slots wait), or deploying (something is on its way).
 */

/** How the desired slots of one pass stand. */
export interface SlotCounts {
  /** Slots with a ready instance of the deployed template on a node that is up. */
  readonly running: number;
  /** Slots without one that wait: for their node, which is down, or for a node that fits (pending). */
  readonly waiting: number;
  /**
   * Those slots, lowest first, each with why it waits: `node c is down` (its live instance is there),
   * or the scheduler's reason for a pending slot (`no suitable node (…): …`, `node a is draining`).
   */
  readonly waits: readonly { readonly slot: number; readonly why: string; /** The down node it waits for. */ readonly down?: string }[];
  /** Live instances that should not be: outdated for the rollout, or of a slot no longer desired. */
  readonly extra: number;
}

export interface SlotView {
  readonly slots: readonly number[];
  /** Every instance of the pass (a lost node's as ended), and the same by slot, newest first. */
  readonly instances: readonly Instance[];
  readonly bySlot: ReadonlyMap<number, readonly Instance[]>;
  /** The deployed template and restart generation. */
  readonly current: (i: Instance) => boolean;
  /** The rollout's view: current, and while it runs on a node that meets the placement. */
  readonly upToDate: (i: Instance) => boolean;
  readonly onUpNode: (i: Instance) => boolean;
  /** Slots whose new instance fits no node (the plan's pending), with the scheduler's reason. */
  readonly pendingSlots: ReadonlyMap<number, string>;
  /**
   * Slots whose instance ended and is not started again now, with why: its restart waits for the
   * back-off (`pyw-1 exited with code 137 (SIGKILL); restarting in 10s (back-off 10000 ms)`), or its
   * restart policy ends it (condition none or on-failure, maxAttempts spent). Absent: none.
   */
  readonly endedSlots?: ReadonlyMap<number, string>;
}

/**
 * Ready, not merely running: an instance counts once its readiness probes pass (isReady). A slot
 * without one waits when its live instance is on a down node (a global slot, a stateful one, a
 * replicated one no other node can take) or when it is pending.
 */
export function countSlots(view: SlotView): SlotCounts {
  const desired = new Set(view.slots);
  let running = 0;
  const waits: { slot: number; why: string; down?: string }[] = [];
  for (const slot of view.slots) {
    const list = view.bySlot.get(slot) ?? [];
    if (list.some((i) => view.current(i) && isReady(i) && view.onUpNode(i))) {
      running++;
      continue;
    }
    const down = list.find((i) => i.desiredState === 'running' && !isTerminal(i.status.state) && !view.onUpNode(i));
    const pending = view.pendingSlots.get(slot);
    const ended = view.endedSlots?.get(slot);
    if (down) waits.push({ slot, why: `node ${down.node} is down`, down: down.node });
    else if (pending !== undefined) waits.push({ slot, why: pending });
    else if (ended !== undefined) waits.push({ slot, why: ended });
  }
  let extra = 0;
  for (const i of view.instances) if (!isTerminal(i.status.state) && (!view.upToDate(i) || !desired.has(i.slot))) extra++;
  return { running, waiting: waits.length, waits: waits.sort((a, b) => a.slot - b.slot), extra };
}

/**
 * `running` when every slot is ready and nothing else lives; `degraded` when nothing is on its way (no
 * create, no stop, nothing outdated, no rollout updating) and every slot that is not ready waits — as
 * Swarm's `service ls` shows a global service with a down node as 2/3, and a DaemonSet is available on
 * the nodes it can schedule on; otherwise `deploying`.
 */
export function phaseOf(counts: SlotCounts, pass: { readonly desired: number; readonly creates: number; readonly stops: number; readonly update: UpdateStatus }): ServicePhase {
  const { running, waiting, extra } = counts;
  if (running === pass.desired && extra === 0 && pass.creates === 0) return 'running';
  const rolling = pass.update.state === 'updating' || pass.update.state === 'rollback_started';
  const idle = extra === 0 && pass.creates === 0 && pass.stops === 0 && !rolling;
  return idle && waiting > 0 && running + waiting === pass.desired ? 'degraded' : 'deploying';
}
