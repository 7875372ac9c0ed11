import type { HostListenerKind } from './host-listeners.js';
import type { ServiceSpec } from './service-spec.js';

/** What the user asked to have running: written only by the API (deploy, scale, start, stop, restart, rm). */
export interface ServiceDeployment {
  /** The spec generation that should run. */
  readonly generation: number;
  readonly spec: ServiceSpec;
  readonly requestedAt: string;
  /** Bumped by `deploy --force` and `restart`: instances of an older restart generation are replaced. */
  readonly restartGeneration: number;
  /**
   * Why this deployment exists: a user's deploy, a user's rollback (`service rollback`), or the
   * controller rolling back a failed update (updateConfig.failureAction = rollback). Absent = deploy.
   */
  readonly cause?: 'deploy' | 'rollback' | 'auto-rollback';
  /** For a rollback: the generation whose spec this deployment restores. */
  readonly rollbackTo?: number;
  /**
   * Set by the store when this deployment's spread preferences (`spec.placement.preferences`) differ
   * from those of the deployment before it — or that deployment had it set and its rollout had not
   * completed: the rollout moves instances until the spread is even (docs/rollouts.md, "Spread
   * changes"). Absent otherwise: a deploy that leaves the preferences alone moves nothing for them.
   */
  readonly spreadChanged?: true;
}

/** Swarm's UpdateStatus.State. */
export type UpdateState = 'updating' | 'paused' | 'completed' | 'rollback_started' | 'rollback_paused' | 'rollback_completed';

/**
 * The rollout of one deployment (Swarm's UpdateStatus), written by the controller. A new deploy
 * request (deployment.requestedAt changes) starts a new one, which also resumes a paused update.
 */
export interface UpdateStatus {
  readonly state: UpdateState;
  /** The deployment this rollout moves to: its generation and requestedAt (the rollout's identity). */
  readonly generation: number;
  readonly requestedAt: string;
  /** The generation that was running when the rollout started (what a rollback goes back to). */
  readonly fromGeneration?: number;
  readonly startedAt: string;
  readonly completedAt?: string;
  /** Says why, in words: which instance, which probe, its last output or exit code. */
  readonly message: string;
  /** New instances of this rollout that failed (exited, rejected, or unhealthy) — counted once each. */
  readonly failedInstances: readonly string[];
  /** Slots that run the new generation and passed the monitor period. */
  readonly updatedInstances: number;
  readonly totalInstances: number;
}

/** One version of a service's spec (its history; `berth service history`, `rollback --to`). */
export interface SpecRevision {
  readonly generation: number;
  readonly spec: ServiceSpec;
  /** When this version was stored (ISO 8601). */
  readonly createdAt: string;
  /** What made it: "create", "update", "deploy", "rollback to 3", "scale"… */
  readonly cause: string;
  /** When it was last deployed (ISO 8601), if ever. */
  readonly deployedAt?: string;
}

/** `GET …/history` (`berth service history`): the versions of a service's spec and which is deployed. */
export interface SpecHistory {
  /** Oldest first (newest last); at most 20 are kept. */
  readonly items: readonly SpecRevision[];
  /** The service's current generation (its spec, deployed or not). */
  readonly generation: number;
  /** The deployed generation; null before the first deploy. */
  readonly deployedGeneration: number | null;
}

/**
 * The service's phase, as Kontena shows it: `initialized` (created, never deployed), `deploying`
 * (instances not yet as asked), `running`, `stopped`, `removing`; `degraded`: nothing is on its way,
 * every instance that can run runs the deployed generation, and the other slots wait — for their node
 * (down) or for a node that fits (pending) — as the status message says; and `failed`: the deployed spec
 * cannot be run by this server (it is past a limit, e.g. a row stored before the limit was lowered),
 * so nothing is started or stopped for it and `status.message` says why.
 */
export type ServicePhase = 'initialized' | 'deploying' | 'running' | 'degraded' | 'stopped' | 'removing' | 'failed';

/** Observed by the controllers; written only by them. */
export interface ServiceStatus {
  readonly phase: ServicePhase;
  /** Instances that should be running now. */
  readonly desiredInstances: number;
  readonly runningInstances: number;
  /** The generation all running instances are on, when they agree. */
  readonly observedGeneration: number;
  readonly message: string;
  readonly updatedAt: string;
  /** The latest rollout (absent before the first deploy). */
  readonly update?: UpdateStatus;
  /**
   * When the service last entered `degraded` (RFC 3339): kept while it stays degraded or deploying, gone
   * once it runs its full count again (or stops), so the `service.converged` event that ends the spell
   * says how long it lasted, whichever server leads then (docs/reconcile.md, "Phase events").
   */
  readonly degradedSince?: string;
  /**
   * What the node's data plane observed (Kubernetes' status.conditions): written by the data plane
   * through `Store.setServiceConditions`, kept as they are by the controllers' status writes. Absent
   * until the data plane has something to say.
   */
  readonly conditions?: readonly ServiceCondition[];
}

/** A host listener of the service that the proxy could not open (or that another service holds). */
export interface ListenerProblem {
  /** `TCP 127.0.0.1:30000`. */
  readonly listener: string;
  readonly kind: HostListenerKind;
  /** The service port it serves: `80/TCP`. */
  readonly servicePort: string;
  /**
   * The system's error name (EADDRINUSE: another program holds it; EADDRNOTAVAIL: the address is not
   * one of this host's; EACCES: a port below 1024 without the privilege), or ADDRESS_CONFLICT: another
   * service holds it.
   */
  readonly error: string;
  /** The error in words, as the system or the relay gave it. */
  readonly message: string;
  /** When it was first seen failing (since it was last open). */
  readonly since: string;
}

/**
 * `ListenersOpen`: whether every host listener of the service (virtual IP, external IPs, load-balancer
 * and node ports) is open. `False` lists the ones that are not; the proxy retries them with back-off
 * and the condition turns `True` when all are open.
 */
export interface ServiceCondition {
  readonly type: 'ListenersOpen';
  readonly status: 'True' | 'False';
  /** `Open`, or the error of the first listener that is not (EADDRINUSE, EADDRNOTAVAIL …). */
  readonly reason: string;
  readonly message: string;
  /** When `status` last changed (RFC 3339). */
  readonly lastTransitionTime: string;
  /** With status False: the listeners that are not open. */
  readonly listeners?: readonly ListenerProblem[];
}

/** User intent about running at all (Kontena's start/stop; rm sets `removing`). Written only by the API. */
export type ServiceDesired = 'running' | 'stopped' | 'removing';

export interface Service {
  readonly id: string;
  readonly grid: string;
  readonly name: string;
  /**
   * Store revision of the last write of the user-owned part (spec, deployment, desired): the
   * compare-and-set token (Swarm's Version.Index). Status writes by controllers do not move it, so
   * background bookkeeping never makes a client's update conflict (Swarm's "update out of sequence").
   */
  readonly version: number;
  /** Counts spec changes: 1 at create (Kontena's revision, Kubernetes' generation). */
  readonly generation: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly spec: ServiceSpec;
  /** null until the first deploy: `create` and `update` do not deploy (Kontena). */
  readonly deployment: ServiceDeployment | null;
  readonly desired: ServiceDesired;
  /**
   * Set by a removal that takes the service's data with it (`DELETE …?volumes=true`, `rm --volumes`):
   * once its instances are gone, each node's agent deletes the per-slot data directories of a stateful
   * service (docs/agent.md). Written only by the API; absent otherwise (the data is kept).
   */
  readonly deleteVolumes?: boolean;
  readonly status: ServiceStatus;
}

/** The key a service is stored and queued under. */
export function serviceKey(grid: string, name: string): string {
  return `${grid}/${name}`;
}
