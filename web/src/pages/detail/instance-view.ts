import type { Instance } from '../../../../src/model/index.js';

// The rules of model/instance-state.ts and model/instance-health.ts, pure modules the console may
// import (the folder rule's exceptions, .dependency-cruiser.cjs): one copy of what "ready" means.
import { healthWord, isReady } from '../../../../src/model/instance-health.js';
import { isTerminal } from '../../../../src/model/instance-state.js';

/** True while the instance's process may still exist (not complete, failed, shutdown or rejected). */
export function isLive(i: Instance): boolean {
  return !isTerminal(i.status.state);
}

/** Ready for traffic, as endpoints count it (model/instance-health.ts isReady). */
export const isReadyInstance: (i: Instance) => boolean = isReady;

/** healthy, unhealthy, starting (probes not passed yet), or '' without probes (as `berth service ps`). */
export const healthOf: (i: Instance) => 'healthy' | 'unhealthy' | 'starting' | '' = healthWord;

/**
 * The instances the page lists: the newest instance of each slot, plus every other one still live
 * (an old one draining during a rollout), slot by slot, newest first within a slot.
 */
export function shownInstances(instances: readonly Instance[]): Instance[] {
  const sorted = [...instances].sort((a, b) => a.slot - b.slot || b.createdAt.localeCompare(a.createdAt));
  const seen = new Set<number>();
  return sorted.filter((i) => {
    const newest = !seen.has(i.slot);
    seen.add(i.slot);
    return newest || isLive(i);
  });
}
