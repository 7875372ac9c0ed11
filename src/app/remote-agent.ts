import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, hostname, machine, platform, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { Agent, InstanceTelemetry, NodeHeartbeat } from '../agent/index.js';
import { createNodeTelemetryApi } from '../api/index.js';
import type { ClusterRanges, FetchFunction, NodeFacts } from '../client/index.js';
import { NodeAgentClient, failoverFetch, isApiError } from '../client/index.js';
import { DriverRouter, ProcessDriver, exitDirsInUse } from '../drivers/index.js';
import type { TlsTrust } from '../cli/index.js';
import { tlsFetch } from '../cli/index.js';
import type { Logger } from '../lib/index.js';
import { DisposableStore } from '../lib/index.js';
import type { AddressRanges } from './address-ranges.js';
import { claimDataDir } from './data-dir-lock.js';
import { claimClusterRanges } from './range-claims.js';
import { secureDataDir } from './data-dir-modes.js';
import { chooseInstanceUser, warnAboutInstanceUser } from './instance-user.js';
import { createLogger } from './logger.js';
import { RemoteAgentPorts } from './remote-agent-ports.js';
import { ClusterMirror } from './cluster-mirror.js';
import type { NodeDataPlaneOptions } from './node-data-plane.js';
import { startNodeDataPlane } from './node-data-plane.js';
import { dataPlaneReporter } from './data-plane-drain.js';
import { startAgentDocker } from './agent-docker.js';
import { lateDockerEngine } from './late-docker-engine.js';
import { nodeDriverFacts } from './node-docker.js';
import type { ServerTls } from './server-tls.js';
import { selfSignedTls } from './server-tls.js';

/** How long an instance's stop waits for the other nodes' data planes (the server answers by then). */
const BARRIER_TIMEOUT_MS = 10_000;

/** `berth agent` (docs/agents.md). */
export interface AgentConfig {
  /** The server's API URL (`--join`). */
  readonly server: string;
  /** A join token (role `node`, `berth node join-token`); needed only until the node has its own credential. */
  readonly joinToken?: string;
  /** The node's name (`--name`; default the host name). */
  readonly node?: string;
  /** Where this node's node ports and published ports open, as other nodes reach it (`--address`; default 127.0.0.1). */
  readonly address?: string;
  /** Labels when the node is first registered (`--label`). */
  readonly labels?: Readonly<Record<string, string>>;
  /** The agent's own state: its credential, instance files, logs, stateful data. */
  readonly dataDir: string;
  /** Who instances run as when their spec names none (as `berth server --instance-user`). */
  readonly instanceUser?: string;
  /** How an https server is trusted (its self-signed certificate or CA file, or a pinned fingerprint). */
  readonly tls?: TlsTrust;
  /** The node's DNS server and proxy (`--dns`, `--proxy`). */
  readonly dataPlane?: Pick<NodeDataPlaneOptions, 'dns' | 'proxy' | 'dnsAllow'>;
  /**
   * Port of the node's telemetry listener at `address`, where the servers read its instances' logs and
   * stats (`--telemetry-port`; default 10250, the kubelet's; 0: none, and the servers say they cannot
   * read this node). docs/node-telemetry.md.
   */
  readonly telemetryPort?: number;
  /** Heartbeat interval (default 3 s). */
  readonly heartbeatMs?: number;
  readonly logger?: Logger;
}

export interface RunningAgent {
  readonly node: string;
  /** `host:port` of the node's telemetry listener, when it runs. */
  readonly telemetryAddress: string | undefined;
  /** SHA-256 of its certificate (HTTPS), or undefined (plain HTTP: no openssl). */
  readonly telemetryFingerprint: string | undefined;
  /** `host:port` of the node's DNS server, when it runs. */
  readonly dnsAddress: string | undefined;
  /** The Docker engine images run on (DOCKER_HOST's notation) and its berth bridge, or why none answered at start. */
  readonly docker: { readonly host: string; readonly network: string; readonly subnet: string } | { readonly unavailable: string };
  stop(): Promise<void>;
}

/** The node credential an agent keeps in `<data-dir>/agent.json` (mode 0600), per server. */
interface SavedCredential {
  readonly server: string;
  readonly node: string;
  readonly token: string;
}

/** The kubelet's port: where the servers read a node's logs and stats unless `--telemetry-port` says otherwise. */
export const DEFAULT_TELEMETRY_PORT = 10250;

function machineFacts(address: string, telemetry: { readonly port: number; readonly fingerprint: string | undefined } | undefined): NodeFacts {
  return {
    address,
    drivers: ['process'],
    os: platform(),
    arch: machine(),
    capacity: { cpus: availableParallelism(), memoryBytes: totalmem() },
    ...(telemetry ? { telemetryPort: telemetry.port, ...(telemetry.fingerprint ? { telemetryFingerprint: telemetry.fingerprint } : {}) } : {}),
  };
}

/**
 * The telemetry listener's serving certificate, as the kubelet's self-signed one but with no CA to
 * trust: a P-256 pair in `<data>/tls/` (key 0600), kept across restarts, made with openssl on first use.
 * The servers pin its fingerprint (docs/node-telemetry.md, "TLS"). Without openssl: plain HTTP, said
 * in a warning.
 */
export function telemetryTls(dataDir: string, address: string, options: { readonly logger: Logger; readonly openssl?: string | null }): ServerTls | undefined {
  const { logger } = options;
  try {
    return selfSignedTls({ dir: join(dataDir, 'tls'), host: address, ...(options.openssl === undefined ? {} : { openssl: options.openssl }) });
  } catch (error) {
    logger.warn({ err: error }, `the telemetry listener serves plain HTTP: no certificate could be made for it (${(error as Error).message}); install openssl so that the telemetry token and the logs do not cross the network in clear`);
    return undefined;
  }
}

function readSaved(path: string): SavedCredential | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const saved = JSON.parse(readFileSync(path, 'utf8')) as Partial<SavedCredential>;
    return typeof saved.server === 'string' && typeof saved.node === 'string' && typeof saved.token === 'string' ? (saved as SavedCredential) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The composition root of `berth agent --join URL`: the node side of berth on a machine of its own —
 * joins the server (once; the node credential is kept in the data directory), then runs the instances
 * the control plane assigns to the node through the process driver, and the Docker driver when the
 * machine's engine answers (agent-docker.ts), reports their statuses, and beats every few seconds. Stopping it leaves instances running (the next agent re-adopts them), as the server.
 * @throws Error when it cannot join (the server's message: a wrong token, a name in use…)
 */
export async function startAgent(config: AgentConfig): Promise<RunningAgent> {
  const dataDir = resolve(config.dataDir);
  const node = config.node ?? hostname();
  const euid = process.geteuid?.() ?? 0;
  const instanceUser = chooseInstanceUser({ requested: config.instanceUser ?? process.env.BERTH_INSTANCE_USER, euid, egid: process.getegid?.() ?? 0 });
  secureDataDir(dataDir, { traverse: instanceUser.user.uid !== euid });
  const owned = new DisposableStore();
  owned.add(claimDataDir(dataDir));
  const logger = config.logger ?? createLogger({});
  warnAboutInstanceUser(instanceUser, { dataDir, logger });
  try {
    const address = config.address ?? '127.0.0.1';
    // The telemetry listener opens first (its port is one of the node's facts); it answers 503 until a
    // join or heartbeat answer brought the token and the node's instances are listed (docs/node-telemetry.md).
    const late: { reader?: InstanceTelemetry; ports?: RemoteAgentPorts; token?: string } = {};
    const telemetryPort = config.telemetryPort ?? DEFAULT_TELEMETRY_PORT;
    let telemetryAddress: string | undefined;
    let fingerprint: string | undefined;
    if (telemetryPort !== 0) {
      const tls = telemetryTls(dataDir, address, { logger });
      fingerprint = tls?.fingerprint;
      const api = createNodeTelemetryApi({
        ...(tls ? { https: { key: tls.key, cert: tls.cert } } : {}),
        node,
        reader: {
          logs: (source, query) => (late.reader as InstanceTelemetry).logs(source, query),
          stats: (instances) => (late.reader as InstanceTelemetry).stats(instances),
        },
        instance: (id) => late.ports?.instance(id),
        // Not before the node's instances are listed and its reader exists: until then, 503.
        token: () => (late.reader && late.ports ? late.token : undefined),
        logger: logger.child({ part: 'telemetry' }),
      });
      try {
        await api.listen({ host: address, port: telemetryPort });
      } catch (error) {
        throw new Error(`the telemetry listener cannot open ${address}:${telemetryPort} (${(error as Error).message}): choose another --telemetry-port, or 0 for none (the servers then cannot read this node's logs and stats)`);
      }
      owned.defer(() => api.close());
      telemetryAddress = `${address.includes(':') ? `[${address}]` : address}:${telemetryPort}`;
    }
    const facts = machineFacts(address, telemetryPort === 0 ? undefined : { port: telemetryPort, fingerprint });
    const credentialPath = join(dataDir, 'agent.json');
    // Several servers of one cluster (`--join URL1,URL2`): requests go to one, and to the next when it is unreachable.
    const servers = config.server.split(',').map((s) => s.trim().replace(/\/+$/, '')).filter((s) => s !== '');
    const server = servers[0] as string;
    const base: FetchFunction = config.tls && servers.some((s) => s.startsWith('https:')) ? tlsFetch(config.tls) : (input, init) => fetch(input, init);
    const fetchOption = {
      fetch: failoverFetch(servers, base, (from, to, error) => logger.warn({ from, to, err: error }, 'the server is unreachable: using the next one')),
    };
    let saved = readSaved(credentialPath);
    const savedServers = saved ? saved.server.split(',') : [];
    if (saved && (!savedServers.some((s) => servers.includes(s)) || saved.node !== node)) saved = undefined;
    // `refused`: the saved credential was refused (401): the node was removed (`berth node rm`), so its
    // credential died with it; saying "no credential" there sent users looking for a missing file.
    const joinCluster = async (refused = false): Promise<string> => {
      if (!config.joinToken) {
        throw new Error(
          refused
            ? `node "${node}" is no longer a node of ${server}: its credential in ${credentialPath} is refused (401: the node was removed, \`berth node rm\`); give a join token to join again (--token; berth node join-token on a server)`
            : `node "${node}" has no credential for ${server} in ${credentialPath}: give a join token (--token; berth node join-token on the server)`,
        );
      }
      const joined = await new NodeAgentClient({ baseUrl: server, token: config.joinToken, ...fetchOption }).join(node, facts, config.labels).catch((error: unknown) => {
        // The server's words alone ("invalid bearer token: …") did not say which token it meant.
        if (isApiError(error) && (error.status === 401 || error.status === 403)) {
          throw new Error(`the join token (--token or BERTH_JOIN_TOKEN) is refused by ${server}: ${error.message}; make one with \`berth node join-token\` on a server`);
        }
        throw error;
      });
      writeFileSync(credentialPath, `${JSON.stringify({ server: servers.join(','), node, token: joined.token } satisfies SavedCredential)}\n`, { mode: 0o600 });
      late.token = joined.telemetryToken;
      logger.info({ node, server }, 'joined');
      return joined.token;
    };
    let token = saved?.token ?? (await joinCluster());
    let client = new NodeAgentClient({ baseUrl: server, token, ...fetchOption });
    let cluster: ClusterRanges | undefined;
    try {
      const answer = await client.heartbeat(node, facts);
      late.token = answer.telemetryToken ?? late.token;
      cluster = answer.cluster;
    } catch (error) {
      // The node was removed (its credential died with it): join again.
      if (!(isApiError(error) && error.status === 401)) throw error;
      token = await joinCluster(true);
      client = new NodeAgentClient({ baseUrl: server, token, ...fetchOption });
      cluster = (await client.heartbeat(node, facts)).cluster;
    }
    // This node's instances take addresses of the cluster's instance range here, and its proxy opens
    // the cluster's virtual IPs and node ports: claimed in the machine's registry (BERTH_RANGES_DIR)
    // before any of them is used, so another berth on this machine neither collides nor is collided with.
    if (cluster) {
      const ranges = parseClusterRanges(cluster);
      await claimClusterRanges(dataDir, ranges, { env: process.env, exitDir: join(dataDir, 'exits'), exitDirsInUse, logger: logger.child({ part: 'ranges' }), cluster: cluster.id });
    } else logger.warn({ server }, 'the server does not say its cluster\'s ranges (an older berth): not claiming them on this machine');

    // One informer for the agent and the data plane: the cluster mirror lists and watches everything;
    // the agent's ports list the node's instances after it (so their revision is the same or later: no gap).
    const mirror = new ClusterMirror(client, logger.child({ part: 'mirror' }));
    await mirror.sync();
    const ports = new RemoteAgentPorts(client, node, logger.child({ part: 'informer' }));
    await ports.sync();
    ports.follow(mirror);
    late.ports = ports;
    owned.defer(() => ports.stop());

    // The node's data plane: its own DNS server and proxy over every service's endpoints (the proxy
    // opens virtual IPs, node ports and load-balancer addresses on this machine).
    // The drain barrier across nodes: this node's applied revisions go to the server, and an instance of
    // this node stops once every node's data plane dropped it (at most 10 s more; its drainTimeout bounds it too).
    const reporter = dataPlaneReporter((revision) => client.reportDataPlane(node, revision), logger);
    owned.defer(() => reporter.stop());
    const barrier = {
      report: reporter.report,
      behind: (revision: number, signal: AbortSignal) => client.dataPlaneBarrier(node, revision, BARRIER_TIMEOUT_MS, signal),
    };
    // Images run when the machine's Docker engine answers, on a bridge with the cluster's container range;
    // the route of the service range comes before the proxy binds virtual IPs in it.
    const { docker, network, route, subnet } = await startAgentDocker(dataDir, cluster, { env: process.env, services: () => mirror.listServices(), owned, logger });
    const dataPlane = await startNodeDataPlane(mirror, {
      ...config.dataPlane,
      nodeAddresses: [facts.address],
      localNode: node,
      logger,
      owned,
      barrier,
      // berth's DNS for containers answers the same records (once it listens: at start, or with a late engine).
      sinks: [(snapshot) => network.dnsServer?.update(snapshot)],
    });
    const processDriver = new ProcessDriver({ exitDir: join(dataDir, 'exits'), logger: logger.child({ part: 'driver' }) });
    owned.defer(() => processDriver.dispose());
    const driver = new DriverRouter(processDriver, docker.driver, docker.driver ? undefined : docker.unavailable);
    // Read on every beat: an engine found later adds the docker driver and the container network.
    const nodeFacts = (): NodeFacts => ({ ...facts, ...nodeDriverFacts(driver, network) });
    late.reader = new InstanceTelemetry(driver, dataDir);
    const agentNetwork = network.agentNetwork();
    const agent = new Agent({
      node,
      driver,
      ...(agentNetwork ? { containerNetwork: agentNetwork } : {}),
      ports,
      dataDir,
      apiUrl: server,
      apiToken: (i) => ports.apiToken(i) ?? '',
      secretValue: (grid, name, key) => ports.secretValue(grid, name, key),
      ...(dataPlane.dnsAddress ? { dnsAddress: dataPlane.dnsAddress } : {}),
      ...(dataPlane.drain ? { dataPlane: dataPlane.drain } : {}),
      logger: logger.child({ part: 'agent' }),
      ...(instanceUser.switchTo ? { instanceUser: instanceUser.switchTo } : {}),
    });
    await agent.start();
    owned.defer(() => agent.stop());
    mirror.follow();
    owned.defer(() => mirror.stop());
    let failing = false;
    const heartbeat = new NodeHeartbeat({
      send: async () => {
        let answer;
        try {
          answer = await client.heartbeat(node, nodeFacts());
        } catch (error) {
          failing = true;
          throw error;
        }
        // The token the servers present to the telemetry listener (the node may have joined again).
        if (answer.telemetryToken !== undefined) late.token = answer.telemetryToken;
        // Back after an outage: the watch connection may be half-open; resume it from the last revision.
        if (failing) mirror.reconnect();
        failing = false;
        return answer.heartbeatPeriodMs;
      },
      registration: () => ({ name: node, ...nodeFacts(), ready: true }),
      ...(config.heartbeatMs !== undefined ? { intervalMs: config.heartbeatMs } : {}),
      logger: logger.child({ part: 'heartbeat' }),
    });
    await heartbeat.start();
    owned.defer(() => heartbeat.stop());
    // No engine answered at start: ask again until one does (stopped first at the agent's stop).
    if (!docker.driver && docker.retried && cluster) {
      const watch = lateDockerEngine({
        dataDir,
        env: process.env,
        ...(subnet !== undefined ? { subnet } : {}),
        router: driver,
        agent,
        network,
        publisher: dataPlane,
        serviceRange: { cidr: cluster.serviceRange, routed: route.routing },
        beat: () => void client.heartbeat(node, nodeFacts()).catch((error: unknown) => logger.warn({ err: error }, 'the heartbeat with the Docker driver failed; the next one says it')),
        owned,
        logger,
      });
      watch.start();
      owned.defer(() => watch.stop());
    }
    logger.info({ node, server, address: facts.address, telemetry: telemetryAddress, dataDir }, 'berth agent started');
    const engine = docker.driver ? { host: docker.host, network: docker.network.name, subnet: docker.network.subnet } : { unavailable: docker.unavailable };
    return { node, dnsAddress: dataPlane.dnsAddress, telemetryAddress, telemetryFingerprint: fingerprint, docker: engine, stop: () => owned.dispose() };
  } catch (error) {
    await owned.dispose();
    throw error;
  }
}

/** The ranges of a join or heartbeat answer as the range registry holds them. @throws Error for a malformed node-port range. */
function parseClusterRanges(cluster: ClusterRanges): AddressRanges {
  const ports = /^(\d+)-(\d+)$/.exec(cluster.nodePortRange);
  if (!ports) throw new Error(`the server's node-port range "${cluster.nodePortRange}" is not FROM-TO`);
  return { instanceRange: cluster.instanceRange, serviceRange: cluster.serviceRange, nodePortRange: [Number(ports[1]), Number(ports[2])] };
}
