import type { LeaderRouting } from './leader-routing.js';
import type { Clock, Logger } from '../lib/index.js';
import { hasCode } from '../lib/index.js';
import type { InstancePolicy, Service, SpecLimits } from '../model/index.js';
import { ServiceNotFoundError } from '../model/index.js';
import type { ServiceIntentChange, Store } from '../store/index.js';

/** Conflicts with another writer retried when the caller named no version. */
const UNVERSIONED_RETRIES = 3;
import type { NdjsonStream } from './ndjson-stream.js';
import type { AgentAccess, WhatIfPlanner, EndpointsView, HostPortProbe, Telemetry, VolumesView } from './ports.js';
import type { AllocateOptions, NetworkRanges, ReservedListener } from './network-allocation.js';

/** What every route file gets: the dependencies of createApi, fully defaulted. */
export interface RouteContext {
  readonly store: Store;
  readonly telemetry: Telemetry;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly node: string;
  readonly version: string;
  readonly heartbeatMs: number;
  readonly maxStreamBufferBytes: number;
  /** The endpoints the data plane serves (absent in tests that need none). */
  readonly endpoints: EndpointsView | undefined;
  /** The nodes' per-slot data directories (absent in tests that need none: none are listed). */
  readonly volumes: VolumesView | undefined;
  /** host:port of berth's DNS server, when it runs (GET /v1/version). */
  readonly dnsAddress: string | undefined;
  /** Where the Docker API face listens, as DOCKER_HOST takes it (GET /v1/version); empty when it is off. */
  readonly dockerApi: () => readonly string[];
  /** Where virtual IPs and node ports are allocated from. */
  readonly networkRanges: NetworkRanges;
  /** Who instances run as and where they may run, for the privileged-request check (absent in tests). */
  readonly instancePolicy: InstancePolicy | undefined;
  /** Where node, load-balancer and published ports are opened (the proxy's). */
  readonly nodeAddresses: readonly string[];
  /** The server's own listeners (its API address once listening, its DNS address): no service may ask for them. */
  readonly reservedListeners: () => readonly ReservedListener[];
  /** What other programs on this host hold (the automatic node-port choice skips it); absent: nothing known. */
  readonly hostPorts: HostPortProbe | undefined;
  /** Several servers on etcd: where writes go (api/leader-routing.ts); undefined for a lone server. */
  readonly leaderRouting: LeaderRouting | undefined;
  /** Where the controller takes instance addresses from (a deploy it cannot hold is refused, 422). */
  readonly instanceRange: string;
  /** What names the cluster in range registries (ApiDeps.clusterId); undefined: not said. */
  readonly clusterId: string | undefined;
  /** The subnet of the nodes' Docker bridges (ApiDeps.containerRange), asked per answer; undefined: none known. */
  readonly containerRange: () => string | undefined;
  /** The server's limits: replicas per service (`berth server --max-replicas`). */
  readonly limits: SpecLimits;
  /** Agents of other machines: their credentials and heartbeats (absent: this server takes none). */
  readonly agents: AgentAccess | undefined;
  /** What-if planning (POST /v1/plan); absent: 404. */
  readonly planner: WhatIfPlanner | undefined;
  /** Open NDJSON streams, ended when the API closes. */
  readonly streams: Set<NdjsonStream>;
}

export interface GridParams {
  readonly grid: string;
}

export interface ServiceParams {
  readonly grid: string;
  readonly name: string;
}

/** @throws ServiceNotFoundError (404) */
export function requireService(store: Store, grid: string, name: string): Service {
  const service = store.getService(grid, name);
  if (!service) throw new ServiceNotFoundError(grid, name);
  return service;
}

/**
 * Read-modify-write of a service's intent. With a caller's `version`, the store refuses a stale one
 * (409). Without one, the version just read is used, and a conflict with another writer is retried,
 * so `build` always sees the state it changes (its event messages stay true). With `dryRun`, the
 * service that would be stored is returned and nothing is stored.
 */
export function mutateService(
  ctx: RouteContext,
  params: ServiceParams,
  version: number | undefined,
  build: (current: Service) => ServiceIntentChange,
  options: { readonly dryRun?: boolean } = {},
): Service {
  const { grid, name } = params;
  for (let attempt = 0; ; attempt++) {
    const current = ctx.store.getService(grid, name);
    if (!current) throw new ServiceNotFoundError(grid, name);
    try {
      return ctx.store.updateServiceIntent(grid, name, build(current), { ifVersion: version ?? current.version, dryRun: options.dryRun === true });
    } catch (error) {
      if (version === undefined && hasCode(error, 'VERSION_CONFLICT') && attempt < UNVERSIONED_RETRIES) continue;
      throw error;
    }
  }
}

/** The allocation inputs of a spec being stored (allocateNetwork): ranges, the host-listener table, reserved and held ports. */
export function allocationOptions(ctx: RouteContext, current?: Service): AllocateOptions {
  const others = ctx.store.listServices().filter((s) => current === undefined || s.id !== current.id);
  const probe = ctx.hostPorts;
  return {
    ...(current !== undefined ? { current } : {}),
    others,
    ranges: ctx.networkRanges,
    claims: ctx.store.listHostListeners(),
    nodeAddresses: ctx.nodeAddresses,
    reserved: ctx.reservedListeners(),
    ...(probe !== undefined ? { heldPorts: (protocol: 'TCP' | 'UDP', hosts: readonly string[]) => probe.heldPorts(protocol, hosts) } : {}),
    ...(probe?.broadcastAddresses !== undefined ? { broadcastAddresses: probe.broadcastAddresses() } : {}),
  };
}

/** The cluster's id and ranges, as GET /v1/version and the agents' join and heartbeat answers carry them (none without an id). */
export interface ClusterRanges {
  readonly id: string;
  readonly instanceRange: string;
  readonly serviceRange: string;
  /** `30000-32767`. */
  readonly nodePortRange: string;
  /** The subnet of every node's Docker bridge (CIDR), where instances with images are addressed; absent when the server knows none. */
  readonly containerRange?: string;
}

export function clusterRangesOf(ctx: Pick<RouteContext, 'clusterId' | 'instanceRange' | 'networkRanges' | 'containerRange'>): { cluster: ClusterRanges } | Record<string, never> {
  if (ctx.clusterId === undefined) return {};
  const containerRange = ctx.containerRange();
  return {
    cluster: {
      id: ctx.clusterId,
      instanceRange: ctx.instanceRange,
      serviceRange: ctx.networkRanges.serviceRange,
      nodePortRange: ctx.networkRanges.nodePortRange.join('-'),
      ...(containerRange !== undefined ? { containerRange } : {}),
    },
  };
}
