import type { EventSeverity, EventType } from './event.js';
import type { DesiredState, InstanceState } from './instance-state.js';
import type { ProbeKind } from './probe.js';
import type { ListenerProblem } from './service.js';

/*
 * `berth service why NAME`: one answer to "why is this service not healthy, not converged, paused",
 * with the evidence. Computed on read (reconcile's explainService), never stored: GET …/why answers
 * it with the last log lines of failed containers added; GET …/services/NAME carries it as
 * `explanation` (without log lines, so reading a service stays cheap).
 */

/**
 * The root-cause verdict, most severe first:
 * - removing, not_deployed, stopped: the user's intent says why nothing (or less) runs.
 * - paused: a rollout (update or rollback) stopped on a failure (updateConfig.failureAction pause).
 * - rolled_back: the last update failed and the previous version was restored.
 * - failed: no instance is ready, and at least one slot failed (crashed, rejected, probes failing).
 * - degraded: some slots are not ready because of a failure, the others serve.
 * - converging: a rollout or start is under way with nothing failing (yet).
 * - healthy: every desired instance runs the deployed version and is ready.
 */
export type ExplanationVerdict = 'removing' | 'not_deployed' | 'stopped' | 'paused' | 'rolled_back' | 'failed' | 'degraded' | 'converging' | 'healthy';

/** What one reason is about. */
export type ExplanationReasonKind =
  /** The rollout's update status (paused, rolling back, rolled back) with the controller's message. */
  | 'rollout'
  /** A probe at its failure threshold (readiness: out of the endpoints; liveness/startup: restarted). */
  | 'probe_failing'
  /** An instance that exited on its own (crash, crash loop, restart back-off or restarts used up). */
  | 'crashed'
  /** An instance the agent could not start (bad command, working directory, no address …). */
  | 'rejected'
  /** An instance on its way (new, pending, starting, probes not passed yet). */
  | 'starting'
  /** An instance out of the endpoints waiting for its open connections before it stops. */
  | 'draining'
  /** A warning or error recorded in the events that no instance explains (allocation, refusals …). */
  | 'event'
  /** The user's intent: not deployed, stopped, being removed. */
  | 'intent'
  /** A host listener of the service that cannot be opened (its ListenersOpen condition), with the system's error. */
  | 'listener'
  /** The deployed spec is past a limit of this server (service phase `failed`): nothing runs for it. */
  | 'unrunnable'
  /**
   * The scheduler found no node for a slot (Swarm's "no suitable node (…)", with every node's reason),
   * a slot waits for its down node, or stays on a draining node that no other can relieve.
   */
  | 'unschedulable';

/** The failing probe of an instance, as the agent last reported it. */
export interface ProbeEvidence {
  readonly kind: ProbeKind;
  readonly container: string;
  /** "GET http://127.10.0.7:8080/health", "TCP 127.10.0.3:5432", "exec pg_isready". */
  readonly target: string;
  /** "HTTP 503: warming up", "connect ECONNREFUSED …", "exit 1: …" (at most 1 KiB). */
  readonly lastOutput: string;
  readonly consecutiveFailures: number;
}

/** What a reason rests on; only the parts that apply are present. */
export interface ExplanationEvidence {
  readonly state?: InstanceState;
  /** The instance's own status message ("exited with code 3", "could not start: …"). */
  readonly message?: string;
  readonly probe?: ProbeEvidence;
  readonly exitCode?: number;
  readonly signal?: string;
  /** Consecutive restarts of the slot. */
  readonly restarts?: number;
  /** Open proxied connections while draining. */
  readonly connections?: number;
  /** The last lines the container wrote (at most 5; only in GET …/why). */
  readonly lastLogLines?: readonly string[];
  readonly event?: { readonly id: number; readonly time: string; readonly type: EventType; readonly severity: EventSeverity; readonly message: string };
  /** A listener that is not open: where, which spec field's kind, the error name and its words, since when. */
  readonly listener?: ListenerProblem;
}

export interface ExplanationReason {
  readonly kind: ExplanationReasonKind;
  /** One sentence, root cause first: "web-3 (new) failed its readiness probe GET … 3 times: HTTP 503: warming up". */
  readonly message: string;
  /** The instance id, when the reason is about one instance. */
  readonly instance?: string;
  readonly slot?: number;
  /** The spec generation that instance runs. */
  readonly generation?: number;
  readonly evidence: ExplanationEvidence;
}

/** One row of the instance overview: the newest instance of each slot, plus any other still alive. */
export interface ExplainedInstance {
  readonly slot: number;
  readonly id: string;
  readonly generation: number;
  readonly state: InstanceState;
  readonly desiredState: DesiredState;
  /** healthy, unhealthy, starting, or '' without probes (as `ps`). */
  readonly health: 'healthy' | 'unhealthy' | 'starting' | '';
  /** Ready for traffic (in the endpoints). */
  readonly ready: boolean;
}

export interface ServiceExplanation {
  readonly verdict: ExplanationVerdict;
  /** The verdict in one line: "update to generation 4 paused: web-3 (new) failed its readiness probe …". */
  readonly summary: string;
  /** Most important first; the first one is the root cause the summary names. */
  readonly reasons: readonly ExplanationReason[];
  /** Commands or spec changes that would help: "`berth service rollback web`", "raise updateConfig.monitor". */
  readonly suggestions: readonly string[];
  /** The generation deployed now (null before the first deploy). */
  readonly deployedGeneration: number | null;
  readonly instances: readonly ExplainedInstance[];
}
