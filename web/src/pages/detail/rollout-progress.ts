import type { Instance, Service, UpdateState } from '../../../../src/model/index.js';
import { runsDeployment } from '../../../../src/model/deploy-state.js';
import { isLive, isReadyInstance } from './instance-view.js';

/** One slot during a rollout: the instance on the old generation and the one on the new, if any. */
export interface RolloutSlot {
  readonly slot: number;
  /** The live instance that does not run the deployment (on its way out), if any. */
  readonly old?: { readonly id: string; readonly generation: number; readonly state: string };
  /** The live instance that runs the deployment, if any; `ready` as endpoints count it. */
  readonly new?: { readonly id: string; readonly generation: number; readonly state: string; readonly ready: boolean };
}

export interface RolloutProgress {
  readonly state: UpdateState;
  /** True while the rollout moves (updating, rolling back); false when paused. */
  readonly active: boolean;
  readonly fromGeneration?: number;
  readonly toGeneration: number;
  /** Slots done (on the new generation and past the monitor period), as the controller counts them. */
  readonly updated: number;
  readonly total: number;
  /** 0..100 for the progress bar. */
  readonly percent: number;
  readonly message: string;
  readonly failedInstances: readonly string[];
  readonly slots: readonly RolloutSlot[];
}

const RUNNING_STATES: readonly UpdateState[] = ['updating', 'rollback_started'];
const PAUSED_STATES: readonly UpdateState[] = ['paused', 'rollback_paused'];

/**
 * The rollout to show while a deploy runs (or is paused): undefined when the service has no rollout
 * in progress (never deployed, or its last one completed). `updated` / `total` come from the
 * controller's UpdateStatus (status.update); the per-slot rows from the instances: in each slot, the
 * newest live instance that runs the deployment (model's runsDeployment: its generation, or an earlier
 * one with the same containers and restart generation) and the newest live one that does not, slots
 * in order.
 */
export function rolloutProgress(service: Service, instances: readonly Instance[]): RolloutProgress | undefined {
  const update = service.status.update;
  if (!update || (!RUNNING_STATES.includes(update.state) && !PAUSED_STATES.includes(update.state))) return undefined;
  const bySlot = new Map<number, { old?: RolloutSlot['old']; new?: RolloutSlot['new'] }>();
  // Newest first, so the first instance seen per slot and generation side is the one that counts.
  const live = instances.filter(isLive).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  const { deployment } = service;
  for (const i of live) {
    const row = bySlot.get(i.slot) ?? {};
    // An instance of an earlier generation that runs the deployed containers stays (a scale replaces nothing).
    if (deployment ? runsDeployment(i, deployment) : i.generation === update.generation) {
      row.new ??= { id: i.id, generation: i.generation, state: i.status.state, ready: isReadyInstance(i) };
    } else {
      row.old ??= { id: i.id, generation: i.generation, state: i.status.state };
    }
    bySlot.set(i.slot, row);
  }
  const total = update.totalInstances;
  const updated = Math.min(update.updatedInstances, total);
  return {
    state: update.state,
    active: RUNNING_STATES.includes(update.state),
    ...(update.fromGeneration !== undefined ? { fromGeneration: update.fromGeneration } : {}),
    toGeneration: update.generation,
    updated,
    total,
    percent: total > 0 ? Math.round((updated / total) * 100) : 100,
    message: update.message,
    failedInstances: update.failedInstances,
    slots: [...bySlot.entries()].sort(([a], [b]) => a - b).map(([slot, row]) => ({ slot, ...row })),
  };
}

/** "2 of 5 updated" (a rollback: "2 of 5 rolled back"). */
export function progressText(p: RolloutProgress): string {
  const verb = p.state.startsWith('rollback') ? 'rolled back' : 'updated';
  return `${p.updated} of ${p.total} ${verb}`;
}
