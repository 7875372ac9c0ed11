import type { Instance } from '../model/index.js';
import { isTerminal } from '../model/index.js';

/**
 * How many more slots may start being replaced now: `parallelism` (0 = all, as Swarm; stateful
 * services one at a time) minus the slots already mid-replacement — an instance stopping on purpose,
 * or a replacement that is not running yet.
 *
 * @param slots    the instances of each desired slot, newest first
 * @param current  whether an instance runs the deployed generation
 */
export function replacementBudget(
  parallelism: number,
  stateful: boolean,
  desiredCount: number,
  slots: readonly (readonly Instance[])[],
  current: (i: Instance) => boolean,
): number {
  const limit = stateful ? 1 : parallelism === 0 ? desiredCount : parallelism;
  let inFlight = 0;
  for (const list of slots) {
    const stopping = list.some((i) => i.desiredState === 'shutdown' && !isTerminal(i.status.state));
    const newest = list[0];
    const replacementNotReady =
      newest !== undefined && current(newest) && !isTerminal(newest.status.state) && newest.status.state !== 'running' && list.slice(1).some((i) => !current(i));
    if (stopping || replacementNotReady) inFlight++;
  }
  return Math.max(0, limit - inFlight);
}
