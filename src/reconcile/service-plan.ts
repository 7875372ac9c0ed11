import type { NodeInfo, ServicePhase, SpecLimits, UpdateStatus, NewServiceEvent } from '../model/index.js';
import type { UsageIndex } from './schedule.js';
import type { PendingSlot } from './slot-placement.js';

/** What planService (plan-service.ts) takes besides the service and its instances, and what it returns. */

export interface PlanContext {
  /** Epoch ms. */
  readonly now: number;
  /**
   * Every node the store knows, in any state (down, paused, draining …): the scheduler filters them
   * (schedule.ts) and says why each one cannot take an instance; instances on a node that is down or
   * gone are replaced elsewhere (replicated), on a draining one moved start-first.
   */
  readonly nodes: readonly NodeInfo[];
  /**
   * What every service's active instances reserve and run per node (indexUsage over all of them, built
   * once per pass), or a function that builds it: called only when an instance is placed. Absent: only
   * this service's instances count (nothing else reserves anything).
   */
  readonly usage?: UsageIndex | (() => UsageIndex);
  /** The server's limits; a deployed spec past them is not run (default DEFAULT_SPEC_LIMITS). */
  readonly limits?: SpecLimits;
  /**
   * At most this many slots that never had an instance get one in this pass; the rest are not even
   * placed (`deferred`), so a pass of a 10,000-replica apply schedules what it creates, not 10,000 slots
   * to keep 500 (the controller's MAX_CREATES_PER_PASS). Absent: no limit.
   */
  readonly maxNewSlots?: number;
}

export interface PlannedCreate {
  readonly slot: number;
  readonly node: string;
  readonly restarts: number;
  readonly reason: string;
}

/** What one reconcile pass of a service wants done. The controller fills in ids and addresses. */
export interface ServicePlan {
  readonly create: readonly PlannedCreate[];
  readonly shutdown: readonly { readonly id: string; readonly reason: string }[];
  /** Ended instances whose slot gets a new instance: their desired state becomes shutdown (history). */
  readonly retire: readonly string[];
  /** Ended instances to forget (history beyond the limit, or everything once a removal is done). */
  readonly remove: readonly string[];
  readonly removeService: boolean;
  readonly status: {
    readonly phase: ServicePhase;
    readonly desiredInstances: number;
    readonly runningInstances: number;
    readonly observedGeneration: number;
    readonly message: string;
    readonly update?: UpdateStatus;
    /** When it entered `degraded` (RFC 3339), while degraded or deploying after it (phase-events.ts). */
    readonly degradedSince?: string;
  };
  /** failureAction = rollback tripped: deploy this generation's spec again (if still the latest request). */
  readonly rollback?: { readonly toGeneration: number; readonly ifRequestedAt: string };
  readonly events: readonly NewServiceEvent[];
  /** Look at the service again after this long (a restart back-off is running, or a rollout's monitor window ends). */
  readonly requeueAfterMs?: number;
  /**
   * The requeue is only for a rollout's monitor window (a slot that will count as updated): no restart
   * waits on it, so a slow service's controller may look a little later, with other changes at once.
   */
  readonly requeueForMonitor?: boolean;
  /**
   * Slots whose new instance fits no node (yet), with every node's reason (schedule.ts); also in the
   * status message, where `why` finds them. A slot that cannot leave a draining node is here too.
   */
  readonly pending: readonly PendingSlot[];
  /** Slots that never had an instance and were left for a later pass (PlanContext.maxNewSlots). */
  readonly deferred?: number;
}
