import type { DisposableStore, Logger } from '../lib/index.js';
import { parseCidr } from '../lib/index.js';
import type { DriverRouter } from '../drivers/index.js';
import type { NodeRegistration } from '../model/index.js';
import type { DockerSetup } from './docker-setup.js';
import { routeServiceRange, startContainerDns, unrouteServiceRange } from './docker-setup.js';
import type { NodeContainerNetwork } from './node-container-network.js';

/*
 * The Docker side of a node, as `berth server`'s node and `berth agent` both compose it
 * (docs/networking.md, "Containers"): the route of the service range, berth's DNS for containers on
 * the bridge gateway, and what the node record says of them. The engine itself is setupDocker's, and
 * an engine that answers only later is lateDockerEngine's.
 */

/** Whether the service range is routed locally, and why not when that failed. */
export interface ServiceRangeRoute {
  /** True when the range needs the local route: containers run here, or the range is not loopback. */
  readonly routing: boolean;
  /** The route's problem (routeServiceRange), undefined when virtual IPs are local addresses. */
  readonly routed: string | undefined;
}

/**
 * Makes the service range local (`ip route replace local RANGE dev lo`) when the node needs it: a
 * non-loopback range is routed with or without Docker (the proxy binds virtual IPs there); a loopback
 * one matters to containers only, and is never routed. Called before the proxy starts.
 * @param options.unrouteAtStop take the route away at the node's stop (`berth server`, which owns the
 *   machine's range); an agent leaves it, as other agents of its cluster on the machine use it too
 */
export async function routeForContainers(serviceRange: string, options: { readonly dockerOn: boolean; readonly owned: DisposableStore; readonly logger: Logger; readonly unrouteAtStop: boolean }): Promise<ServiceRangeRoute> {
  const routing = options.dockerOn || parseCidr(serviceRange).first >>> 24 !== 127;
  const routed = routing ? await routeServiceRange(serviceRange, options.logger) : undefined;
  if (routing && routed === undefined && options.unrouteAtStop) options.owned.defer(() => unrouteServiceRange(serviceRange));
  return { routing, routed };
}

/**
 * Takes an engine found at start into the node's container network: berth's DNS for containers on
 * the bridge gateway, port 53 (stopped with the node), or the problem that it could not listen (port
 * 53 needs root; two agents sharing one engine share one bridge, and only the first gets the port —
 * the other says so on its node record). Nothing without an engine.
 */
export async function openContainerNetwork(docker: DockerSetup, network: NodeContainerNetwork, routed: string | undefined, options: { readonly owned: DisposableStore; readonly logger: Logger }): Promise<void> {
  if (!docker.driver) return;
  const containerDns = await startContainerDns(docker.network, options.logger.child({ part: 'dns' }));
  if ('server' in containerDns) options.owned.defer(() => containerDns.server.stop());
  else options.logger.warn({ network: docker.network }, containerDns.problem);
  // What containers here cannot do, with its fix: on the node record (berth version, node show) and said at start.
  network.use(docker, routed, containerDns);
}

/** What a node record says of the node's drivers and container network, read on every beat (an engine found later changes it). */
export function nodeDriverFacts(router: DriverRouter, network: NodeContainerNetwork): Pick<NodeRegistration, 'drivers' | 'unavailableDrivers' | 'containerNetwork'> {
  const drivers = router.drivers();
  const containerNetwork = network.record();
  return {
    drivers: drivers.available,
    ...(Object.keys(drivers.unavailable).length > 0 ? { unavailableDrivers: drivers.unavailable } : {}),
    ...(containerNetwork ? { containerNetwork } : {}),
  };
}
