import { createHash } from 'node:crypto';
import type { NodeInfo } from '../../model/index.js';
import { DEFAULT_GRID } from '../../model/index.js';
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

/** Length of a Swarm object id (swarmkit `identity/randomid.go`: 25 base-36 characters). */
export const SWARM_ID_LENGTH = 25;

/**
 * A stable Swarm-style id: 25 characters of base 36, as swarmkit's `identity.NewID` (128 bits) — here
 * the first 128 bits of SHA-256 of `kind:key`, so the same object always has the same id.
 */
export function swarmId(kind: string, key: string): string {
  const k = `${kind}:${key}`;
  const known = swarmIds.get(k);
  if (known !== undefined) return known;
  const digest = createHash('sha256').update(k).digest();
  const id = BigInt(`0x${digest.subarray(0, 16).toString('hex')}`).toString(36).padStart(SWARM_ID_LENGTH, '0');
  // Remembered, as every list shows the same few ids (networks, nodes) again; bounded, as task ids are many.
  if (swarmIds.size >= SWARM_ID_CACHE) swarmIds.clear();
  swarmIds.set(k, id);
  return id;
}

/** swarmId's answers so far (`kind:key` → id); cleared when it reaches SWARM_ID_CACHE entries. */
const swarmIds = new Map<string, string>();
const SWARM_ID_CACHE = 4096;

/** The id of a berth node as a Swarm node. */
export function nodeId(name: string): string {
  return swarmId('node', name);
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
