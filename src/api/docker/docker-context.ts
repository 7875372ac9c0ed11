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
}
