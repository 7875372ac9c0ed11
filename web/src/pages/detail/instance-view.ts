import type { Instance, InstanceState } from '../../../../src/model/index.js';

// The console may import model/ for types only (docs/console.md, the folder rule), so the few rules
// of model/instance-state.ts and model/instance-health.ts the page needs are spelled again here, with
// the same meaning: a terminal state never changes; ready = running, desired running, probes passing.

const TERMINAL: readonly InstanceState[] = ['complete', 'failed', 'shutdown', 'rejected'];

/** True while the instance's process may still exist (not complete, failed, shutdown or rejected). */
export function isLive(i: Instance): boolean {
  return !TERMINAL.includes(i.status.state);
}

/** Ready for traffic, as endpoints count it (model/instance-health.ts isReady). */
export function isReadyInstance(i: Instance): boolean {
  return i.status.state === 'running' && i.desiredState === 'running' && (i.status.health?.ready ?? true);
}

/** healthy, unhealthy, starting (probes not passed yet), or '' without probes (as `berth service ps`). */
export function healthOf(i: Instance): 'healthy' | 'unhealthy' | 'starting' | '' {
  const h = i.status.health;
  if (!h) return '';
  if (h.ready && h.live) return 'healthy';
  if (h.probes.some((p) => p.result === 'failure')) return 'unhealthy';
  return 'starting';
}

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
