import type { ClusterRanges } from '../client/index.js';
import { DEFAULT_NETWORK } from '../drivers/index.js';
import type { DisposableStore, Logger } from '../lib/index.js';
import type { DockerSetup } from './docker-setup.js';
import { setupDocker } from './docker-setup.js';
import { NodeContainerNetwork } from './node-container-network.js';
import type { ServiceRangeRoute } from './node-docker.js';
import { openContainerNetwork, routeForContainers } from './node-docker.js';

/** The Docker side of `berth agent` as start left it. */
export interface AgentDocker {
  /** The engine with the berth bridge, or why there is none (and whether a later probe may find one). */
  readonly docker: DockerSetup;
  /** What the node record says of the bridge, the route and berth's DNS for containers; what sandboxes use. */
  readonly network: NodeContainerNetwork;
  /** The route of the cluster's service range (containers reach virtual IPs through it). */
  readonly route: ServiceRangeRoute;
  /** The bridge's subnet as asked of the engine (SetupDockerOptions.subnet): the cluster's container range; undefined when the server names none. */
  readonly subnet: string | undefined;
}

/**
 * The Docker side of `berth agent` at start, as `berth server` composes its own node's
 * (docs/agent.md, "Images"): the machine's engine (BERTH_DOCKER=auto, the default; `off` disables)
 * with the berth bridge made with the cluster's container range (so that instances with images have
 * addresses unique across nodes; agents sharing one engine share the bridge), the local route of the
 * cluster's service range when it is not loopback (containers reach virtual IPs through this node's
 * proxy), and berth's DNS for containers on the bridge gateway. Containers carry the owner label of
 * this data directory (a hash of its path), so a restarted agent adopts its own and no other's.
 * Never throws for a missing engine: the docker driver is then unavailable, with the reason.
 * @param cluster the ranges of the join or heartbeat answer; undefined from a server too old to say
 *   them: the agent then runs processes only (it cannot know where virtual IPs are)
 */
export async function startAgentDocker(
  dataDir: string,
  cluster: ClusterRanges | undefined,
  options: { readonly env: NodeJS.ProcessEnv; readonly services: ConstructorParameters<typeof NodeContainerNetwork>[0]; readonly owned: DisposableStore; readonly logger: Logger },
): Promise<AgentDocker> {
  const { env, owned, logger } = options;
  const network = new NodeContainerNetwork(options.services);
  if (!cluster) {
    const docker: DockerSetup = { unavailable: 'the server does not say its cluster\'s ranges (an older berth): this node runs processes only', retried: false };
    return { docker, network, route: { routing: false, routed: undefined }, subnet: undefined };
  }
  const off = (env.BERTH_DOCKER ?? 'auto').trim() === 'off';
  if (cluster.containerRange === undefined && !off) {
    logger.warn({ subnet: env.BERTH_DOCKER_SUBNET?.trim() || DEFAULT_NETWORK.subnet }, `the server does not say its cluster's container range (an older berth, or a berth server on one machine whose own Docker engine has not answered): the Docker bridge takes BERTH_DOCKER_SUBNET, else ${DEFAULT_NETWORK.subnet}; give every agent the same one`);
  }
  const subnet = cluster.containerRange;
  const docker = await setupDocker(dataDir, env, logger.child({ part: 'docker' }), subnet !== undefined ? { subnet } : {});
  if (docker.driver) owned.defer(() => docker.driver.dispose());
  else logger.info({ reason: docker.unavailable }, 'the Docker driver is unavailable: instances with images cannot run on this node');
  // Before the proxy binds virtual IPs (a non-loopback range needs the route first). Left at stop: other
  // agents of the cluster on this machine, and the containers that outlive this one, use it too.
  const route = await routeForContainers(cluster.serviceRange, { dockerOn: docker.driver !== undefined, owned, logger, unrouteAtStop: false });
  if (route.routed) logger.warn({ serviceRange: cluster.serviceRange }, route.routed);
  await openContainerNetwork(docker, network, route.routed, { owned, logger });
  return { docker, network, route, subnet };
}
