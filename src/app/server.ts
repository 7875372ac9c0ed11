import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { Agent, InstanceTelemetry, NodeHeartbeat } from '../agent/index.js';
import type { ApiDeps } from '../api/index.js';
import { TokenAuthenticator, nodeToken, serviceAccountToken, telemetryToken } from '../api/index.js';
import { DEFAULT_NODE_GRACE_MS, NodeController, ServiceController } from '../controllers/index.js';
import { planWhatIf } from '../reconcile/index.js';
import { DriverRouter, ProcessDriver, exitDirsInUse } from '../drivers/index.js';
import { ServiceProxy, heldPorts, readHostSockets, subnetBroadcasts } from '../proxy/index.js';
import type { Logger, SystemUser } from '../lib/index.js';
import { DisposableStore } from '../lib/index.js';
import type { Instance, NodeRegistration, SpecLimits } from '../model/index.js';
import { MemoryNodeLiveness, openSqliteStore, recordHeartbeat } from '../store/index.js';
import { readCliConfig, withContext, writeCliConfig } from '../cli/index.js';
import { consoleDir, listenApi, maxReplicasOf, splitListen } from './api-listen.js';
import { ensureCredentials } from './credentials.js';
import { loadEncryptionKeys, reencryptSecrets } from './encryption-key-file.js';
import { claimDataDir } from './data-dir-lock.js';
import { claimAddressRanges, clusterIdOf } from './range-claims.js';
import { createPrivateFile, secureDataDir } from './data-dir-modes.js';
import { chooseInstanceUser, instancePolicyFor, warnAboutInstanceUser } from './instance-user.js';
import type { ServerTls } from './server-tls.js';
import { serverTls } from './server-tls.js';
import { DATA_PLANE_STALE_MS, dataPlaneDrain, dataPlaneReporter, withClusterBarrier } from './data-plane-drain.js';
import { DataPlaneBarrier } from './data-plane-barrier.js';
import type { DockerApiTlsFiles, DockerFace } from './docker-face.js';
import { dockerApiAddresses, dockerApiTls, startDockerFace } from './docker-face.js';
import { DOCKER_SERVICE_RANGE, setupDocker, wantsRoutableServiceRange } from './docker-setup.js';
import { nodeDriverFacts, openContainerNetwork, routeForContainers } from './node-docker.js';
import { lateDockerEngine } from './late-docker-engine.js';
import { NodeContainerNetwork } from './node-container-network.js';
import { EndpointsPublisher } from './endpoints-publisher.js';
import { ListenerConditionReporter, proxySink } from './listener-conditions.js';
import { createLogger } from './logger.js';
import { DEFAULT_DNS, proxyFromEnv, startDns } from './data-plane.js';
import { storeAgentPorts } from './store-agent-ports.js';
import { BERTH_VERSION } from './version.js';
import { RemoteTelemetry, liveSource, storeTelemetryTargets } from './remote-telemetry.js';

export interface ServerConfig {
  /** Where the store, instance state, logs and stateful data live. */
  readonly dataDir: string;
  /** The SQLite file (default `<dataDir>/berth.db`; `berth server --store sqlite:///path`). */
  readonly storePath?: string;
  /** HOST:PORT of the HTTP API (default 127.0.0.1:7420). Port 0 picks a free one. */
  readonly listen: string;
  /**
   * Instance address range (default: BERTH_INSTANCE_RANGE, else this data directory's earlier one, else
   * 127.10.0.0/16 — or a free alternative when another server holds that; see range-claims.ts).
   */
  readonly instanceRange?: string;
  /** Node name (default: the host name). */
  readonly node?: string;
  /** Where other nodes reach this server's node (`--node-address`; default 127.0.0.1: one machine). */
  readonly nodeAddress?: string;
  /** A node whose heartbeats stopped this long is down and its replicated instances move (`--node-grace`; default 10 s, Swarm's). */
  readonly nodeGraceMs?: number;
  /** Labels of the node when it is first registered (`--node-label`); afterwards `berth node update` owns them. */
  readonly nodeLabels?: Readonly<Record<string, string>>;
  readonly logger?: Logger;
  /**
   * HOST:PORT of the DNS server (default 127.0.0.1:7453; when that port is taken, a free one, reported
   * by GET /v1/version). Port 0 picks a free one.
   */
  readonly dns?: string;
  /** Write the server's log to `<dataDir>/server.log` instead of stderr. */
  readonly logToFile?: boolean;
  /**
   * Add (or refresh) a context with the server's URL and admin token to the CLI config at `path`, as
   * k3s writes a kubeconfig; `berth server` does so for its default data directory.
   */
  readonly cliConfig?: { readonly path: string; readonly context: string };
  /** Who instances run as (`--instance-user`, else BERTH_INSTANCE_USER; default: chooseInstanceUser). */
  readonly instanceUser?: string;
  /** Directories a workingDir may lie in besides the data dir (`--allowed-root`; default: the server's cwd, unless /). */
  readonly allowedRoots?: readonly string[];
  /** PEM files of the API's certificate and key (`--tls-cert`, `--tls-key`); see serverTls. */
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  /** `--encryption-key-file`: secret values encrypted at rest in berth.db (docs/security.md, "Secrets at rest"). */
  readonly encryptionKeyFile?: string;
  /** `--encryption-key-command`: the same keys, printed by a command at start (a KMS's client); not with encryptionKeyFile. */
  readonly encryptionKeyCommand?: string;
  /** More DNS clients (CIDRs) served besides loopback and the instance range (`--dns-allow`). */
  readonly dnsAllow?: readonly string[];
  /**
   * Most replicas one service may ask for (`berth server --max-replicas`); default BERTH_MAX_REPLICAS,
   * else 1000 (model/limits.ts). 1 to 100,000.
   */
  readonly maxReplicas?: number;
  /**
   * Listeners of the Docker Engine API face (`--docker-api`, repeatable): `unix:///PATH`,
   * `tcp://HOST:PORT`, or `off`; default BERTH_DOCKER_API (comma-separated), else `<dataDir>/docker.sock`.
   */
  readonly dockerApi?: readonly string[];
  /** PEM files of the face's TCP listeners (`--docker-api-tls-cert`, `-key`, `-ca`); see dockerApiTls. */
  readonly dockerApiTls?: DockerApiTlsFiles;
}

export interface RunningServer {
  readonly url: string;
  /** The cluster-admin token of `<dataDir>/admin.token`. */
  readonly adminToken: string;
  readonly adminTokenPath: string;
  /** The CLI config the server wrote its context to, if it did. */
  readonly cliConfigPath?: string;
  readonly store: ReturnType<typeof openSqliteStore>;
  /** What the operator must hear of at start, one sentence each (e.g. a range moved away from another server's). */
  readonly notices: readonly string[];
  /** The user instances run as when their spec names none. */
  readonly instanceUser: SystemUser;
  /** The API's certificate when it serves HTTPS. */
  readonly tls: Pick<ServerTls, 'certFile' | 'fingerprint' | 'selfSigned'> | undefined;
  /** Where the Docker API face listens, as DOCKER_HOST takes it; empty when it is off. */
  readonly dockerApi: readonly string[];
  /** True when the face's TCP listeners serve HTTPS. */
  readonly dockerApiTls: boolean;
  /** True when the web console is built (dist/web): it is served at the API's URL. */
  readonly consoleBuilt: boolean;
  /** Stops the server; instances keep running and are re-adopted by the next server on this data dir. */
  stop(): Promise<void>;
}

export { DEFAULT_LISTEN, consoleDir, listenApi, maxReplicasOf, splitListen } from './api-listen.js';

/**
 * The composition root of `berth server`: store → controllers; store → agent (through ports) →
 * driver; agent → telemetry → API. Starts in dependency order and stops in reverse.
 */
export async function startServer(config: ServerConfig): Promise<RunningServer> {
  const dataDir = resolve(config.dataDir);
  const node = config.node ?? hostname();
  // Who runs what (docs/security.md): never root by default; the data dir is traversable only when
  // instances run as another user than the server.
  const euid = process.geteuid?.() ?? 0;
  const instanceUser = chooseInstanceUser({ requested: config.instanceUser ?? process.env.BERTH_INSTANCE_USER, euid, egid: process.getegid?.() ?? 0 });
  secureDataDir(dataDir, { traverse: instanceUser.user.uid !== euid });
  const [host, port] = splitListen(config.listen);
  const limits: SpecLimits = { maxReplicas: maxReplicasOf(config.maxReplicas, process.env) };
  const owned = new DisposableStore();
  owned.add(claimDataDir(dataDir));
  if (config.logToFile) createPrivateFile(join(dataDir, 'server.log'));
  const logger = config.logger ?? createLogger(config.logToFile ? { destination: join(dataDir, 'server.log') } : {});
  warnAboutInstanceUser(instanceUser, { dataDir, logger });
  try {
    const exitDir = join(dataDir, 'exits');
    // Images run when a Docker engine answers (BERTH_DOCKER=off turns it off); else the node says why not,
    // and asks again every few seconds (lateDockerEngine, started with the controllers).
    const docker = await setupDocker(dataDir, process.env, logger.child({ part: 'docker' }));
    if (docker.driver) owned.defer(() => docker.driver.dispose());
    else logger.info({ reason: docker.unavailable }, 'the Docker driver is unavailable: instances with images cannot run on this node');
    // Machine-wide: no two servers hand out the same instance addresses, virtual IPs or node ports.
    // Its agents on this machine (berth agent --join this server) claim the same ranges as its cluster.
    const clusterId = clusterIdOf({ dataDir });
    const { ranges, notices } = await claimAddressRanges(dataDir, {
      env: process.env,
      cluster: clusterId,
      ...(config.instanceRange ? { instanceRange: config.instanceRange } : {}),
      exitDir,
      exitDirsInUse,
      logger: logger.child({ part: 'ranges' }),
      // Only root can make a non-loopback range local (routeServiceRange); without root, virtual IPs stay on
      // loopback. As root, containers can reach them, even from an engine installed after the first start.
      ...(wantsRoutableServiceRange({ dockerOn: docker.driver !== undefined, euid, env: process.env }) ? { defaults: { serviceRange: DOCKER_SERVICE_RANGE } } : {}),
    });
    // A non-loopback range is routed locally with or without Docker; a loopback one matters to containers only.
    const { routing, routed } = await routeForContainers(ranges.serviceRange, { dockerOn: docker.driver !== undefined, owned, logger, unrouteAtStop: true });
    for (const notice of [...notices, ...(routed ? [routed] : [])]) logger.warn({ ranges }, notice);
    const networkRanges = { serviceRange: ranges.serviceRange, nodePortRange: [...ranges.nodePortRange] as [number, number] };
    // HTTPS off loopback (docs/security.md); decided before anything starts, so a bad certificate fails fast.
    const tls = serverTls({ host, dataDir, certFile: config.tlsCert, keyFile: config.tlsKey });
    // The Docker API face's listeners and TLS, checked as early (a non-loopback TCP listener needs TLS).
    const dockerApi = dockerApiAddresses(config.dockerApi, process.env, dataDir);
    const dockerTls = dockerApiTls(dockerApi, config.dockerApiTls ?? {});
    // Where node, load-balancer and published ports are opened: the store's host-listener table claims them
    // there, the API refuses the server's own listeners there, and the proxy opens them.
    // With --node-address, other nodes reach this one there: its node ports and node-published ports open there too.
    const nodeAddress = config.nodeAddress ?? '127.0.0.1';
    const nodeAddresses = [...new Set(['127.0.0.1', nodeAddress])];
    const cipher = await loadEncryptionKeys(config);
    const store = openSqliteStore(config.storePath ?? join(dataDir, 'berth.db'), { nodeAddresses, logger: logger.child({ part: 'store' }), ...(cipher ? { secretCipher: cipher } : {}) });
    owned.defer(() => store.close());
    if (cipher) reencryptSecrets(store, logger);
    const credentials = ensureCredentials(dataDir, store, () => new Date().toISOString(), cipher);
    const processDriver = new ProcessDriver({ exitDir, logger: logger.child({ part: 'driver' }) });
    owned.defer(() => processDriver.dispose());
    const driver = new DriverRouter(processDriver, docker.driver, docker.driver ? undefined : docker.unavailable);
    const network = new NodeContainerNetwork(() => store.listServices());
    const telemetry = new InstanceTelemetry(driver, dataDir);
    // The data plane: the proxy behind virtual IPs, node ports, external and load-balancer addresses,
    // and the DNS server, both fed whole endpoint snapshots by the publisher.
    const proxy = new ServiceProxy({
      nodeAddresses,
      ...proxyFromEnv(process.env, logger),
      logger: logger.child({ part: 'proxy' }),
    });
    const dnsAllow = ['127.0.0.0/8', '::1/128', ranges.instanceRange, ...(config.dnsAllow ?? [])];
    const dns = await startDns(config.dns ?? DEFAULT_DNS, logger.child({ part: 'dns' }), dnsAllow);
    owned.defer(() => dns.server.stop());
    // Containers ask berth's DNS on their bridge gateway, port 53 (their resolv.conf takes no port).
    await openContainerNetwork(docker, network, routed, { owned, logger });
    // The node registers now and then beats every few seconds (the node controller marks it down when
    // the beats stop: an agent of another machine; here, one that hangs).
    const liveness = new MemoryNodeLiveness();
    const heartbeatPeriodMs = Math.max(100, Math.floor((config.nodeGraceMs ?? DEFAULT_NODE_GRACE_MS) / 3));
    // Read on every beat: an engine found later adds the docker driver and the container network.
    const registration = (): Omit<NodeRegistration, 'heartbeatAt'> => ({
      name: node,
      address: nodeAddress,
      ...nodeDriverFacts(driver, network),
      ...(config.nodeLabels ? { labels: config.nodeLabels } : {}),
      ready: true,
    });
    const heartbeat = new NodeHeartbeat({
      send: (registration) => void recordHeartbeat(store, liveness, registration, Date.now()),
      intervalMs: heartbeatPeriodMs,
      registration,
      logger: logger.child({ part: 'heartbeat' }),
    });
    await heartbeat.start();
    owned.defer(() => heartbeat.stop());
    // The agent is made once the API listens (it hands its URL to instances); the volumes route asks it then.
    const late: { agent?: Agent } = {};
    // A listener that did not open (EADDRINUSE, EADDRNOTAVAIL…) makes the publisher sync again after a
    // back-off; each service's ListenersOpen condition and events follow the proxy's listeners.
    const publisher = new EndpointsPublisher(store, [proxySink(proxy), (snapshot) => dns.server.update(snapshot), (snapshot) => network.dnsServer?.update(snapshot)], { nodeAddresses, localNode: node, logger: logger.child({ part: 'endpoints' }) });
    const unsubscribeConditions = new ListenerConditionReporter(store, proxy, { logger: logger.child({ part: 'listeners' }) }).follow(publisher);
    // The Docker face (opened once the API listens) reports its listeners through berth's GET /v1/version.
    let face: DockerFace | undefined;
    // The drain barrier across nodes: what each node's data plane applied (this one's and the agents').
    const dataPlanes = new DataPlaneBarrier({ readyNodes: () => new Set(store.listNodes().filter((n) => n.ready).map((n) => n.name)), staleMs: DATA_PLANE_STALE_MS });
    const ownReports = dataPlaneReporter(async (revision) => dataPlanes.report(node, revision), logger);
    owned.defer(() => ownReports.stop());
    owned.defer(publisher.onApplied(ownReports.report));
    const apiToken = (i: Instance): string => serviceAccountToken({ grid: i.grid, service: i.service, serviceId: i.serviceId }, credentials.serviceAccountKey);
    const apiDeps: ApiDeps = {
      store,
      // `berth plan`: the controller's own planner on the store as it is, nothing written.
      planner: (change) => planWhatIf({ services: store.listServices(), instances: store.listInstances(), nodes: store.listNodes(), now: Date.now(), limits }, change),
      // Agents of other machines join with a join token and act with a node credential (docs/agents.md).
      agents: {
        liveness,
        heartbeatPeriodMs,
        nodeToken: (name, joinedAt) => nodeToken(name, joinedAt, credentials.serviceAccountKey),
        telemetryToken: (name, joinedAt) => telemetryToken(name, joinedAt, credentials.serviceAccountKey),
        apiToken,
        dataPlanes,
      },
      authenticator: new TokenAuthenticator(store, { serviceAccountKey: credentials.serviceAccountKey }),
      // Logs and stats: this node's instances in-process; other nodes' from their agents' telemetry
      // listeners, merged in time order (docs/node-telemetry.md).
      telemetry: new RemoteTelemetry({
        local: { node, reader: telemetry },
        target: storeTelemetryTargets(store, credentials.serviceAccountKey),
        liveSource: (instances) => liveSource(store, instances),
      }),
      endpoints: publisher,
      volumes: { list: (grid, service) => late.agent?.volumes({ grid, ...(service !== undefined ? { service } : {}) }) ?? [] },
      dnsAddress: dns.address,
      networkRanges,
      instancePolicy: instancePolicyFor(instanceUser.user, { dataDir, allowedRoots: config.allowedRoots, cwd: process.cwd() }),
      ...(tls ? { https: { key: tls.key, cert: tls.cert } } : {}),
      nodeAddresses,
      hostPorts: {
        heldPorts: (protocol, hosts) => heldPorts(readHostSockets(), protocol, hosts),
        broadcastAddresses: () => subnetBroadcasts().map((b) => ({ address: b.address, subnet: `${b.cidr} (${b.iface})` })),
      },
      instanceRange: ranges.instanceRange,
      clusterId,
      // Agents joined to this server make their bridges with its subnet, once its engine answered.
      containerRange: () => network.containerRange()?.cidr,
      limits,
      node,
      version: BERTH_VERSION,
      dockerApi: () => face?.addresses ?? [],
      consoleDir: consoleDir(),
      logger: logger.child({ part: 'api' }),
    };
    const { api, url } = await listenApi(apiDeps, host, port, owned);
    // The Docker Engine API face: the same engine behind the Swarm API (docs/docker-api.md). Closed
    // before the API (the store and everything it writes through stay up until both are gone).
    if (dockerApi.length > 0) {
      const { https: _berthTls, ...shared } = apiDeps;
      face = await startDockerFace(dockerApi, {
        // The engine's images, once there is one (it may answer after start).
        deps: { ...shared, apiAddress: () => api.server.address(), images: { inspect: async (ref) => network.found?.images.inspect(ref), count: async () => (await network.found?.images.count()) ?? 0 }, logger: logger.child({ part: 'docker-api' }) },
        tls: dockerTls,
        logger,
      });
      const opened = face;
      owned.defer(() => opened.close());
    }

    // Zero-downtime stop: an instance leaving is drained from the proxy and DNS tables in use before its
    // stop signal (docs/agent.md).
    const dataPlane = withClusterBarrier(dataPlaneDrain(publisher, proxy), (revision, signal) => dataPlanes.wait(revision, { except: node, timeoutMs: 10_000, signal }), logger.child({ part: 'drain' }));
    const agent = new Agent({
      node,
      driver,
      ports: storeAgentPorts(store),
      dataDir,
      apiUrl: url,
      apiToken,
      secretValue: (grid, name, key) => store.getSecretValue(grid, name, key),
      dnsAddress: dns.address,
      ...(network.agentNetwork() ? { containerNetwork: network.agentNetwork() } : {}),
      dataPlane,
      logger: logger.child({ part: 'agent' }),
      ...(instanceUser.switchTo ? { instanceUser: instanceUser.switchTo } : {}),
    });
    late.agent = agent;
    await agent.start();
    owned.defer(() => agent.stop());

    await proxy.start();
    owned.defer(() => proxy.stop());
    publisher.start();
    owned.defer(() => publisher.stop());
    owned.defer(unsubscribeConditions);
    // The agent stops (detaches; stop is idempotent) before the data plane does: a drain in progress is
    // then left to the next berth, instead of ending early because the proxy cut its connections.
    owned.defer(() => agent.stop());

    const controller = new ServiceController({
      store,
      instanceRange: ranges.instanceRange,
      ...(network.containerRange() ? { containerRange: network.containerRange() } : {}),
      limits,
      logger: logger.child({ part: 'controller' }),
    });
    controller.start();
    owned.defer(() => controller.stop());
    const nodeController = new NodeController({ store, liveness, ...(config.nodeGraceMs !== undefined ? { graceMs: config.nodeGraceMs } : {}), logger: logger.child({ part: 'nodes' }) });
    nodeController.start();
    owned.defer(() => nodeController.stop());
    // No engine answered at start: ask again until one does (stopped first at the server's stop).
    if (!docker.driver && docker.retried) {
      const watch = lateDockerEngine({
        dataDir,
        env: process.env,
        router: driver,
        controller,
        agent,
        network,
        publisher,
        serviceRange: { cidr: ranges.serviceRange, routed: routing },
        beat: () => void recordHeartbeat(store, liveness, { ...registration(), heartbeatAt: new Date().toISOString() }, Date.now()),
        owned,
        logger,
      });
      watch.start();
      owned.defer(() => watch.stop());
    }

    if (config.cliConfig) {
      const { path, context } = config.cliConfig;
      try {
        writeCliConfig(path, withContext(readCliConfig(path), { name: context, server: url, token: credentials.adminToken }, false));
      } catch (error) {
        logger.warn({ err: error, path }, 'could not write the CLI config; the admin token is in admin.token');
      }
    }
    logger.info({ url, dataDir, node, instanceUser: instanceUser.user.name, tls: tls?.fingerprint }, 'berth server started');
    const tlsInfo = tls ? { certFile: tls.certFile, fingerprint: tls.fingerprint, selfSigned: tls.selfSigned } : undefined;
    return {
      url,
      store,
      adminToken: credentials.adminToken,
      adminTokenPath: credentials.adminTokenPath,
      ...(config.cliConfig ? { cliConfigPath: config.cliConfig.path } : {}),
      // The route of the range, when it failed, then what containers cannot do (the route again is said once).
      notices: [...new Set([...notices, ...(routed ? [routed] : []), ...network.problems()])],
      instanceUser: instanceUser.user,
      tls: tlsInfo,
      dockerApi: face?.addresses ?? [],
      dockerApiTls: face?.tls ?? false,
      consoleBuilt: existsSync(join(consoleDir(), 'index.html')),
      stop: () => owned.dispose(),
    };
  } catch (error) {
    await owned.dispose();
    throw error;
  }
}
