import type { Instance } from './instance.js';
import type { ProbeStatus } from './health.js';

/**
 * Ready for traffic: running, still desired running, and its readiness probes passing (or it has none).
 * Endpoints, rollouts and `ps` agree on this one rule.
 */
export function isReady(i: Instance): boolean {
  return i.status.state === 'running' && i.desiredState === 'running' && (i.status.health?.ready ?? true);
}

/** Since when the instance has been ready (epoch ms), or undefined when it is not ready. */
export function readySince(i: Instance): number | undefined {
  if (!isReady(i)) return undefined;
  const at = i.status.health?.readySince ?? i.status.startedAt ?? i.status.timestamp;
  return Date.parse(at);
}

/**
 * A probe that has reached its failure threshold: readiness (the instance is unhealthy, not merely
 * starting), liveness or startup (the instance is being restarted).
 */
export function failingProbe(i: Instance): ProbeStatus | undefined {
  return i.status.health?.probes.find((p) => p.result === 'failure');
}

/** One word for `ps`: healthy, unhealthy, starting (probes not passed yet), or '' without probes. */
export function healthWord(i: Instance): 'healthy' | 'unhealthy' | 'starting' | '' {
  const h = i.status.health;
  if (!h) return '';
  if (h.ready && h.live) return 'healthy';
  if (h.probes.some((p) => p.result === 'failure')) return 'unhealthy';
  return 'starting';
}
