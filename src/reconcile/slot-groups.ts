import type { Instance } from '../model/index.js';
import { isTerminal } from '../model/index.js';

/** Swarm keeps 5 ended tasks per slot (`--task-history-limit`); so does berth. */
export const HISTORY_PER_SLOT = 5;

/**
 * A service's instances per slot, newest first (by creation, then by version): the planner and the
 * explanation read a slot's history the same way.
 */
export function groupBySlot(instances: readonly Instance[]): Map<number, Instance[]> {
  const map = new Map<number, Instance[]>();
  for (const i of instances) {
    const list = map.get(i.slot);
    if (list) list.push(i);
    else map.set(i.slot, [i]);
  }
  for (const list of map.values()) if (list.length > 1) list.sort((a, b) => (a.createdAt === b.createdAt ? b.version - a.version : a.createdAt < b.createdAt ? 1 : -1));
  return map;
}

/** Ids of the ended instances past the per-slot history limit (HISTORY_PER_SLOT), to forget. */
export function trimHistory(bySlot: ReadonlyMap<number, readonly Instance[]>): string[] {
  const out: string[] = [];
  for (const list of bySlot.values()) {
    if (list.length <= HISTORY_PER_SLOT) continue;
    const ended = list.filter((i) => isTerminal(i.status.state));
    out.push(...ended.slice(HISTORY_PER_SLOT).map((i) => i.id));
  }
  return out;
}

/** How many instances are in state running. */
export function countRunning(instances: readonly Instance[]): number {
  return instances.filter((i) => i.status.state === 'running').length;
}
