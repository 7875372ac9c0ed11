import { randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { ApiDeps, DockerApiDeps, LeaderRouting } from '../api/index.js';
import { TokenAuthenticator, controlPlaneName, createDockerApi, dispatchDockerRelay, nodeToken, serviceAccountToken, telemetryToken } from '../api/index.js';
import { DEFAULT_NODE_GRACE_MS, NodeController, ServiceController } from '../controllers/index.js';
import type { Logger } from '../lib/index.js';
import { CodedError, DisposableStore } from '../lib/index.js';
import { planWhatIf } from '../reconcile/index.js';
import type { Compare } from '../store/index.js';
import { LeaderElection, MemoryNodeLiveness, ReplicaWriter, ServerRegistry, StoreReplica, openKvBackend, openSqliteStore, parseStoreUrl, startCompaction } from '../store/index.js';
import { controllerContainerRange, loadClusterConfig } from './cluster-config.js';
import { loadEncryptionKeys, reencryptSecrets } from './encryption-key-file.js';
import { DataPlaneBarrier } from './data-plane-barrier.js';
import type { DockerApiTlsFiles, DockerFace } from './docker-face.js';
import { dockerApiAddresses, dockerApiTls, startDockerFace } from './docker-face.js';
import { DATA_PLANE_STALE_MS } from './data-plane-drain.js';
import { ensureAdminToken } from './credentials.js';
import { claimDataDir } from './data-dir-lock.js';
import { clusterIdOf } from './range-claims.js';
import { createPrivateFile, secureDataDir } from './data-dir-modes.js';
import { createLogger } from './logger.js';
import { serverTls } from './server-tls.js';
import { BERTH_VERSION } from './version.js';
import { RemoteTelemetry, liveSource, storeTelemetryTargets } from './remote-telemetry.js';
import { OnDemandEndpoints } from './endpoints-view.js';
import { INSTANCE_SYSTEM_USER, instancePolicyFor } from './instance-user.js';
import type { InstancePolicy } from '../model/index.js';
import { consoleDir, listenApi, maxReplicasOf, splitListen } from './server.js';

/** `berth server --store etcd://…` (docs/control-plane.md). */
export interface ControlPlaneConfig {
  readonly dataDir: string;
  readonly listen: string;
  /** The `--store` URL: etcd://h1:2379,h2:2379,h3:2379[?cacert=&cert=&key=&user=&prefix=]. */
  readonly store: string;
  /** Where the other servers reach this one's API (default: the URL it listens at). */
  readonly advertiseUrl?: string;
  /** The leader lease, seconds (default 5): a dead leader is replaced within it. */
  readonly leaderLeaseSeconds?: number;
  readonly nodeGraceMs?: number;
  readonly instanceRange?: string;
  readonly maxReplicas?: number;
  /**
   * The instances' default user as the agents are told it (`--instance-user`, BERTH_INSTANCE_USER):
   * naming any other in a spec needs cluster-admin (default `berth`, an agent's own default as root).
   */
  readonly instanceUser?: string;
  /** Directories a `workingDir` may lie in without cluster-admin, besides the data directory (`--allowed-root`; default: the directory the server started in). */
  readonly allowedRoots?: readonly string[];
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  /** `--encryption-key-file`: secret values and the cluster's signing key encrypted at rest (docs/security.md); the same file on every server. */
  readonly encryptionKeyFile?: string;
  /** `--encryption-key-command`: the same keys, printed by a command at start (a KMS's client); the same keys on every server. */
  readonly encryptionKeyCommand?: string;
  readonly logToFile?: boolean;
  readonly logger?: Logger;
  /**
   * Listeners of the Docker Engine API face (`--docker-api`, as `berth server`'s: docs/docker-api.md):
   * every server serves it from its replica; its writes go to the leader.
   */
  readonly dockerApi?: readonly string[];
  /** PEM files of the face's TCP listeners (`--docker-api-tls-cert`, `-key`, `-ca`); see dockerApiTls. */
  readonly dockerApiTls?: DockerApiTlsFiles;
  /** Called once when this server must stop: it lost the lead, or etcd stayed unreachable (default: exit 1). */
  readonly onFatal?: (error: Error) => void;
}

export interface RunningControlPlane {
  readonly url: string;
  /** This server's id in the election. */
  readonly id: string;
  readonly store: ReturnType<typeof openSqliteStore>;
  /** `<data>/admin.token`: written by the server that first leads a new cluster, or when it lost its token. */
  readonly adminTokenPath: string;
  /** Warnings for the operator at start (a range the environment asked for that the cluster's replaces). */
  readonly notices: readonly string[];
  /** Where this server's Docker API face listens, as DOCKER_HOST takes it; empty when it is off. */
  readonly dockerApi: readonly string[];
  /** True when the face's TCP listeners serve HTTPS. */
  readonly dockerApiTls: boolean;
  role(): 'leader' | 'follower' | 'electing';
  /** The API URL of the server that leads now, as the election key names it; undefined while none does. */
  leaderUrl(): string | undefined;
  /** Resolves once this server leads (for tests and `berth server`'s own message). */
  readonly leading: Promise<void>;
  stop(): Promise<void>;
}

export const DEFAULT_LEADER_LEASE_SECONDS = 5;

/** How long a server that won the election waits for its watch to bring the last leader's final commits before it loads. */
const CATCH_UP_MS = 2000;

/**
 * The control plane of several machines: the API on every server, the controllers on the elected
 * leader only, the store in etcd with a replica in each server's memory. No agent, DNS or proxy runs
 * here: each machine runs `berth agent --join` for that (the server's machine too, when it runs
 * instances). Starts in dependency order and stops in reverse.
 * @throws RequestInvalidError for a --store that is not an etcd URL; STORE_UNAVAILABLE when etcd does not answer
 */
export async function startControlPlane(config: ControlPlaneConfig): Promise<RunningControlPlane> {
  const dataDir = resolve(config.dataDir);
  const storeUrl = parseStoreUrl(config.store, { dataDir });
  if (storeUrl.kind !== 'etcd') throw new CodedError('REQUEST_INVALID', `--store ${config.store}: several servers need etcd (etcd://h1:2379,h2:2379,h3:2379); the embedded SQLite store is the default without --store`, {});
  const prefix = storeUrl.prefix;
  secureDataDir(dataDir, { traverse: false });
  const owned = new DisposableStore();
  owned.add(claimDataDir(dataDir));
  if (config.logToFile) createPrivateFile(join(dataDir, 'server.log'));
  const logger = config.logger ?? createLogger(config.logToFile ? { destination: join(dataDir, 'server.log') } : {});
  const onFatal =
    config.onFatal ??
    ((error: Error) => {
      logger.error({ err: error }, 'this server stops: its store is no longer the cluster\'s (a restart loads it from etcd again)');
      process.exit(1);
    });
  const id = randomUUID();
  let role: 'leader' | 'follower' | 'electing' = 'electing';
  try {
    const cipher = await loadEncryptionKeys(config);
    const kv = openKvBackend(storeUrl);
    owned.defer(() => kv.close());
    const cluster = await loadClusterConfig(kv, prefix, { env: process.env, ...(config.instanceRange ? { instanceRange: config.instanceRange } : {}), logger, cipher });
    const store = openSqliteStore(':memory:', { logger: logger.child({ part: 'store' }), ...(cipher ? { secretCipher: cipher } : {}) });
    owned.defer(() => store.close());
    let writer: ReplicaWriter | undefined;
    // Writable only once this server leads and its writes go to etcd.
    let writable = false;
    store.replicate({ readOnly: () => (writable ? undefined : new CodedError('NO_LEADER', 'this server does not lead: its store is a replica (writes go to the leader)', {})) });
    const replica = new StoreReplica(kv, store, { prefix, logger: logger.child({ part: 'replica' }) });
    await replica.load();
    replica.follow();
    owned.defer(() => replica.stop());

    const [host, port] = splitListen(config.listen);
    if ((host === '0.0.0.0' || host === '::') && config.advertiseUrl === undefined) {
      throw new CodedError('REQUEST_INVALID', `--listen ${config.listen} listens on every address: give --advertise-url https://<this machine's address>:${port} so that the other servers can pass writes on to this one`, {});
    }
    const tls = serverTls({ host, dataDir, certFile: config.tlsCert, keyFile: config.tlsKey });
    // The Docker API face's listeners and TLS, checked before anything listens (as berth server does).
    const dockerApi = dockerApiAddresses(config.dockerApi, process.env, dataDir);
    const dockerTls = dockerApiTls(dockerApi, config.dockerApiTls ?? {});
    let face: DockerFace | undefined;
    const late: { api?: FastifyInstance } = {};
    const limits = { maxReplicas: maxReplicasOf(config.maxReplicas, process.env) };
    const liveness = new MemoryNodeLiveness();
    const graceMs = config.nodeGraceMs ?? DEFAULT_NODE_GRACE_MS;
    const heartbeatPeriodMs = Math.max(100, Math.floor(graceMs / 3));
    const key = cluster.serviceAccountKey;
    const nodeName = controlPlaneName(id);
    // The endpoints the API shows (`service show`, `endpoints ls`): no data plane runs here, so none is
    // fed; they are the cluster's endpoints as a node without instances reaches them (every instance at
    // its node's address and published port, none on a down node), derived from the replica when asked.
    const endpoints = new OnDemandEndpoints(store, nodeName);
    // Made once the API listens (its value names this server's URL); the routing asks it per request.
    const holder: { election?: LeaderElection; registry?: ServerRegistry } = {};
    const routing: LeaderRouting = {
      role: () => (role === 'follower' && holder.election?.current()?.id === id ? 'electing' : role),
      leaderUrl: () => holder.election?.current()?.url,
      servers: () => holder.registry?.list() ?? [],
      flushed: () => (writer ? writer.flushed() : Promise.resolve(replica.revision)),
      caughtUp: (revision) => replica.caughtUp(revision, 5000),
      ...(tls ? { ca: tls.cert } : {}),
    };
    // The API's gate on what a spec asks of the machines (privilegedRequests), as berth server's: another
    // user than the instances' default, a workingDir outside the allowed roots, or a bind mount needs
    // cluster-admin. Without it a grid operator could ask every agent for root.
    const instancePolicy: InstancePolicy = instancePolicyFor({ name: config.instanceUser ?? process.env.BERTH_INSTANCE_USER ?? INSTANCE_SYSTEM_USER }, { dataDir, allowedRoots: config.allowedRoots, cwd: process.cwd() });
    const apiDeps: ApiDeps = {
      store,
      instancePolicy,
      authenticator: new TokenAuthenticator(store, { serviceAccountKey: key }),
      planner: (change) => planWhatIf({ services: store.listServices(), instances: store.listInstances(), nodes: store.listNodes(), now: Date.now(), limits }, change),
      agents: {
        liveness,
        heartbeatPeriodMs,
        nodeToken: (name, joinedAt) => nodeToken(name, joinedAt, key),
        telemetryToken: (name, joinedAt) => telemetryToken(name, joinedAt, key),
        apiToken: (i) => serviceAccountToken({ grid: i.grid, service: i.service, serviceId: i.serviceId }, key),
        // Reports and barriers are writes: they reach the leader, which keeps them in memory.
        dataPlanes: new DataPlaneBarrier({ readyNodes: () => new Set(store.listNodes().filter((n) => n.ready).map((n) => n.name)), staleMs: DATA_PLANE_STALE_MS }),
      },
      // Logs and stats are files and processes of the agents' machines: read at their telemetry
      // listeners and merged in time order (docs/node-telemetry.md).
      telemetry: new RemoteTelemetry({ target: storeTelemetryTargets(store, key), liveSource: (instances) => liveSource(store, instances) }),
      networkRanges: { serviceRange: cluster.ranges.serviceRange, nodePortRange: [...cluster.ranges.nodePortRange] as [number, number] },
      instanceRange: cluster.ranges.instanceRange,
      // A server on etcd claims no ranges on its machine: it runs no instance, proxy or DNS, so it uses
      // no address of them there. The agents do, and claim them (app/range-claims.ts, claimClusterRanges):
      // this id, the same on every server, tells their claims apart from another berth's.
      clusterId: clusterIdOf({ signingKey: key }),
      // Every agent makes its Docker bridge with this subnet (the join and heartbeat answers carry it).
      containerRange: () => cluster.containerRange,
      limits,
      node: nodeName,
      endpoints,
      version: BERTH_VERSION,
      leaderRouting: routing,
      dockerApi: () => face?.addresses ?? [],
      consoleDir: consoleDir(),
      ...(tls ? { https: { key: tls.key, cert: tls.cert } } : {}),
      logger: logger.child({ part: 'api' }),
    };
    // The Docker face (docs/docker-api.md, "Several servers"): read here from the replica; its writes go
    // to the leader's relay app, which every server keeps (whether its own face listens or not).
    const { https: _berthTls, ...shared } = apiDeps;
    const dockerDeps: DockerApiDeps = { ...shared, relayKey: key, apiAddress: () => late.api?.server.address() ?? null, logger: logger.child({ part: 'docker-api' }) };
    const relay = createDockerApi({ ...dockerDeps, transport: 'relay' });
    await relay.ready();
    owned.defer(() => relay.close());
    const { api, url } = await listenApi({ ...apiDeps, dockerRelay: dispatchDockerRelay(relay) }, host, port, owned);
    late.api = api;
    if (dockerApi.length > 0) {
      const opened = await startDockerFace(dockerApi, { deps: dockerDeps, tls: dockerTls, logger });
      face = opened;
      // Closed before the API (defers run in reverse): the face's writes need the API's relay on the leader.
      owned.defer(() => opened.close());
    }

    const ttlSeconds = config.leaderLeaseSeconds ?? DEFAULT_LEADER_LEASE_SECONDS;
    // Every server of the cluster, as `docker info` (Swarm's managers) and GET /v1/version list them.
    const registry = new ServerRegistry(kv, { prefix: `${prefix}servers/`, self: { id, url: config.advertiseUrl ?? url, startedAt: new Date().toISOString(), version: BERTH_VERSION }, ttlSeconds, logger: logger.child({ part: 'servers' }) });
    await registry.start();
    holder.registry = registry;
    owned.defer(() => registry.stop());
    const election = new LeaderElection(kv, { key: `${prefix}leader`, self: { id, url: config.advertiseUrl ?? url }, ttlSeconds, logger: logger.child({ part: 'election' }) });
    holder.election = election;
    await election.observe();
    role = 'follower';
    const elected = election;
    owned.defer(() => elected.stop());
    const adminTokenPath = join(dataDir, 'admin.token');
    let stopping = false;
    const takeTheLead = async (fence: Compare): Promise<void> => {
      role = 'electing';
      // Everything at one revision: what the last leader acknowledged is in etcd, and nothing it writes
      // from now on lands (its fence fails).
      // First the last leader's final commits through the watch, with their history (a load fills from
      // etcd's history ring only what it still holds: store/history-ring.ts).
      await replica.catchUp(CATCH_UP_MS);
      replica.stop();
      const loaded = await replica.load();
      writer = new ReplicaWriter(kv, { prefix, fence, onFatal, logger: logger.child({ part: 'replication' }) });
      const sending = writer;
      // A new cluster: the rows the schema made (the grid `default`, the revision counters) go first.
      if (loaded.rows === 0) sending.enqueue(store.replicatedRows());
      store.replicate({ onCommit: (rows) => sending.enqueue(rows), readOnly: () => (writable ? undefined : new CodedError('NO_LEADER', 'this server no longer leads', {})) });
      writable = true;
      ensureAdminToken(dataDir, store, () => new Date().toISOString());
      if (cipher) reencryptSecrets(store, logger);
      await sending.flushed();
      role = 'leader';
      owned.defer(startCompaction(kv, { logger: logger.child({ part: 'compaction' }) }));
      // Instances with images are addressed on the agents' bridges, whose subnet is the cluster's (docs/control-plane.md).
      const controller = new ServiceController({ store, instanceRange: cluster.ranges.instanceRange, containerRange: controllerContainerRange(cluster.containerRange), limits, logger: logger.child({ part: 'controller' }) });
      controller.start();
      owned.defer(() => controller.stop());
      const nodeController = new NodeController({ store, liveness, graceMs, logger: logger.child({ part: 'nodes' }) });
      nodeController.start();
      owned.defer(() => nodeController.stop());
      logger.info({ url, id }, 'this server leads: controllers started');
    };
    const leading = (async () => {
      const fence: Compare = await elected.campaign(onFatal);
      try {
        await takeTheLead(fence);
      } catch (error) {
        // Holding the election key without taking writes would stall the cluster until this process
        // ends: end it (a restart loads the store from etcd and campaigns again).
        if (!stopping) onFatal(error instanceof Error ? error : new Error(String(error)));
        throw error;
      }
    })();
    leading.catch((error: unknown) => {
      if (!stopping) logger.error({ err: error }, 'this server could not take the lead');
    });
    logger.info({ url, dataDir, store: storeUrl.endpoints, id }, 'berth control plane started');
    return {
      url,
      id,
      store,
      adminTokenPath,
      notices: cluster.notices,
      dockerApi: face?.addresses ?? [],
      dockerApiTls: face?.tls ?? false,
      role: () => routing.role(),
      leaderUrl: () => routing.leaderUrl(),
      leading,
      stop: async () => {
        stopping = true;
        role = 'electing';
        writable = false;
        // What was acknowledged is in etcd already; what the controllers wrote since goes before the lease is revoked.
        await writer?.flushed().catch(() => undefined);
        await owned.dispose();
      },
    };
  } catch (error) {
    await owned.dispose();
    throw error;
  }
}
