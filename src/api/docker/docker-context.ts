import type { RouteContext } from '../route-context.js';
import type { HostFacts, LocalImages } from './docker-ports.js';

/**
 * What every route file of the Docker face gets. The face is a second door to the same engine: the
 * store, allocation, limits and checks are berth's own (`berth`), never a copy.
 */
export interface DockerContext {
  /** berth's own route context: store, clock, limits, network ranges, instance policy… */
  readonly berth: RouteContext;
  /**
   * The berth grid the face shows. Swarm has no namespaces: every service seen through the Docker face
   * lives in this grid (default `default`); services of other grids are not listed there.
   */
  readonly grid: string;
  /** The engine identity /version and /info report (berth's name and version, the node). */
  readonly engine: {
    /** berth's version, e.g. `0.6.0`. */
    readonly version: string;
    /** The newest Docker API version served (`1.50`, what the docker 28 CLI sends). */
    readonly maxApiVersion: string;
    /** The oldest served (`1.24`, the first with services). */
    readonly minApiVersion: string;
  };
  /** The node's images, looked up locally for the CLI's distribution inspect; absent without a Docker driver. */
  readonly images: LocalImages | undefined;
  /** The machine /version, /info and /nodes describe. */
  readonly host: HostFacts;
  /** How long a create waits for a service of the same name that is being removed, ms (NAME_FREED_WAIT_MS). */
  readonly nameFreedWaitMs: number;
}

/**
 * How long `POST /services/create` waits for a service of the same name that is being removed, ms.
 * Swarm frees a name at once (its tasks stop afterwards); berth keeps the record until the instances
 * drained and stopped, so `docker service rm web && docker service create --name web …` would get 409
 * for that long. The create waits instead, and answers 409 only past this bound (a drain held open).
 */
export const NAME_FREED_WAIT_MS = 30_000;
