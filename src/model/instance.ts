import type { DesiredState, InstanceState } from './instance-state.js';
import type { ContainerSpec, RestartPolicy } from './service-spec.js';
import type { InstanceDrain, InstanceHealth } from './health.js';

/** What the agent needs to run an instance; copied from the deployed service spec at creation, never edited. */
export interface InstanceSpec {
  readonly containers: readonly ContainerSpec[];
  /** Address from the instance range (default 127.10.0.0/16), given to containers as BERTH_INSTANCE_IP. */
  readonly address: string;
  /** Per-slot data directory of a stateful service (BERTH_DATA_DIR); kept across restarts and redeploys. */
  readonly dataDir?: string;
  readonly restartPolicy: RestartPolicy;
  /** Extra environment from the control plane (discovery variables), applied before the containers' own env. */
  readonly env: Readonly<Record<string, string>>;
  /** The service's drainTimeout when the instance was created ("10s"); absent in records of older berths (10 s). */
  readonly drainTimeout?: string;
  /**
   * Node-published ports (Nomad's dynamic ports): the port on its node's address at which other nodes
   * reach each container port, allocated by the controller per node (NODE_HOST_PORT_RANGE) and
   * forwarded by that node's proxy to the instance. Absent in records of older berths.
   */
  readonly hostPorts?: readonly InstanceHostPort[];
}

/** One container port published on the instance's node (see InstanceSpec.hostPorts). */
export interface InstanceHostPort {
  readonly containerPort: number;
  readonly protocol: 'TCP' | 'UDP';
  readonly hostPort: number;
}

/**
 * Where node-published instance ports come from: below the node-port range (30000–32767) and the
 * Linux ephemeral range (32768–60999), so that they never meet either (Nomad's default dynamic range
 * is 20000–32000 for the same reason).
 */
export const NODE_HOST_PORT_RANGE: readonly [number, number] = [20000, 29999];

/** One container as the agent observed it. */
export interface ContainerStatus {
  readonly name: string;
  readonly state: 'starting' | 'running' | 'exited';
  readonly pid?: number;
  readonly exitCode?: number;
  readonly signal?: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
}

/** Observed status; written only by the agent. */
export interface InstanceStatus {
  readonly state: InstanceState;
  /** When this status was observed (ISO 8601). */
  readonly timestamp: string;
  /** Human explanation of the state ("started", "exited with code 137 (SIGKILL)" …). */
  readonly message: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly exitCode?: number;
  readonly signal?: string;
  /** Opaque, serializable driver handles, one per container, used to re-adopt after a restart of berth. */
  readonly handles?: readonly unknown[];
  readonly containers?: readonly ContainerStatus[];
  /** Probe results while running; absent when the containers have no probes. */
  readonly health?: InstanceHealth;
  /** Set while (and after) the instance drained before its stop. */
  readonly drain?: InstanceDrain;
  /** While the node pulls an image for the instance: the engine's progress per layer (as `docker pull` shows it). */
  readonly pull?: ImagePull;
}

/** An image pull in progress (Docker driver). Sizes in bytes. */
export interface ImagePull {
  readonly image: string;
  readonly layers: readonly { readonly id: string; readonly status: string; readonly current?: number; readonly total?: number }[];
}

/**
 * One replica of a service in one slot. Three writers: `spec` and the identity fields are set once by a
 * controller at creation; `desiredState` is written only by controllers; `status` only by the agent.
 */
export interface Instance {
  /** `<service>-<slot>-<suffix>`, unique for all time. */
  readonly id: string;
  readonly grid: string;
  readonly service: string;
  readonly serviceId: string;
  /** Stable replica number 1..N; a restart is a new instance in the same slot. */
  readonly slot: number;
  readonly node: string;
  /** Spec generation of the service this instance runs. */
  readonly generation: number;
  /** The service's deployment.restartGeneration when created; `restart` replaces older ones. */
  readonly restartGeneration: number;
  /** Consecutive restarts of this slot before this instance (0 for a fresh or replaced slot). */
  readonly restarts: number;
  /** Store revision of the last write (compare-and-set token). */
  readonly version: number;
  readonly createdAt: string;
  readonly spec: InstanceSpec;
  readonly desiredState: DesiredState;
  /** Why the desired state is what it is ("scaled down", "service stopped" …). */
  readonly desiredReason?: string;
  readonly status: InstanceStatus;
}

/** desiredReason of an instance the user removed (`service rm --instance`): it is replaced at once. */
export const INSTANCE_REMOVED_REASON = 'removed by user';

/** The DNS-style name of an instance's slot, as Kontena's `nginx-1`. */
export function slotName(service: string, slot: number): string {
  return `${service}-${slot}`;
}
