import type { Disposable } from '../lib/index.js';

/*
 * The driver contract (after Nomad's DriverPlugin, kept narrow): start, recover, wait, stop, destroy,
 * plus stats and logs. A driver runs one *container*; the agent runs an instance's containers through it.
 * Handles are plain JSON, persisted by the agent in the instance's status, so a restarted berth can
 * re-adopt what is still running. Every driver passes drivers/driver-conformance.ts.
 */

/** Everything a driver needs to start one container. Paths are absolute. */
export interface ContainerConfig {
  /** Unique id of the instance the container belongs to. */
  readonly instanceId: string;
  readonly containerName: string;
  /** Image (docker driver); undefined for the process driver. */
  readonly image?: string;
  /** argv after `$(VAR)` expansion: command followed by args. Non-empty for the process driver. */
  readonly argv: readonly string[];
  /** The complete environment of the process (the driver adds nothing). */
  readonly env: Readonly<Record<string, string>>;
  readonly workingDir: string;
  readonly user?: string;
  /** The instance's address (loopback for the process driver). */
  readonly address: string;
  /** Directory the driver may use for this container's state and logs; created by the agent. */
  readonly stateDir: string;
  /** Log rotation: a file is rotated when it passes `maxBytes`; `maxFiles` rotated files are kept. */
  readonly log: { readonly maxBytes: number; readonly maxFiles: number };
  /**
   * The instance's sandbox (`Driver.runSandbox`): the container joins its network namespace, so the
   * containers of one instance share `localhost` and its address, as a Kubernetes pod's do.
   */
  readonly sandbox?: ContainerHandle;
  /** Image drivers: the spec's command (ENTRYPOINT) and args (CMD), each already `$(VAR)`-expanded; absent: the image's. */
  readonly entrypoint?: readonly string[];
  readonly cmd?: readonly string[];
  /** Image drivers: when to pull (Kubernetes' imagePullPolicy; default IfNotPresent). */
  readonly imagePullPolicy?: 'IfNotPresent' | 'Always' | 'Never';
  /** Image drivers: labels set on the container (berth's own `io.berth.*` are added by the driver). */
  readonly labels?: Readonly<Record<string, string>>;
  /** Image drivers: Swarm's Mounts; a `volume` with `source` undefined is anonymous. */
  readonly mounts?: readonly ContainerMount[];
  /**
   * Image drivers, a stateful slot's container: the directory that keeps the image's declared volumes
   * (Dockerfile `VOLUME`) that no mount covers. Each is bind-mounted from `<dir>/<mountDirName(target)>`
   * (made when missing), so what the image keeps there outlives the container, as Kontena's stateful
   * services keep their containers' volumes; without it such a volume is anonymous and goes with the
   * container. The same directory as a `volume` mount without a source at that target.
   */
  readonly imageVolumesDir?: string;
  /** Image drivers: limits enforced by the engine; reservations recorded (CPUs as a fraction of cores, memory in bytes). */
  readonly resources?: ContainerResources;
  /** The signal `docker stop` would send (the image driver records it on the container). */
  readonly stopSignal?: string;
  /** Called with the progress of an image pull, when `start` pulls one (Docker's pull progress per layer). */
  readonly onPullProgress?: (progress: PullProgress) => void;
}

/**
 * The directory name that keeps a container path's data in a slot's mounts directory: `/var/lib/data`
 * → `var_lib_data`, `/` → `root`.
 */
export function mountDirName(target: string): string {
  return target.replace(/^\/+/, '').replace(/\//g, '_') || 'root';
}

/** One mount of an image container (Swarm's Mount; Docker's `--mount`). */
export interface ContainerMount {
  readonly type: 'bind' | 'volume' | 'tmpfs';
  /** Host path (bind), volume name (volume), absent for tmpfs or an anonymous volume. */
  readonly source?: string;
  /** Absolute path in the container. */
  readonly target: string;
  readonly readOnly?: boolean;
  /** tmpfs size, bytes. */
  readonly tmpfsSize?: number;
}

export interface ContainerResources {
  readonly limits?: { readonly cpus?: number; readonly memory?: number };
  readonly reservations?: { readonly cpus?: number; readonly memory?: number };
}

/** A step of an image pull, as the engine reports it (per layer). */
export interface PullProgress {
  readonly image: string;
  /** The layer id, when the step is about one. */
  readonly layer?: string;
  /** The engine's words: "Pulling fs layer", "Downloading", "Pull complete", "Status: Downloaded newer image …". */
  readonly status: string;
  /** Bytes done and total of the step, when the engine says. */
  readonly current?: number;
  readonly total?: number;
}

/**
 * What a driver needs to make one instance's sandbox (CRI's PodSandboxConfig): the network namespace
 * its containers join, holding the instance's address, hostname and DNS configuration.
 */
export interface SandboxConfig {
  readonly instanceId: string;
  /** The instance's address, on the driver's network. */
  readonly address: string;
  /** Default: the instance id. */
  readonly hostname?: string;
  /** DNS servers (addresses, port 53), search domains and resolver options of the sandbox's resolv.conf. */
  readonly dns?: { readonly servers: readonly string[]; readonly searches: readonly string[]; readonly options?: readonly string[] };
  /** Labels set on the sandbox (berth's own `io.berth.*` are added by the driver). */
  readonly labels?: Readonly<Record<string, string>>;
}

/** The container name `Driver.list` and the agent's handle files give an instance's sandbox (not a DNS label, so no spec container can have it). */
export const SANDBOX_CONTAINER = '.sandbox';

/** Serializable handle: enough to find the container again after berth restarts. */
export type ContainerHandle = Readonly<Record<string, unknown>> & { readonly driver: string };

/** How a container ended. `exitCode` is 128 + n when killed by signal n (shell convention). */
export interface ExitResult {
  readonly exitCode: number;
  readonly signal?: string;
  /** ISO 8601 time of the exit, when known. */
  readonly finishedAt?: string;
  /** Set when the exit could not be observed (e.g. the supervisor was lost while berth was down). */
  readonly message?: string;
}

export interface StopOptions {
  /** Signal sent first, e.g. SIGTERM. */
  readonly signal: string;
  /** Milliseconds to wait after `signal` before SIGKILL. */
  readonly timeoutMs: number;
}

/** Resource use of one container's whole process tree. */
export interface ContainerStats {
  /** Cumulative CPU time of the tree, milliseconds (callers derive a percentage from two samples). */
  readonly cpuTimeMs: number;
  readonly memoryBytes: number;
  readonly processes: number;
  /** Monotonic ms at which the sample was taken. */
  readonly sampledAt: number;
}

/** One log line as read back from a container's log. */
export interface ContainerLogLine {
  /** RFC 3339 with nanoseconds, UTC ("2026-11-21T15:04:05.123456789Z"); sorts as a string. */
  readonly time: string;
  readonly stream: 'stdout' | 'stderr';
  readonly text: string;
}

export interface LogReadOptions {
  /** Only the last `tail` lines (before following). */
  readonly tail?: number;
  /** Only lines at or after this RFC 3339 time. */
  readonly since?: string;
  /**
   * Keep yielding new lines (surviving rotation) until `signal` aborts, or until the container has
   * exited and its log is read to the end (as `docker logs -f`). An abort ends the iteration quietly.
   */
  readonly follow?: boolean;
  readonly signal?: AbortSignal;
}

/** How to run a command beside a running container (`Driver.exec`). */
export interface ExecOptions {
  /** The complete environment of the command (the container's own, as the agent builds it). */
  readonly env: Readonly<Record<string, string>>;
  /** Absolute directory the command starts in (the container's working directory). */
  readonly workingDir: string;
  /** The container's user (name or uid); honoured as the container's is: only when berth runs as root. */
  readonly user?: string;
  /** The command (and everything it started) is killed this many milliseconds after it began. */
  readonly timeoutMs: number;
  /** Aborting kills the command at once; the promise then resolves as a timeout would. */
  readonly signal?: AbortSignal;
}

/** How an exec'd command ended. */
export interface ExecResult {
  /** Exit code; 128 + n when killed by signal n; 126/127 when the command could not be run (shell convention). */
  readonly exitCode: number;
  /** stdout and stderr interleaved as they arrived, at most the first 4 KiB (longer output is cut). */
  readonly output: string;
  /** True when it was killed at `timeoutMs` (or by `signal`). */
  readonly timedOut: boolean;
}

/** A container a driver launched and still keeps a record of (`Driver.list`). */
export interface ListedContainer {
  /** `ContainerConfig.instanceId` and `containerName` it was started with. */
  readonly instanceId: string;
  readonly containerName: string;
  readonly handle: ContainerHandle;
}

/** What a recovered handle turned out to be. */
export type RecoverResult = { readonly state: 'running' } | { readonly state: 'exited'; readonly exit: ExitResult };

export interface Driver {
  readonly name: string;
  /**
   * Starts a container. Resolves once the process exists (or rejects when it cannot: command not found,
   * bad working directory …) with a handle to persist.
   * @throws CodedError `CONTAINER_START_FAILED` with a message fit for a user.
   */
  start(config: ContainerConfig): Promise<ContainerHandle>;
  /**
   * Re-attaches to a container started by an earlier berth process: still running, or how it ended.
   * Never adopts a process that merely reuses a recorded pid. When the exit could not be observed the
   * result is `exitCode` 255 with a `message`.
   */
  recover(handle: ContainerHandle): Promise<RecoverResult>;
  /** Resolves when the container exits (immediately if it already has). Abort stops waiting only. */
  wait(handle: ContainerHandle, signal?: AbortSignal): Promise<ExitResult>;
  /** Sends `options.signal` to the whole process tree, then SIGKILL after `timeoutMs`; resolves on exit. */
  stop(handle: ContainerHandle, options: StopOptions): Promise<ExitResult>;
  /**
   * Removes what the driver keeps for an exited container (not its logs, which the agent rotates away).
   * A container still running is killed (SIGKILL) first.
   */
  destroy(handle: ContainerHandle): Promise<void>;
  /** A sample of the container's resource use; undefined when it has exited. */
  stats(handle: ContainerHandle): Promise<ContainerStats | undefined>;
  /** Reads the container's log in time order (per stream; see docs/drivers.md on interleaving). */
  logs(handle: ContainerHandle, options: LogReadOptions): AsyncIterable<ContainerLogLine>;
  /**
   * Runs `argv` beside a running container (exec probes; Kubernetes' exec into the container): with
   * `options.env` and `options.workingDir`, no shell unless argv asks for one (`/bin/sh -c …`). Resolves
   * for any outcome of the command — non-zero exit, a command that cannot run (127/126), a timeout —
   * and never leaves it running after the promise settles. Optional: a driver without it cannot run
   * exec probes (the agent reports them as failing with a message saying so).
   * @throws CodedError `CONTAINER_NOT_RUNNING` when the container has exited; `CONTAINER_HANDLE_INVALID`.
   */
  exec?(handle: ContainerHandle, argv: readonly string[], options: ExecOptions): Promise<ExecResult>;
  /**
   * Every container this driver (its state directory, across berth restarts) started and has not
   * destroyed, running or ended, found from the driver's own records rather than from the agent's —
   * as kubelet lists the runtime's containers to adopt or kill those no pod claims. The agent calls it
   * once, before it starts anything, so that no container runs untracked and none runs twice: each one
   * is adopted by its live instance or destroyed. Optional: a driver without it is recovered from the
   * agent's handle files only.
   */
  list?(): Promise<readonly ListedContainer[]>;
  /**
   * Makes an instance's sandbox (CRI's RunPodSandbox): a container that holds the network namespace,
   * address, hostname and resolv.conf its containers share (`ContainerConfig.sandbox`). The handle
   * is a container handle like any: `wait` sees it end, `stop` and `destroy` are CRI's
   * StopPodSandbox and RemovePodSandbox, `recover` re-adopts it, and `list` names it
   * `SANDBOX_CONTAINER`. Optional: a driver without it runs an instance's containers in the node's
   * namespace (the process driver: they share the node's `localhost` already).
   * @throws CodedError `CONTAINER_START_FAILED` naming what went wrong (address taken, network missing …).
   */
  runSandbox?(config: SandboxConfig): Promise<ContainerHandle>;
}

export type { Disposable };
