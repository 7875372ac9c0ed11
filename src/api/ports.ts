import type { NodeLiveness } from '../store/index.js';
import type { Instance, InstanceStats, LogLine, ServiceEndpoints, SlotVolume, UnreachableNode, WhatIfChange, WhatIfPlan } from '../model/index.js';

/**
 * How the API reaches instance logs and stats: implemented by the agent side (in-process) and by the
 * nodes' telemetry listeners (app/remote-telemetry.ts), wired in app/.
 */
export interface Telemetry {
  /**
   * Log lines of the given instances merged in time order. With `follow`, keeps yielding new lines
   * until `signal` aborts. `since` is RFC 3339; `tail` is the number of lines per the merged stream.
   * `onWatermark` (follow only, optional to implement) is called with a time once every line older
   * than it has been yielded. `onUnreachable` (optional to implement) is called for each node whose
   * instances' lines are missing (it did not answer, or its stream broke), when that becomes known.
   * @throws CodedError LOGS_UNAVAILABLE (503) when no node of the instances could be read
   */
  logs(
    instances: readonly Instance[],
    options: {
      readonly tail?: number;
      readonly since?: string;
      readonly follow?: boolean;
      readonly signal?: AbortSignal;
      readonly onWatermark?: (time: string) => void;
      readonly onUnreachable?: (node: UnreachableNode) => void;
    },
  ): AsyncIterable<LogLine>;
  /**
   * One sample per running instance (CPU % over a short interval, memory of the whole process tree).
   * Instances of a node that did not answer are left out and that node is passed to `onUnreachable`.
   * @throws CodedError LOGS_UNAVAILABLE (503) when no node of the instances could be read
   */
  stats(instances: readonly Instance[], options?: { readonly onUnreachable?: (node: UnreachableNode) => void }): Promise<InstanceStats[]>;
}

/** The per-slot data directories on the nodes: implemented in app/ by the agent (node-local files). */
export interface VolumesView {
  /** The data directories that exist, sorted by service and slot; `service` narrows to one service (existing or not). */
  list(grid: string, service?: string): readonly SlotVolume[];
}

/** The endpoints the data plane currently serves; implemented in app/ by the endpoints publisher. */
export interface EndpointsView {
  /** The service's endpoints as of the last snapshot; undefined when the service is not in it. */
  get(grid: string, name: string): ServiceEndpoints | undefined;
  /** Calls `listener` after every new snapshot; returns the unsubscribe. */
  subscribe(listener: () => void): () => void;
}

/** What other programs on this host hold; implemented in app/ (from /proc/net on Linux). */
export interface HostPortProbe {
  /**
   * Ports held now at one of `hosts` or at the wildcard address: TCP ports listened on, UDP ports
   * bound. Read once per call (a snapshot); empty when the host cannot be read.
   */
  heldPorts(protocol: 'TCP' | 'UDP', hosts: readonly string[]): ReadonlySet<number>;
  /** The directed broadcast addresses of this host's subnets (`127.255.255.255` for lo), each with its subnet in words. */
  broadcastAddresses?(): readonly { readonly address: string; readonly subnet: string }[];
}

/**
 * What the API needs to take agents of other machines (`berth agent --join`): implemented in app/ with
 * the server's signing key and the node liveness the node controller reads. Absent: this server takes
 * no agents (join answers 503 NODE_UNAVAILABLE).
 */
export interface AgentAccess {
  /** Heartbeats of the nodes (store/node-liveness.ts). */
  readonly liveness: NodeLiveness;
  /** How often agents should beat (ms): a third of the node grace, so that two lost beats do not mark a node down. */
  readonly heartbeatPeriodMs: number;
  /** A node's credential (api/authenticator.ts nodeToken). */
  nodeToken(node: string, joinedAt: string): string;
  /** The token servers present to the node's telemetry listener (api/authenticator.ts telemetryToken); handed to its agent in join and heartbeat answers. */
  telemetryToken?(node: string, joinedAt: string): string;
  /** The BERTH_API_TOKEN of an instance's containers (its service account). */
  apiToken(instance: Instance): string;
  /** The drain barrier across nodes (app/data-plane-barrier.ts); absent: reports are dropped and barriers pass at once. */
  readonly dataPlanes?: DataPlaneAcks;
}

/** What the nodes' data planes applied, for the drain barrier across nodes (docs/nodes.md). */
export interface DataPlaneAcks {
  /** Node `node`'s DNS and proxy applied the endpoints snapshot of store revision `revision`. */
  report(node: string, revision: number): void;
  /** Resolves with the nodes still behind `revision` once none is, after `timeoutMs`, or on abort ([] = all applied). */
  wait(revision: number, options: { readonly except?: string; readonly timeoutMs: number; readonly signal?: AbortSignal }): Promise<string[]>;
}

/**
 * What-if planning (`berth plan`, POST /v1/plan): implemented in app/ with reconcile's planWhatIf over
 * the store as it is now — the controller's own code, run on a copy. Nothing is written.
 * @throws NodeNotFoundError (404) for a node the change names that does not exist; RequestInvalidError (400) for an added node whose name is taken
 */
export type WhatIfPlanner = (change: WhatIfChange) => WhatIfPlan;
