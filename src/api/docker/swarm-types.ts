/*
 * The Swarm objects the Docker face reads and writes, with the Docker Engine API's field names (API
 * v1.50; moby `api/types/swarm/{service,task,container,network,runtime}.go`, `api/types/mount/mount.go`,
 * `api/types/container/config.go` for HealthConfig). JSON as the engine sends it: PascalCase keys,
 * durations in NANOSECONDS (Go's time.Duration), times as RFC 3339 strings, `uint64` counts as numbers.
 * Everything a client may leave out is optional here: Go's zero value (0, "", null) means "not set".
 */

/** Nanoseconds (Go's time.Duration in JSON). */
export type Nanoseconds = number;

/** Annotations{Name, Labels}, inlined in ServiceSpec. */
export interface SwarmAnnotations {
  Name?: string;
  Labels?: Record<string, string>;
}

export interface SwarmServiceSpec extends SwarmAnnotations {
  TaskTemplate?: SwarmTaskSpec;
  Mode?: SwarmServiceMode;
  UpdateConfig?: SwarmUpdateConfig | null;
  RollbackConfig?: SwarmUpdateConfig | null;
  /** Deprecated since API 1.44 (moved to TaskTemplate.Networks); still accepted. */
  Networks?: SwarmNetworkAttachmentConfig[] | null;
  EndpointSpec?: SwarmEndpointSpec | null;
}

export interface SwarmTaskSpec {
  ContainerSpec?: SwarmContainerSpec | null;
  PluginSpec?: unknown;
  NetworkAttachmentSpec?: unknown;
  Resources?: SwarmResourceRequirements | null;
  RestartPolicy?: SwarmRestartPolicy | null;
  Placement?: SwarmPlacement | null;
  Networks?: SwarmNetworkAttachmentConfig[] | null;
  LogDriver?: SwarmDriver | null;
  /** A counter: changing it redeploys every task even when nothing else changed (`docker service update --force`). */
  ForceUpdate?: number;
  /** `container` (default), `plugin` or `attachment`. */
  Runtime?: string;
}

export interface SwarmContainerSpec {
  Image?: string;
  Labels?: Record<string, string> | null;
  /** The entrypoint (Docker's ENTRYPOINT override). */
  Command?: string[] | null;
  /** Arguments to the command (Docker's CMD). */
  Args?: string[] | null;
  Hostname?: string;
  /** `KEY=value` strings. */
  Env?: string[] | null;
  Dir?: string;
  User?: string;
  Groups?: string[] | null;
  Privileges?: SwarmPrivileges | null;
  Init?: boolean | null;
  StopSignal?: string;
  TTY?: boolean;
  OpenStdin?: boolean;
  ReadOnly?: boolean;
  Mounts?: SwarmMount[] | null;
  StopGracePeriod?: Nanoseconds | null;
  Healthcheck?: SwarmHealthConfig | null;
  Hosts?: string[] | null;
  DNSConfig?: { Nameservers?: string[] | null; Search?: string[] | null; Options?: string[] | null } | null;
  Secrets?: unknown[] | null;
  Configs?: unknown[] | null;
  Isolation?: string;
  Sysctls?: Record<string, string> | null;
  CapabilityAdd?: string[] | null;
  CapabilityDrop?: string[] | null;
  Ulimits?: unknown[] | null;
  OomScoreAdj?: number;
}

export interface SwarmPrivileges {
  CredentialSpec?: unknown;
  SELinuxContext?: unknown;
  Seccomp?: unknown;
  AppArmor?: unknown;
  NoNewPrivileges?: boolean;
}

/** container.HealthConfig: Test is `["NONE"]`, `["CMD", args…]` or `["CMD-SHELL", command]`; 0 = inherit/default. */
export interface SwarmHealthConfig {
  Test?: string[] | null;
  Interval?: Nanoseconds;
  Timeout?: Nanoseconds;
  StartPeriod?: Nanoseconds;
  StartInterval?: Nanoseconds;
  Retries?: number;
}

/** mount.Mount. */
export interface SwarmMount {
  /** `bind`, `volume`, `tmpfs`, `npipe`, `cluster`, `image`. */
  Type?: string;
  Source?: string;
  Target?: string;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: { Propagation?: string; NonRecursive?: boolean; CreateMountpoint?: boolean; ReadOnlyNonRecursive?: boolean; ReadOnlyForceRecursive?: boolean } | null;
  VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string> | null; Subpath?: string; DriverConfig?: SwarmDriver | null } | null;
  ImageOptions?: unknown;
  TmpfsOptions?: { SizeBytes?: number; Mode?: number; Options?: unknown[] | null } | null;
  ClusterOptions?: unknown;
}

/** swarm.Driver: a log driver or a volume driver. */
export interface SwarmDriver {
  Name?: string;
  Options?: Record<string, string> | null;
}

export interface SwarmResources {
  /** CPUs × 1e9. */
  NanoCPUs?: number;
  /** Bytes. */
  MemoryBytes?: number;
  /** Limits only. */
  Pids?: number;
  /** Reservations only. */
  GenericResources?: unknown[] | null;
}

export interface SwarmResourceRequirements {
  Limits?: SwarmResources | null;
  Reservations?: SwarmResources | null;
  SwapBytes?: number | null;
  MemorySwappiness?: number | null;
}

export interface SwarmRestartPolicy {
  /** `none`, `on-failure`, `any` ("" = any). */
  Condition?: string;
  Delay?: Nanoseconds | null;
  MaxAttempts?: number | null;
  Window?: Nanoseconds | null;
}

export interface SwarmPlacement {
  /** `node.role==manager`, `node.labels.zone!=b` … */
  Constraints?: string[] | null;
  Preferences?: { Spread?: { SpreadDescriptor?: string } | null }[] | null;
  /** Max tasks per node; 0 = unlimited. */
  MaxReplicas?: number;
  Platforms?: { Architecture?: string; OS?: string }[] | null;
}

export interface SwarmNetworkAttachmentConfig {
  Target?: string;
  Aliases?: string[] | null;
  DriverOpts?: Record<string, string> | null;
}

export interface SwarmServiceMode {
  Replicated?: { Replicas?: number | null } | null;
  Global?: Record<string, never> | null;
  ReplicatedJob?: { MaxConcurrent?: number; TotalCompletions?: number } | null;
  GlobalJob?: Record<string, never> | null;
}

/** UpdateConfig and RollbackConfig. */
export interface SwarmUpdateConfig {
  /** Tasks updated at once; 0 = all. */
  Parallelism?: number;
  Delay?: Nanoseconds;
  /** `pause`, `continue`, `rollback` ("" = pause). */
  FailureAction?: string;
  /** 0 = the default (5 s). */
  Monitor?: Nanoseconds;
  MaxFailureRatio?: number;
  /** `stop-first`, `start-first` ("" = stop-first). */
  Order?: string;
}

export interface SwarmPortConfig {
  Name?: string;
  /** `tcp`, `udp`, `sctp` ("" = tcp). */
  Protocol?: string;
  TargetPort?: number;
  /** 0 = chosen by the engine from 30000–32767. */
  PublishedPort?: number;
  /** `ingress` (the routing mesh; "" = ingress) or `host`. */
  PublishMode?: string;
}

export interface SwarmEndpointSpec {
  /** `vip` ("" = vip) or `dnsrr`. */
  Mode?: string;
  Ports?: SwarmPortConfig[] | null;
}

export interface SwarmEndpoint {
  Spec: SwarmEndpointSpec;
  /** The ports as allocated: PublishedPort filled in. */
  Ports?: SwarmPortConfig[];
  VirtualIPs?: { NetworkID: string; Addr: string }[];
}

export type SwarmUpdateState = 'updating' | 'paused' | 'completed' | 'rollback_started' | 'rollback_paused' | 'rollback_completed';

export interface SwarmUpdateStatus {
  State: SwarmUpdateState;
  StartedAt?: string;
  CompletedAt?: string;
  Message: string;
}

/** Added by `GET /services?status=true` (API 1.41). */
export interface SwarmServiceStatus {
  RunningTasks: number;
  DesiredTasks: number;
  CompletedTasks: number;
}

/** swarm.Service: Meta (Version, CreatedAt, UpdatedAt) is inlined. */
export interface SwarmService {
  ID: string;
  Version: { Index: number };
  CreatedAt: string;
  UpdatedAt: string;
  Spec: SwarmServiceSpec;
  PreviousSpec?: SwarmServiceSpec;
  Endpoint: SwarmEndpoint;
  UpdateStatus?: SwarmUpdateStatus;
  ServiceStatus?: SwarmServiceStatus;
}

/** The answer of `POST /services/create`. */
export interface SwarmServiceCreateResponse {
  ID: string;
  Warnings: string[];
}

/** The answer of `POST /services/{id}/update`. */
export interface SwarmServiceUpdateResponse {
  Warnings: string[];
}
