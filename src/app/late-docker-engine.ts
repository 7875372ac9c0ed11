import type { Agent } from '../agent/index.js';
import type { ServiceController } from '../controllers/index.js';
import type { DriverRouter } from '../drivers/index.js';
import type { DisposableStore, Logger } from '../lib/index.js';
import { DOCKER_REPROBE_PING_MS, DockerEngineWatch } from './docker-engine-watch.js';
import type { FoundDocker } from './docker-setup.js';
import { routeServiceRange, setupDocker, startContainerDns } from './docker-setup.js';
import type { EndpointsPublisher } from './endpoints-publisher.js';
import type { NodeContainerNetwork } from './node-container-network.js';

export interface LateDockerEngineDeps {
  readonly dataDir: string;
  readonly env: NodeJS.ProcessEnv;
  /** The bridge's subnet asked for (SetupDockerOptions.subnet): an agent's cluster's container range. */
  readonly subnet?: string;
  readonly router: DriverRouter;
  /**
   * The controller of `berth server`, which learns the container range from the engine; absent on an
   * agent (`berth agent`), whose cluster's leader has the range from the cluster record.
   */
  readonly controller?: Pick<ServiceController, 'addContainerRange'>;
  readonly agent: Pick<Agent, 'useContainerNetwork' | 'sweepUnclaimed'>;
  readonly network: NodeContainerNetwork;
  /** The node's endpoints publisher: berth's DNS for containers starts with its latest snapshot. */
  readonly publisher: Pick<EndpointsPublisher, 'current'>;
  /** The virtual IP range, and whether start routed it already (a non-loopback one is routed with or without an engine). */
  readonly serviceRange: { readonly cidr: string; readonly routed: boolean };
  /** Writes the node record now (a heartbeat), so `drivers` and `containerNetwork` change at once. */
  readonly beat: () => void;
  /** Where the DNS server and the driver are released at the node's stop. */
  readonly owned: DisposableStore;
  /** The node's logger (parts `docker` and `dns` are its children). */
  readonly logger: Logger;
  /** Between probes, ms (default DOCKER_REPROBE_MS; tests shorten it). */
  readonly intervalMs?: number;
}

/**
 * What `berth server` and `berth agent` do when their Docker engine did not answer at start (and
 * BERTH_DOCKER is not off): asks again every DOCKER_REPROBE_MS, and when one answers, does what start
 * does with an engine — the berth network (setupDocker), the route of the service range, berth's DNS
 * for containers — then registers the driver, hands the server's controller the container range
 * (services with images are placed: every service gets a pass), points new sandboxes at the DNS, writes the node record
 * (`drivers`, `containerNetwork` with its problems re-evaluated), and sweeps the engine's containers
 * that no live instance claims. Logs "Docker engine found at HOST". The caller starts and stops it.
 */
export function lateDockerEngine(deps: LateDockerEngineDeps): DockerEngineWatch<FoundDocker> {
  const logger = deps.logger.child({ part: 'docker' });
  return new DockerEngineWatch<FoundDocker>({
    probe: async (signal) => {
      const setup = await setupDocker(deps.dataDir, deps.env, logger, { signal, pingTimeoutMs: DOCKER_REPROBE_PING_MS, ...(deps.subnet !== undefined ? { subnet: deps.subnet } : {}) });
      return setup.driver ? { found: setup } : { unavailable: setup.unavailable };
    },
    adopt: (found, signal) => adoptEngine(deps, found, signal),
    release: (found) => found.driver.dispose(),
    ...(deps.intervalMs !== undefined ? { intervalMs: deps.intervalMs } : {}),
    logger,
  });
}

/** All or nothing: what can fail or wait comes first, and is undone when the node stops meanwhile. */
async function adoptEngine(deps: LateDockerEngineDeps, found: FoundDocker, signal: AbortSignal): Promise<void> {
  const { owned } = deps;
  const logger = deps.logger.child({ part: 'docker' });
  // A loopback range was not routed at start: for it, this only says containers cannot reach virtual IPs.
  const routed = deps.serviceRange.routed ? undefined : await routeServiceRange(deps.serviceRange.cidr, logger);
  const dns = await startContainerDns(found.network, deps.logger.child({ part: 'dns' }));
  if (signal.aborted) {
    if ('server' in dns) await dns.server.stop();
    throw new Error('berth is stopping');
  }
  try {
    deps.router.addImageDriver(found.driver);
  } catch (error) {
    if ('server' in dns) await dns.server.stop();
    throw error;
  }
  // From here on nothing throws: the driver is in, and everything else follows it.
  owned.defer(() => found.driver.dispose());
  if ('server' in dns) {
    owned.defer(() => dns.server.stop());
    const current = deps.publisher.current();
    if (current) void Promise.resolve(dns.server.update(current)).catch((error: unknown) => logger.warn({ err: error }, 'the container DNS did not take the endpoints'));
  } else logger.warn({ network: found.network }, dns.problem);
  deps.network.use(found, routed, dns);
  const agentNetwork = deps.network.agentNetwork();
  if (agentNetwork) deps.agent.useContainerNetwork(agentNetwork);
  const range = deps.network.containerRange();
  if (range) deps.controller?.addContainerRange(range);
  deps.beat();
  logger.info({ host: found.host, network: found.network }, `Docker engine found at ${found.host}`);
  for (const problem of deps.network.problems()) logger.warn({ network: found.network }, problem);
  void deps.agent.sweepUnclaimed(found.driver.name).catch((error: unknown) => logger.warn({ err: error }, 'sweeping the containers of the Docker engine failed'));
}
