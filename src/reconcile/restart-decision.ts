import { parseDuration } from '../lib/index.js';
import type { Instance, RestartPolicy } from '../model/index.js';

/** Kubernetes caps the crash back-off at 5 minutes. */
export const MAX_RESTART_BACKOFF_MS = 5 * 60_000;
/** Kubernetes resets the back-off once a container has run cleanly for 10 minutes. */
export const BACKOFF_RESET_AFTER_MS = 10 * 60_000;

/**
 * How long an instance must have run for its slot's back-off to start again from `delay` (ms):
 * `restartPolicy.window` when set (the span the policy judges restarts over, as for maxAttempts),
 * else 10 min (Kubernetes' CrashLoopBackOff reset).
 */
export function backoffResetAfterMs(policy: RestartPolicy): number {
  const window = parseDuration(policy.window);
  return window > 0 ? window : BACKOFF_RESET_AFTER_MS;
}

export type RestartDecision =
  /** Start a replacement now; `restarts` is the count the new instance carries. */
  | { readonly kind: 'restart'; readonly restarts: number; readonly reason: string }
  /** Start a replacement at `at` (epoch ms). */
  | { readonly kind: 'wait'; readonly at: number; readonly reason: string }
  /** Leave the slot empty: the policy says no (condition none/on-failure, or attempts used up). */
  | { readonly kind: 'none'; readonly reason: string };

/**
 * `Instance.restarts` counts consecutive restarts of a slot, so it is both what `ps` shows and the
 * back-off exponent; a run of `backoffResetAfterMs` (window, else 10 min) starts the count again.
 *
 * Whether and when to replace an instance that ended on its own (desired state still running).
 *
 * Swarm's fields: `condition` none | on-failure | any; `maxAttempts` restarts within `window`
 * (0 = unlimited / unbounded). The delay is `delay` for the first restart and doubles with every
 * consecutive one, capped at 5 min, and the count resets when the instance had run for `window`
 * (when set; else 10 min, Kubernetes' CrashLoopBackOff rule) — so a slot whose instances were killed
 * in a row long ago heals at the first delay again once one of them has run well.
 *
 * @param ended     the newest instance of the slot; terminal
 * @param history   every instance of the slot (for `maxAttempts` within `window`)
 * @param now       epoch ms
 */
export function restartDecision(
  policy: RestartPolicy,
  ended: Instance,
  history: readonly Instance[],
  now: number,
): RestartDecision {
  const exitCode = ended.status.exitCode;
  const what = describeEnd(ended);
  if (policy.condition === 'none') return { kind: 'none', reason: `${what}; restart condition is none` };
  if (policy.condition === 'on-failure' && ended.status.state === 'complete') {
    return { kind: 'none', reason: `${what}; restart condition is on-failure and it exited with code ${exitCode ?? 0}` };
  }

  const finishedAt = Date.parse(ended.status.finishedAt ?? ended.status.timestamp);
  const startedAt = ended.status.startedAt ? Date.parse(ended.status.startedAt) : finishedAt;
  const ranLong = finishedAt - startedAt >= backoffResetAfterMs(policy);

  if (policy.maxAttempts > 0) {
    const windowMs = parseDuration(policy.window);
    const attempts = history.filter((i) => i.restarts > 0 && (windowMs === 0 || now - Date.parse(i.createdAt) <= windowMs)).length;
    if (attempts >= policy.maxAttempts) {
      return { kind: 'none', reason: `${what}; gave up after ${attempts} restart attempt(s) (restartPolicy.maxAttempts ${policy.maxAttempts})` };
    }
  }

  const consecutive = ranLong ? 0 : ended.restarts;
  const base = parseDuration(policy.delay);
  const backoff = Math.min(MAX_RESTART_BACKOFF_MS, base * 2 ** Math.min(consecutive, 20));
  const at = finishedAt + backoff;
  const restarts = consecutive + 1;
  if (now >= at) return { kind: 'restart', restarts, reason: `${what}; restart ${restarts}` };
  return { kind: 'wait', at, reason: `${what}; restarting in ${Math.ceil((at - now) / 1000)}s (back-off ${backoff} ms)` };
}

/** "exited with code 137 (SIGKILL)", "could not start: …". */
export function describeEnd(instance: Instance): string {
  const s = instance.status;
  if (s.state === 'rejected') return `could not start: ${s.message}`;
  if (s.exitCode === undefined) return s.message || `ended (${s.state})`;
  return `exited with code ${s.exitCode}${s.signal ? ` (${s.signal})` : ''}`;
}
