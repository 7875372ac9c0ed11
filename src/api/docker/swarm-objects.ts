import type { NodeInfo } from '../../model/index.js';
import { DEFAULT_GRID, swarmNodeId } from '../../model/index.js';
import { SWARM_ID_LENGTH, swarmId } from '../../lib/index.js';
import { controlPlaneName } from '../leader-routing.js';
import type { DockerContext } from './docker-context.js';

/*
 * berth's cluster and nodes as Swarm objects (moby `api/types/swarm/node.go`, `swarm.go`). berth has no
 * Raft and no node ids of its own: ids are derived from names, so they are stable across restarts and
 * the same on every face; the server's own node is the one manager (and leader), as a single-manager
 * swarm; nodes of agents elsewhere would be workers (berth runs no consensus of its own).
 */

/** The port Swarm managers listen on (`docker swarm init`'s default): node addresses are shown with it. */
export const SWARM_PORT = 2377;

/** Ended instances kept per slot (reconcile/plan-service.ts), shown as Swarm's TaskHistoryRetentionLimit. */
const TASK_HISTORY_LIMIT = 5;

export { SWARM_ID_LENGTH, swarmId };

/** The id of a berth node as a Swarm node. */
export function nodeId(name: string): string {
  return swarmNodeId(name);
}

/** When the cluster began: the default grid's creation (the store makes it at its first open). */
export function clusterCreatedAt(ctx: DockerContext): string {
  return ctx.berth.store.getGrid(DEFAULT_GRID)?.createdAt ?? new Date(0).toISOString();
}

/** The cluster's Swarm id: stable for the life of the store. */
export function clusterId(ctx: DockerContext): string {
  return swarmId('cluster', clusterCreatedAt(ctx));
}

/** The server's own node, if it has reported. */
export function selfNode(ctx: DockerContext): NodeInfo | undefined {
  return ctx.berth.store.listNodes().find((n) => n.name === ctx.berth.node);
}

/** swarm.ClusterInfo: id, meta and a spec holding Swarm's defaults where berth has no setting of its own. */
export function swarmCluster(ctx: DockerContext): Record<string, unknown> {
  const createdAt = clusterCreatedAt(ctx);
  return {
    ID: clusterId(ctx),
    Version: { Index: 1 },
    CreatedAt: createdAt,
    UpdatedAt: createdAt,
    Spec: {
      Name: 'default',
      Labels: {},
      Orchestration: { TaskHistoryRetentionLimit: TASK_HISTORY_LIMIT },
      // swarmkit's defaults (api/defaults): berth runs no Raft, so these only fill the shape.
      Raft: { SnapshotInterval: 10000, KeepOldSnapshots: 0, LogEntriesForSlowFollowers: 500, ElectionTick: 10, HeartbeatTick: 1 },
      Dispatcher: { HeartbeatPeriod: 5_000_000_000 },
      CAConfig: { NodeCertExpiry: 7_776_000_000_000_000 },
      TaskDefaults: {},
      EncryptionConfig: { AutoLockManagers: false },
    },
    TLSInfo: {},
    RootRotationInProgress: false,
    DefaultAddrPool: [],
    SubnetSize: 24,
    DataPathPort: 0,
  };
}

/**
 * A berth node as a swarm.Node: `ready`/`down` from the node's readiness, the server's own node the
 * leading manager (reachable), the others workers; the engine version is berth's.
 */
export function swarmNode(ctx: DockerContext, node: NodeInfo): Record<string, unknown> {
  const self = node.name === ctx.berth.node;
  const createdAt = clusterCreatedAt(ctx);
  return {
    ID: nodeId(node.name),
    Version: { Index: node.version },
    CreatedAt: createdAt,
    UpdatedAt: node.heartbeatAt,
    Spec: { Labels: { ...node.labels }, Role: self ? 'manager' : 'worker', Availability: node.availability },
    Description: {
      Hostname: node.name,
      Platform: { Architecture: node.arch, OS: node.os },
      Resources: { NanoCPUs: Math.round(node.capacity.cpus * 1e9), MemoryBytes: node.capacity.memoryBytes },
      Engine: { EngineVersion: ctx.engine.version, Labels: { 'io.berth.drivers': node.drivers.join(',') }, Plugins: [] },
      TLSInfo: {},
    },
    Status: { State: node.ready ? 'ready' : 'down', Addr: node.address },
    ...(self ? { ManagerStatus: { Leader: true, Reachability: node.ready ? 'reachable' : 'unreachable', Addr: `${node.address}:${SWARM_PORT}` } } : {}),
  };
}

/** A control-plane server of a cluster on etcd (LeaderRouting.servers()): its registry id and API URL. */
export interface ControlPlaneServer {
  readonly id: string;
  readonly url: string;
}

/**
 * A control-plane server as a swarm.Node: what Swarm shows for a manager (`docker node inspect self`
 * on a manager, the CLI resolving `self` through /info's Swarm.NodeID). berth's servers are no nodes
 * (they run no instances), so the record is a manager whose Availability is `drain` — Swarm's word for
 * a node that is given no tasks — Ready while it is registered in etcd (its lease lives), the leader
 * marked. Its id and name are those /info gives managers (`control-plane <id>`); the platform and
 * resources are known for the server answering only. Not listed by GET /nodes, which lists the nodes
 * that run instances (Swarm.Nodes counts those).
 */
export function swarmManagerNode(ctx: DockerContext, server: ControlPlaneServer): Record<string, unknown> {
  const name = controlPlaneName(server.id);
  const self = name === ctx.berth.node;
  const host = hostOfUrl(server.url);
  const createdAt = clusterCreatedAt(ctx);
  return {
    ID: nodeId(name),
    Version: { Index: 1 },
    CreatedAt: createdAt,
    UpdatedAt: createdAt,
    Spec: { Labels: {}, Role: 'manager', Availability: 'drain' },
    Description: {
      Hostname: name,
      Platform: self ? { Architecture: ctx.host.machine, OS: ctx.host.os } : {},
      Resources: self ? { NanoCPUs: ctx.host.ncpu * 1e9, MemoryBytes: ctx.host.memTotal } : {},
      Engine: { EngineVersion: ctx.engine.version, Labels: { 'io.berth.role': 'control-plane' }, Plugins: [] },
      TLSInfo: {},
    },
    Status: { State: 'ready', Addr: host },
    ManagerStatus: { Leader: server.url === ctx.berth.leaderRouting?.leaderUrl(), Reachability: 'reachable', Addr: `${host}:${SWARM_PORT}` },
  };
}

/** The host of an API URL (IPv6 without its brackets), or the URL itself when it does not parse. */
export function hostOfUrl(url: string): string {
  try {
    return new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
  } catch {
    return url;
  }
}
