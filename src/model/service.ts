import type { ServiceSpec } from './service-spec.js';

/** What the user asked to have running: written only by the API (deploy, scale, start, stop, restart, rm). */
export interface ServiceDeployment {
  /** The spec generation that should run. */
  readonly generation: number;
  readonly spec: ServiceSpec;
  readonly requestedAt: string;
  /** Bumped by `deploy --force` and `restart`: instances of an older restart generation are replaced. */
  readonly restartGeneration: number;
}

/**
 * The service's phase, as Kontena shows it: `initialized` (created, never deployed), `deploying`
 * (instances not yet as asked), `running`, `stopped`, `removing`.
 */
export type ServicePhase = 'initialized' | 'deploying' | 'running' | 'stopped' | 'removing';

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
  readonly status: ServiceStatus;
}

/** The key a service is stored and queued under. */
export function serviceKey(grid: string, name: string): string {
  return `${grid}/${name}`;
}
