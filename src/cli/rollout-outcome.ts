import type { Instance, Service } from '../model/index.js';
import { isTerminalState } from './instance-state-view.js';

/*
 * How a command that deployed something knows whether its rollout succeeded, from the service's update
 * status (Swarm's UpdateStatus, written by the controller for every deployment, keyed by the
 * deployment's requestedAt). Kontena's and Swarm's CLIs exit non-zero when the deploy fails; so does
 * berth (docs/cli.md: exit code 1 when the rollout paused, was rolled back, or timed out; 3 when it
 * completed with failed instances).
 */

/** The exit code of a rollout that completed with failed new instances (docs/cli.md, "Rollouts"). */
export const EXIT_ROLLOUT_DEGRADED = 3;

/** What a deploy-like command asked for: the deployment it wrote (its identity is requestedAt). */
export interface RolloutTarget {
  readonly requestedAt: string;
  readonly generation: number;
}

export type RolloutOutcome =
  /** Not decided yet; `why` says what is going on. */
  | { readonly state: 'pending'; readonly why: string }
  | { readonly state: 'done'; readonly message: string }
  /**
   * The rollout completed with failures (failureAction continue, or failures within maxFailureRatio):
   * every slot was tried, some new instances are not running. The wait ends; the command exits 3.
   */
  | { readonly state: 'degraded'; readonly message: string }
  /** The rollout paused or was rolled back: the command fails with `message`. */
  | { readonly state: 'failed'; readonly message: string }
  /** No update status to go by (a server without rollouts) or a newer deploy took over: use plain convergence. */
  | { readonly state: 'unknown' };

/**
 * The outcome of the rollout of `target` as `service` shows it now.
 *
 * - its update status `completed` (or a user's rollback `rollback_completed`): done — or degraded when
 *   it completed with failures (fewer slots updated than it had: failureAction continue);
 * - `paused` / `rollback_paused`: failed, with the controller's message (which instance, which probe, its output);
 * - the deployment replaced by an automatic rollback (`cause: auto-rollback`, failureAction rollback):
 *   failed once that rollback completed or paused (until then pending, so the command shows it);
 * - the update status still about an older deployment: pending (the controller has not taken it up).
 */
export function rolloutOutcome(target: RolloutTarget, service: Service | null): RolloutOutcome {
  const deployment = service?.deployment;
  if (!service || !deployment) return { state: 'unknown' };
  const update = service.status.update;
  if (!update) return { state: 'unknown' };
  if (deployment.requestedAt !== target.requestedAt) {
    if (deployment.cause !== 'auto-rollback' || deployment.requestedAt < target.requestedAt) return { state: 'unknown' };
    const failed = `deploy of generation ${target.generation} failed and was rolled back to generation ${deployment.rollbackTo ?? '?'}`;
    if (update.requestedAt !== deployment.requestedAt) return { state: 'pending', why: `${failed}: the rollback has not started yet` };
    if (update.state === 'rollback_completed' || update.state === 'completed') return { state: 'failed', message: `${failed}: ${update.message}` };
    if (update.state === 'rollback_paused' || update.state === 'paused') return { state: 'failed', message: `${failed}, and the rollback paused: ${update.message}` };
    return { state: 'pending', why: `${failed}: ${update.message}` };
  }
  if (update.requestedAt !== target.requestedAt) return { state: 'pending', why: `the controllers have not taken up the deploy of generation ${target.generation} yet` };
  switch (update.state) {
    case 'completed':
    case 'rollback_completed':
      // Completed with failures: fewer slots updated than the rollout had, and instances that failed
      // (rollout.ts). Fewer updated alone is no failure (a status written by an older berth, whose
      // count dipped while a completed placement change moved instances).
      if (update.updatedInstances < update.totalInstances && update.failedInstances.length > 0) return { state: 'degraded', message: update.message };
      return { state: 'done', message: update.message };
    case 'paused':
    case 'rollback_paused':
      return { state: 'failed', message: update.message };
    default:
      return { state: 'pending', why: update.message };
  }
}

/**
 * `rm --instance`: done once the removed instance has ended and a new instance of its slot is running
 * and ready (its readiness probes pass, or it has none).
 */
export function replacementDone(removed: { readonly instance: string; readonly slot: number }, instances: readonly Instance[]): string | null {
  const old = instances.find((i) => i.id === removed.instance);
  if (old && !isTerminalState(old.status.state)) return `${old.id} is still ${old.desiredState === 'shutdown' ? 'stopping' : old.status.state}`;
  const fresh = instances.filter((i) => i.slot === removed.slot && i.id !== removed.instance && i.desiredState === 'running' && !isTerminalState(i.status.state));
  if (fresh.length === 0) return `no new instance in slot ${removed.slot} yet`;
  const ready = fresh.some((i) => i.status.state === 'running' && (i.status.health?.ready ?? true));
  return ready ? null : `the new instance of slot ${removed.slot} is not ready yet`;
}
