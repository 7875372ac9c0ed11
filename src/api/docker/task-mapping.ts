import type { DesiredState, Instance, InstanceState, InstanceStatus } from '../../model/index.js';
import { isTerminal } from '../../model/index.js';
import { containerToSwarm, resourcesToSwarm } from './container-mapping.js';
import { nodeIdOf, taskIdOf } from './swarm-ids.js';
import type { SwarmTaskSpec } from './swarm-types.js';
import { nanosFromDuration } from './swarm-values.js';

/*
 * A berth instance seen as a Swarm task (moby api/types/swarm/task.go, API 1.50 field names). Pure:
 * the route hands in what the instance alone cannot say (whether a newer instance took its slot, the
 * service's mode, the network it is attached to).
 */

/** Swarm's TaskState names (moby api/types/swarm/task.go), in their order. */
export const SWARM_TASK_STATES = [
  'new', 'allocated', 'pending', 'assigned', 'accepted', 'preparing', 'ready', 'starting', 'running',
  'complete', 'shutdown', 'failed', 'rejected', 'remove', 'orphaned',
] as const;
export type SwarmTaskState = (typeof SWARM_TASK_STATES)[number];

/**
 * berth's instance state → Swarm's task state. berth places an instance on its node when it creates
 * it, so a `new` instance is Swarm's `assigned` (scheduled, not yet accepted by the node's agent);
 * `pending` (the agent took it and prepares its directories and address) is `preparing`; an image pull
 * happens while berth says `starting` (Status.Message then says `pulling image …`). Every mapped state
 * keeps berth's order, so a task's state only moves forward here too. `running` is refined by
 * taskStateOf (a probed instance is `starting` until its probes first pass, as Swarm's HEALTHCHECK).
 */
export const TASK_STATE_OF: Readonly<Record<InstanceState, SwarmTaskState>> = {
  new: 'assigned',
  pending: 'preparing',
  starting: 'starting',
  running: 'running',
  complete: 'complete',
  failed: 'failed',
  shutdown: 'shutdown',
  rejected: 'rejected',
};

/** The network a task is attached to, as the face shows it (its /networks lists the same). */
export interface TaskNetwork {
  readonly id: string;
  readonly name: string;
  /** The subnet's prefix length: the attachment's address is `<instance address>/<prefixLength>`. */
  readonly prefixLength: number;
}

/** What the route knows about an instance beyond the instance itself. */
export interface TaskContext {
  /** A newer instance has taken this one's slot (the store lists a slot's instances newest first). */
  readonly superseded: boolean;
  /** The service runs one instance per node (Swarm's global mode: tasks have no slot, only a node). */
  readonly global: boolean;
  /** The network the instance's address belongs to; absent: no NetworksAttachments. */
  readonly network?: TaskNetwork;
  /**
   * The service's TaskTemplate at the generation the instance runs (berthToSwarmSpec of that spec
   * revision, service-mapping.ts), so that a task's Spec is its service's TaskTemplate of then; absent
   * (the revision left the history): built from the copy of the spec the instance carries.
   */
  readonly template?: SwarmTaskSpec;
}

export interface SwarmVersion {
  readonly Index: number;
}

export interface SwarmContainerStatus {
  readonly ContainerID?: string;
  readonly PID?: number;
  readonly ExitCode?: number;
}

export interface SwarmTaskStatus {
  /** RFC 3339: when the task entered its current state. */
  readonly Timestamp: string;
  readonly State: SwarmTaskState;
  readonly Message: string;
  /** Why a task failed or was rejected; what `docker service ps` shows in its ERROR column. */
  readonly Err?: string;
  readonly ContainerStatus: SwarmContainerStatus;
  readonly PortStatus: { readonly Ports?: readonly unknown[] };
}

export interface SwarmNetworkAttachment {
  readonly Network: { readonly ID: string; readonly Spec: { readonly Name: string; readonly Labels: Readonly<Record<string, string>> } };
  readonly Addresses: readonly string[];
}

/** moby's swarm.Task as the face answers it. */
export interface SwarmTask {
  readonly ID: string;
  readonly Version: SwarmVersion;
  readonly CreatedAt: string;
  readonly UpdatedAt: string;
  readonly Labels: Readonly<Record<string, string>>;
  readonly Spec: SwarmTaskSpec;
  readonly ServiceID: string;
  /** Absent for a global service's tasks (Swarm: slot 0, named by node). */
  readonly Slot?: number;
  readonly NodeID: string;
  readonly Status: SwarmTaskStatus;
  readonly DesiredState: 'running' | 'shutdown';
  readonly NetworksAttachments?: readonly SwarmNetworkAttachment[];
}

/**
 * The Swarm state of an instance: TASK_STATE_OF, except that a running instance whose probes have
 * never passed yet is `starting` — Swarm reports a task with a HEALTHCHECK as starting until the check
 * first passes (daemon/cluster/executor/container/controller.go), and the docker CLI's progress
 * display counts only `running` tasks as converged. Once ready it stays `running` (states never move back).
 */
export function taskStateOf(status: InstanceStatus): SwarmTaskState {
  const health = status.health;
  if (status.state === 'running' && health && !health.ready && health.readySince === undefined) return 'starting';
  return TASK_STATE_OF[status.state];
}

/**
 * The desired state Swarm would show: the instance's own, except that an ended instance whose slot a
 * newer instance has taken is `shutdown` — Swarm's restart supervisor sets the old task's desired state
 * to shutdown when it starts the replacement (swarmkit manager/orchestrator/restart/restart.go), which
 * is what `docker service ps -f desired-state=running` and the CLI's progress display rely on. An
 * ended instance nobody replaced (restart condition `none`) keeps `running`, as in Swarm.
 */
export function taskDesiredStateOf(instance: Instance, superseded: boolean): DesiredState {
  if (superseded && isTerminal(instance.status.state)) return 'shutdown';
  return instance.desiredState;
}

/**
 * Status.Err: set for failed and rejected tasks only (what the ERROR column of `docker service ps`
 * shows). A plain non-zero exit is worded as Swarm words it, `task: non-zero exit (N)` (moby
 * daemon/cluster/executor/container/errors.go); any other failure (a probe, a lost process, a refused
 * start) keeps berth's message, which says more.
 */
export function taskErrOf(status: InstanceStatus): string | undefined {
  if (status.state === 'failed') {
    if (status.exitCode !== undefined && status.exitCode !== 0 && /^exited with code \d+/.test(status.message)) return `task: non-zero exit (${status.exitCode})`;
    return status.message;
  }
  if (status.state === 'rejected') return status.message;
  return undefined;
}

/**
 * When the task entered its current state (Status.Timestamp; `Running 3 seconds ago` in `docker
 * service ps`): a running instance's start (or, with probes, when it became ready), an ended one's
 * finish, else the agent's last status write. berth rewrites the status for health and drain changes,
 * which must not reset "Running N seconds ago".
 */
export function taskTimestampOf(status: InstanceStatus): string {
  if (status.state === 'running') return status.health?.ready ? (status.health.readySince ?? status.startedAt ?? status.timestamp) : (status.startedAt ?? status.timestamp);
  if (isTerminal(status.state)) return status.finishedAt ?? status.timestamp;
  return status.timestamp;
}

/**
 * The engine id of the instance's main container (the first in its spec), from the Docker driver's
 * handles in the status: `{driver: 'docker', id, name}`, named `<instance>.<container>.<owner>`
 * (src/drivers/docker/container-create.ts); the sandbox (`<instance>.sandbox.<owner>`) is skipped.
 * Undefined for process instances and before the containers started.
 */
export function containerIdOf(instance: Instance): string | undefined {
  const main = instance.spec.containers[0]?.name ?? instance.service;
  const docker = (instance.status.handles ?? []).filter(
    (h): h is { driver: 'docker'; id: string; name: string } => isRecord(h) && h.driver === 'docker' && typeof h.id === 'string' && typeof h.name === 'string',
  );
  const named = docker.find((h) => h.name.startsWith(`${instance.id}.${main}.`));
  return (named ?? docker.find((h) => !h.name.startsWith(`${instance.id}.sandbox.`)))?.id;
}

/** ContainerStatus: the main container's id, its pid while it runs, its exit code once ended (zeros omitted, as moby's omitempty). */
export function containerStatusOf(instance: Instance): SwarmContainerStatus {
  const { status } = instance;
  const containerId = containerIdOf(instance);
  const pid = status.state === 'running' ? status.containers?.find((c) => c.pid !== undefined)?.pid : undefined;
  const exitCode = isTerminal(status.state) ? status.exitCode : undefined;
  return {
    ...(containerId ? { ContainerID: containerId } : {}),
    ...(pid ? { PID: pid } : {}),
    ...(exitCode ? { ExitCode: exitCode } : {}),
  };
}

/**
 * swarmkit's naming.Task: `<service>.<slot>.<task id>` (`<service>.<node id>.<task id>` in global
 * mode). The `name` filter of GET /tasks is a prefix of it, and GET /tasks/{id} accepts it in full.
 */
export function taskName(serviceName: string, instance: Instance, global: boolean): string {
  return `${serviceName}.${global ? nodeIdOf(instance.node) : instance.slot}.${taskIdOf(instance.id)}`;
}

/**
 * The Swarm task of a berth instance. ID = taskIdOf(instance id); ServiceID, Slot (absent in global mode),
 * NodeID = nodeIdOf(node); Version.Index = the instance's store revision; Spec = the TaskTemplate of
 * the generation the instance runs (context.template, else from the copy it carries); Labels empty, as Swarm's tasks have none
 * of their own (the `label` filter matches the service's labels, as swarmkit's does). PortStatus stays
 * empty: berth publishes ports through its proxy, as Swarm's ingress mode, which lists none there.
 */
export function taskOf(instance: Instance, context: TaskContext): SwarmTask {
  const { status } = instance;
  const err = taskErrOf(status);
  const updatedAt = status.timestamp > instance.createdAt ? status.timestamp : instance.createdAt;
  return {
    ID: taskIdOf(instance.id),
    Version: { Index: instance.version },
    CreatedAt: instance.createdAt,
    UpdatedAt: updatedAt,
    Labels: {},
    Spec: context.template ? { ...context.template, ForceUpdate: instance.restartGeneration } : taskSpecOf(instance),
    ServiceID: instance.serviceId,
    ...(context.global ? {} : { Slot: instance.slot }),
    NodeID: nodeIdOf(instance.node),
    Status: {
      Timestamp: taskTimestampOf(status),
      State: taskStateOf(status),
      Message: status.message,
      ...(err !== undefined ? { Err: err } : {}),
      ContainerStatus: containerStatusOf(instance),
      PortStatus: {},
    },
    DesiredState: taskDesiredStateOf(instance, context.superseded),
    ...(context.network
      ? { NetworksAttachments: [{ Network: { ID: context.network.id, Spec: { Name: context.network.name, Labels: {} } }, Addresses: [`${instance.spec.address}/${context.network.prefixLength}`] }] }
      : {}),
  };
}

// ---- TaskSpec ----------------------------------------------------------------------------------

/**
 * Swarm's TaskSpec from the copy of the spec an instance carries, through the services' own mapping
 * (container-mapping.ts: ContainerSpec and Resources of the first container), so a task shows what
 * its service's TaskTemplate showed: RestartPolicy in ns, ForceUpdate = the restart generation.
 */
export function taskSpecOf(instance: Instance): SwarmTaskSpec {
  const main = instance.spec.containers[0];
  const resources = resourcesToSwarm(main);
  const restart = instance.spec.restartPolicy;
  return {
    ContainerSpec: main ? containerToSwarm(main) : { Image: '' },
    ...(resources ? { Resources: resources } : {}),
    RestartPolicy: { Condition: restart.condition, Delay: nanosFromDuration(restart.delay), MaxAttempts: restart.maxAttempts, Window: nanosFromDuration(restart.window) },
    ForceUpdate: instance.restartGeneration,
    Runtime: 'container',
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
