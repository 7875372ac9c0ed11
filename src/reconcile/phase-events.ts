import type { NewServiceEvent, Service, ServiceDeployment, ServicePhase } from '../model/index.js';
import { slotName } from '../model/index.js';
import type { SlotCounts } from './service-phase.js';

/*
 * The events of a service's phase transitions (docs/reconcile.md, "Phase events"): planService knows the
 * phase it computes and, from the stored status, the one the last pass wrote — so each transition is
 * said once, by whichever server leads when it happens, and never again on the passes after it (nor
 * by a new leader, which reads the same stored status).
 */

/** Slots named in a `service.degraded` message per reason; the rest are counted. */
const NAMED_SLOTS = 3;
/** Slot numbers a `service.degraded` event lists in `data.slots`. */
const LISTED_SLOTS = 50;

export interface PhaseOutcome {
  /** The phase this pass computed. */
  readonly phase: ServicePhase;
  readonly counts: SlotCounts;
  /** Desired slots. */
  readonly desired: number;
  /** Epoch ms. */
  readonly now: number;
}

/**
 * The events of moving from the stored phase to `outcome.phase`, and the status' `degradedSince`:
 * - into `degraded`, unless a spell is running already (back from a deploying blip within it: a
 *   restart, a replacement on its way): `service.degraded`, a warning naming how many slots wait and
 *   why, grouped by reason (`2 of 3 slots wait: node c is down (web-2, web-3)`); data: generation,
 *   running, waiting, desired, slots (the first 50), nodes (the down nodes slots wait for);
 * - into `running` (from any other phase): `service.converged` (info). After a degraded spell (a
 *   `degradedSince` in the stored status, which `deploying` in between keeps) it says the service is back
 *   to its full count and for how long it was not (`3/3 instance(s) running generation 4 again, after
 *   42.0 s degraded`; data: generation, degradedForMs); otherwise how long the deploy took
 *   (`… 830 ms after the deploy request`; data: generation, convergedAfterMs, which the benchmarks read).
 * `degradedSince` (RFC 3339) is set on entering degraded, kept while degraded or deploying, and dropped
 * once running (any other phase is built without it: a stop or removal ends the spell).
 * As Kubernetes' Deployment condition `Available` (MinimumReplicasAvailable / Unavailable) records its
 * lastTransitionTime; berth names the events after the phase entered, as `service.update_paused` is.
 */
export function phaseEvents(service: Service & { readonly deployment: ServiceDeployment }, outcome: PhaseOutcome): { events: NewServiceEvent[]; degradedSince?: string } {
  const before = service.status.phase;
  const since = service.status.degradedSince;
  const { phase, counts, desired, now } = outcome;
  const { generation } = service.deployment;
  const base = { grid: service.grid, service: service.name };
  if (phase === 'degraded') {
    const events: NewServiceEvent[] = [];
    // Once per spell: not again after a deploying blip within it (a restart, a replacement on its way).
    if (before !== 'degraded' && since === undefined) {
      const nodes = [...new Set(counts.waits.flatMap((w) => (w.down !== undefined ? [w.down] : [])))];
      events.push({
        ...base, type: 'service.degraded', severity: 'warning',
        message: describeWaits(service.name, counts, desired),
        data: { generation, running: counts.running, waiting: counts.waiting, desired, slots: counts.waits.slice(0, LISTED_SLOTS).map((w) => w.slot), nodes },
      });
    }
    return { events, degradedSince: since ?? new Date(now).toISOString() };
  }
  if (phase === 'deploying') return { events: [], ...(since !== undefined ? { degradedSince: since } : {}) };
  if (phase !== 'running' || before === 'running') return { events: [] };
  const head = `${counts.running}/${desired} instance(s) running generation ${generation}`;
  if (since !== undefined || before === 'degraded') {
    const forMs = since !== undefined ? now - Date.parse(since) : undefined;
    return {
      events: [{
        ...base, type: 'service.converged', severity: 'info',
        message: `${head} again${forMs !== undefined ? `, after ${(forMs / 1000).toFixed(1)} s degraded` : ', no longer degraded'}`,
        data: { generation, ...(forMs !== undefined ? { degradedForMs: forMs } : {}) },
      }],
    };
  }
  const tookMs = now - Date.parse(service.deployment.requestedAt);
  return {
    events: [{ ...base, type: 'service.converged', severity: 'info', message: `${head}, ${tookMs} ms after the deploy request`, data: { generation, convergedAfterMs: tookMs } }],
  };
}

/** `2 of 3 slots wait: node c is down (web-2, web-3); no suitable node (…): … (web-4)`. */
function describeWaits(service: string, counts: SlotCounts, desired: number): string {
  const byWhy = new Map<string, number[]>();
  for (const w of counts.waits) {
    const slots = byWhy.get(w.why);
    if (slots) slots.push(w.slot);
    else byWhy.set(w.why, [w.slot]);
  }
  const groups = [...byWhy].map(([why, slots]) => {
    const named = slots.slice(0, NAMED_SLOTS).map((s) => slotName(service, s)).join(', ');
    return `${why} (${named}${slots.length > NAMED_SLOTS ? ` and ${slots.length - NAMED_SLOTS} more` : ''})`;
  });
  return `${counts.waiting} of ${desired} slot${desired === 1 ? '' : 's'} ${counts.waiting === 1 ? 'waits' : 'wait'}: ${groups.join('; ')}`;
}
