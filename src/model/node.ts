/**
 * What the API lets users set on a node (Swarm's `docker node update --availability`): `active` takes
 * new instances, `pause` keeps what runs but takes nothing new, `drain` moves its instances elsewhere
 * (with the drain rollouts use) and takes nothing new.
 */
export const NODE_AVAILABILITIES = ['active', 'pause', 'drain'] as const;
export type NodeAvailability = (typeof NODE_AVAILABILITIES)[number];

/** What instances may reserve on a node (`spec.containers[].resources.reservations` add up against it). */
export interface NodeResources {
  /** Whole and fractional CPUs (Docker's `--cpus`). */
  readonly cpus: number;
  /** Bytes. */
  readonly memoryBytes: number;
}

/**
 * A machine whose agent runs instances. On one machine there is one node, named after the host.
 *
 * Two writers (swarmkit's Node: spec by the user, description and status by the node): the agent
 * registers and reports the facts (address, drivers, platform, capacity, ready, heartbeatAt; `labels`
 * only when the node is first registered, as kubelet's `--node-labels`); the API sets `availability`
 * and edits `labels` (`berth node update`), and a re-registration keeps both.
 */
export interface NodeInfo {
  readonly name: string;
  /** Address the node's node ports and load balancers open on. */
  readonly address: string;
  /** Drivers that run containers here: `process`, and `docker` when an engine answered at start. */
  readonly drivers: readonly string[];
  /** Driver → why it cannot run here (e.g. docker: "no Docker engine answers at unix:///var/run/docker.sock: …"). */
  readonly unavailableDrivers?: Readonly<Record<string, string>>;
  /**
   * Port of the agent's telemetry listener at `address` (`berth agent --telemetry-port`, default 10250,
   * the kubelet's): the servers read the logs and stats of the node's instances there
   * (docs/node-telemetry.md). Absent: none (the all-in-one server's own node, which reads them
   * in-process, or an agent started with `--telemetry-port 0`).
   */
  readonly telemetryPort?: number;
  /**
   * SHA-256 fingerprint (`AB:CD:…`, 32 bytes) of the telemetry listener's certificate: the agent makes a
   * self-signed one at start and reports it here, over its authenticated channel; the servers then
   * speak HTTPS to the listener and accept only a certificate with this fingerprint (no CA needed).
   * Absent: plain HTTP (an agent without openssl, or older than this field).
   */
  readonly telemetryFingerprint?: string;
  /**
   * The container network of the node's image driver: name, subnet and gateway (berth's DNS for
   * containers listens there), and `problems`: what containers there cannot do, one sentence each with
   * its fix (e.g. reach loopback virtual IPs; `berth version` and `node show` print them).
   */
  readonly containerNetwork?: { readonly name: string; readonly subnet: string; readonly gateway: string; readonly dns?: string; readonly problems?: readonly string[] };
  /** `node.labels.<key>` of placement constraints. */
  readonly labels: Readonly<Record<string, string>>;
  /** Whether the node takes new instances (default `active`). */
  readonly availability: NodeAvailability;
  /** `linux` (Node's `os.platform()`), `node.platform.os` of constraints. */
  readonly os: string;
  /** `x86_64`, `aarch64` … (`os.machine()`), `node.platform.arch` of constraints. */
  readonly arch: string;
  /** What instances may reserve here (the machine's CPUs and memory unless the agent was told less). */
  readonly capacity: NodeResources;
  readonly ready: boolean;
  readonly heartbeatAt: string;
  /** When an agent joined it (`berth agent --join`): its node credential names this time, so a node removed and joined again gets a new one. Absent for the server's own node. */
  readonly joinedAt?: string;
  readonly version: number;
}

/** What an agent reports when it registers or heartbeats; fields left out get the machine's values (os, arch, capacity) or none (labels). */
export type NodeRegistration = Omit<NodeInfo, 'version' | 'availability' | 'labels' | 'os' | 'arch' | 'capacity'> &
  Partial<Pick<NodeInfo, 'labels' | 'os' | 'arch' | 'capacity'>>;

/** One instance as a node's detail lists it. */
export interface NodeInstance {
  readonly id: string;
  readonly grid: string;
  readonly service: string;
  readonly slot: number;
  readonly desiredState: string;
  readonly state: string;
}

/** `GET /v1/nodes/{node}`: the node and the instances that have not ended on it. */
export interface NodeDetail extends NodeInfo {
  readonly instances: readonly NodeInstance[];
}

/** `berth node update` (`PATCH /v1/nodes/{node}`); fields left out are unchanged. */
export interface NodeUpdate {
  /** The version read: 409 VERSION_CONFLICT when the node has moved on. */
  readonly version?: number;
  readonly availability?: NodeAvailability;
  /** Replaces every label. */
  readonly labels?: Readonly<Record<string, string>>;
  readonly labelsAdd?: Readonly<Record<string, string>>;
  readonly labelsRemove?: readonly string[];
}
