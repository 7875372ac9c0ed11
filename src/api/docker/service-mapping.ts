import type { z } from 'zod';
import type { ServicePort, ServiceSpec, ServiceSpecInput, UpdateConfig, UpdateConfigSchema } from '../../model/index.js';
import { containerFromSwarm } from './container-mapping.js';
import { DockerApiError } from './docker-errors.js';
import { invalidArgument } from './service-errors.js';
import { checkSpecShape } from './swarm-spec-shape.js';
import type { SwarmEndpointSpec, SwarmNetworkAttachmentConfig, SwarmPlacement, SwarmPortConfig, SwarmServiceSpec, SwarmTaskSpec, SwarmUpdateConfig } from './swarm-types.js';
import { durationFromNanos, nanosFromDuration, refuse, refuseIfSet } from './swarm-values.js';
import type { FaceNetwork } from './service-ports.js';
import { generatedPortName, targetNumber } from './service-ports.js';

export type { FaceNetwork } from './service-ports.js';
export type { ToSwarmOptions } from './berth-to-swarm.js';
export { berthToSwarmService, berthToSwarmSpec } from './berth-to-swarm.js';

/*
 * The ServiceSpec ↔ berth spec mapping of the Docker face (issue 11 §3), pure: no store, no clock.
 * docs/docker-api.md ("Services") has the table: each Swarm field, the berth field it becomes, the
 * default when it is left out, and what is refused. The rules that hold it together:
 *
 * - Round trip: for a service created through the face, berthToSwarmService(...).Spec gives back every
 *   supported field as it was sent (the docker CLI's `service update` reads the spec, edits it and
 *   sends it back whole). Sections berth always stores (RestartPolicy, UpdateConfig, RollbackConfig,
 *   StopSignal, StopGracePeriod, EndpointSpec.Mode) are shown with the defaults that apply when they
 *   were left out — Swarm's own defaults (moby/swarmkit api/defaults/service.go), as
 *   `inspect --insertDefaults` shows them.
 * - What a Swarm spec cannot say about a service made with berth's own API (its stateful slots,
 *   drain timeout, container ports, probes that are not a healthcheck, secret env vars, ports served
 *   on the virtual IP only, containers after the first …) is kept from the stored spec on an update
 *   through the face (`current`), so `docker service update --env-add` changes only what it says.
 * - A Swarm field berth has no use for is accepted when it is unset (Go's zero value) and refused with
 *   HTTP 400 naming the field when it is set and ignoring it would surprise (Secrets, Privileges …).
 */

type UpdateConfigInput = z.input<typeof UpdateConfigSchema>;

export interface ToBerthOptions {
  /** The face's networks (/networks): what Networks may name (by id, name or id prefix). */
  readonly networks: readonly FaceNetwork[];
  /** The stored spec of the service being updated: berth-only fields are kept from it. Absent on create. */
  readonly current?: ServiceSpec;
}

const TT = 'TaskTemplate';

/**
 * A Swarm ServiceSpec as berth's spec input (then parsed by the service operations, which apply
 * berth's validation, limits and access checks). `spec.Name` must be set (the route names an unnamed
 * service as Swarm does).
 * @throws DockerApiError 400 naming the Swarm field (a JSON type that is not the engine's, unsupported field set, job modes, both modes,
 *   negative or sub-millisecond durations, sctp, an unknown endpoint or publish mode, a missing image),
 *   404 `network X not found` for a network other than the face's
 */
export function swarmToBerthSpec(spec: SwarmServiceSpec, options: ToBerthOptions): ServiceSpecInput {
  checkSpecShape(spec);
  const { current } = options;
  const task: SwarmTaskSpec = spec.TaskTemplate ?? {};
  if (current && current.containers.length === 0) {
    refuse('TaskTemplate.ContainerSpec', `service ${current.name} runs no containers (an ExternalName service, a selector or hand-set endpoints): a Swarm ServiceSpec cannot describe it; change it with berth's own API`);
  }
  refuseTaskFields(task);
  const cs = task.ContainerSpec;
  if (!cs) refuse(`${TT}.ContainerSpec`, 'is required: berth runs containers (plugin and network-attachment tasks are not supported)');
  const currentFirst = current?.containers[0];
  if (!cs.Image && (currentFirst === undefined || currentFirst.image !== undefined)) refuse(`${TT}.ContainerSpec.Image`, 'image reference must be provided');
  checkNetworks(spec.Networks, 'Networks', options.networks, spec.Name);
  checkNetworks(task.Networks, `${TT}.Networks`, options.networks, spec.Name);
  const first = containerFromSwarm(cs, task.Resources, currentFirst);
  const mode = modeFromSwarm(spec.Mode);
  const endpoint = endpointFromSwarm(spec.EndpointSpec, current);
  const restart = task.RestartPolicy;
  const delay = durationFromNanos(`${TT}.RestartPolicy.Delay`, restart?.Delay);
  const window = durationFromNanos(`${TT}.RestartPolicy.Window`, restart?.Window);
  const placement = placementFromSwarm(task.Placement);
  const updateConfig = updateConfigFromSwarm('UpdateConfig', spec.UpdateConfig, current?.updateConfig);
  const rollbackConfig = updateConfigFromSwarm('RollbackConfig', spec.RollbackConfig, current?.rollbackConfig);
  return {
    ...keptFromCurrent(current),
    name: spec.Name ?? '',
    labels: { ...(spec.Labels ?? {}) },
    ...mode,
    containers: [first, ...(current?.containers.slice(1) ?? [])],
    ...(restart
      ? {
          restartPolicy: {
            condition: (restart.Condition || 'any') as 'any',
            ...(delay !== undefined ? { delay } : {}),
            ...(restart.MaxAttempts != null ? { maxAttempts: restart.MaxAttempts } : {}),
            ...(window !== undefined ? { window } : {}),
          },
        }
      : {}),
    ...(placement ? { placement } : {}),
    ...(updateConfig ? { updateConfig } : {}),
    ...(rollbackConfig ? { rollbackConfig } : {}),
    ...endpoint,
  };
}

/** TaskTemplate.ForceUpdate, the counter whose change redeploys every task (0 when absent). */
export function forceUpdateOf(spec: SwarmServiceSpec): number {
  const n = spec.TaskTemplate?.ForceUpdate;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 ? n : 0;
}

/** The mode a Swarm spec asks for (`replicated` unless Mode.Global is set). */
export function modeOf(spec: SwarmServiceSpec): 'replicated' | 'global' {
  return spec.Mode?.Global ? 'global' : 'replicated';
}

/** berth-only spec fields an update through the face keeps (none on create: berth's defaults apply). */
function keptFromCurrent(current: ServiceSpec | undefined): Partial<ServiceSpecInput> {
  if (!current) return {};
  const { stateful, drainTimeout, externalIPs, sessionAffinity, sessionAffinityConfig, publishNotReadyAddresses, serviceAccount, annotations } = current;
  return {
    ...(annotations ? { annotations } : {}),
    stateful,
    drainTimeout,
    externalIPs: [...externalIPs],
    sessionAffinity,
    ...(sessionAffinityConfig ? { sessionAffinityConfig } : {}),
    publishNotReadyAddresses,
    ...(serviceAccount ? { serviceAccount } : {}),
  };
}

function refuseTaskFields(task: SwarmTaskSpec): void {
  if (task.Runtime && task.Runtime !== 'container') refuse(`${TT}.Runtime`, `"${task.Runtime}" tasks are not supported: berth runs containers`);
  refuseIfSet(`${TT}.PluginSpec`, task.PluginSpec, 'plugin tasks are not supported');
  refuseIfSet(`${TT}.NetworkAttachmentSpec`, task.NetworkAttachmentSpec, 'network-attachment tasks are not supported');
  const log = task.LogDriver;
  // berth keeps each instance's output itself (`docker service logs` reads it): the engine's default drivers change nothing.
  if (log?.Name && log.Name !== 'json-file' && log.Name !== 'local') refuse(`${TT}.LogDriver.Name`, `berth keeps the instances' output itself; the "${log.Name}" log driver is not supported`);
  refuseIfSet(`${TT}.LogDriver.Options`, log?.Options, 'berth keeps the instances\' output itself; log driver options are not supported');
}

/**
 * Networks may name the face's networks only (by id, name or id prefix, as /networks lists them);
 * every berth service is on them, so the attachment is not stored and inspect shows none. An alias
 * other than the service's own name is refused.
 */
function checkNetworks(networks: readonly SwarmNetworkAttachmentConfig[] | null | undefined, at: string, face: readonly FaceNetwork[], name: string | undefined): void {
  (networks ?? []).forEach((n, i) => {
    const target = n?.Target ?? '';
    if (!face.some((f) => f.name === target || (target !== '' && f.id.startsWith(target)))) throw new DockerApiError(404, `network ${target} not found`);
    if ((n.Aliases ?? []).some((a) => a !== name)) refuse(`${at}[${i}].Aliases`, 'berth names a service\'s instances by the service\'s name only; other aliases are not supported');
    refuseIfSet(`${at}[${i}].DriverOpts`, n.DriverOpts, 'network driver options are not supported');
  });
}

function modeFromSwarm(mode: SwarmServiceSpec['Mode']): Pick<ServiceSpecInput, 'mode' | 'replicas'> {
  if (mode?.ReplicatedJob) refuse('Mode.ReplicatedJob', 'jobs (tasks that run to completion) are not supported: berth keeps services running');
  if (mode?.GlobalJob) refuse('Mode.GlobalJob', 'jobs (tasks that run to completion) are not supported: berth keeps services running');
  if (mode?.Global && mode.Replicated) throw invalidArgument('cannot specify both replicated mode and global mode');
  if (mode?.Global) return { mode: 'global' };
  const replicas = mode?.Replicated?.Replicas;
  return { mode: 'replicated', replicas: replicas ?? 1 };
}

function placementFromSwarm(p: SwarmPlacement | null | undefined): ServiceSpecInput['placement'] {
  if (!p) return undefined;
  const at = `${TT}.Placement`;
  const preferences = (p.Preferences ?? []).map((pref, i) => {
    const spread = pref?.Spread?.SpreadDescriptor;
    if (!spread) refuse(`${at}.Preferences[${i}]`, 'only Spread preferences with a SpreadDescriptor are supported');
    return { spread };
  });
  const platforms = (p.Platforms ?? []).map((pl) => ({ ...(pl.OS !== undefined ? { os: pl.OS } : {}), ...(pl.Architecture !== undefined ? { architecture: pl.Architecture } : {}) }));
  const constraints = [...(p.Constraints ?? [])];
  const maxReplicasPerNode = p.MaxReplicas ?? 0;
  if (constraints.length === 0 && preferences.length === 0 && platforms.length === 0 && maxReplicasPerNode === 0) return undefined;
  return { constraints, preferences, platforms, maxReplicasPerNode };
}

/**
 * An UpdateConfig/RollbackConfig as berth's. Left out: Swarm's server defaults, which are berth's
 * (parallelism 1, pause, monitor 5 s, stop-first). Inside a given config Go's zero values apply:
 * Parallelism 0 = all at once, FailureAction "" = pause, Order "" = stop-first, and Monitor 0 = the
 * default 5 s (moby daemon/cluster/convert: a zero Monitor is not sent to swarmkit) — unless the stored
 * config monitors for 0 s, which the face shows as 0 and keeps. Kontena's minHealth is kept from `current`.
 */
function updateConfigFromSwarm(at: string, uc: SwarmUpdateConfig | null | undefined, current: UpdateConfig | undefined): UpdateConfigInput | undefined {
  const minHealth = current?.minHealth !== undefined ? { minHealth: current.minHealth } : {};
  if (!uc) return current?.minHealth !== undefined ? minHealth : undefined;
  const monitor = uc.Monitor ? durationFromNanos(`${at}.Monitor`, uc.Monitor) : current !== undefined && nanosFromDuration(current.monitor) === 0 ? '0s' : '5s';
  if (uc.MaxFailureRatio !== undefined && (uc.MaxFailureRatio < 0 || uc.MaxFailureRatio > 1)) throw invalidArgument(`${at}.MaxFailureRatio: TaskSpec: update-maxfailureratio cannot be less than 0 or bigger than 1`);
  return {
    parallelism: uc.Parallelism ?? 0,
    delay: durationFromNanos(`${at}.Delay`, uc.Delay ?? 0) ?? '0s',
    failureAction: (uc.FailureAction || 'pause') as 'pause',
    monitor,
    maxFailureRatio: uc.MaxFailureRatio ?? 0,
    order: (uc.Order || 'stop-first') as 'stop-first',
    ...minHealth,
  };
}


/**
 * EndpointSpec as berth's network face. Mode vip → a virtual IP (kept on update), dnsrr → headless
 * (`clusterIP: None`). Each port is published on the node: PublishedPort N → `published: N`;
 * PublishedPort 0 → a node port chosen from 30000–32767 (type NodePort), as Swarm's automatic ports.
 * PublishMode ingress and host both publish on the node (one node: the same thing). The virtual IP
 * serves TargetPort, as Swarm's VIP does. On update, a port that matches a stored one (protocol,
 * target, published) keeps its name and virtual-IP port, and ports served on the virtual IP only
 * (berth's own) are kept; a LoadBalancer service stays one.
 */
function endpointFromSwarm(ep: SwarmEndpointSpec | null | undefined, current: ServiceSpec | undefined): Pick<ServiceSpecInput, 'type' | 'ports' | 'clusterIP'> {
  const mode = ep?.Mode || 'vip';
  if (mode !== 'vip' && mode !== 'dnsrr') throw invalidArgument(`EndpointSpec.Mode: invalid resolution mode: "${mode}"`);
  const sent = ep?.Ports ?? [];
  // swarmkit's validateEndpointSpec: the routing mesh balances behind a VIP, which dnsrr has not; a
  // port published in host mode (on each task's node) is accepted.
  if (mode === 'dnsrr' && sent.some((p) => (p.PublishMode || 'ingress') === 'ingress')) throw invalidArgument("EndpointSpec: port published with ingress mode can't be used with dnsrr mode");
  const several = sent.length > 1;
  const ports = sent.map((p, i) => portFromSwarm(p, `EndpointSpec.Ports[${i}]`, several, current));
  const auto = sent.some((p) => !p.PublishedPort);
  const vipOnly = (current?.ports ?? []).filter((p) => p.published === undefined && p.nodePort === undefined && !ports.some((q) => q.port === p.port && q.protocol === p.protocol));
  const type = current?.type === 'LoadBalancer' ? 'LoadBalancer' : auto ? 'NodePort' : 'ClusterIP';
  return { type, ports: [...ports, ...vipOnly.map((p) => ({ ...p }))], ...(mode === 'dnsrr' ? { clusterIP: 'None' } : {}) };
}

function portFromSwarm(p: SwarmPortConfig, at: string, several: boolean, current: ServiceSpec | undefined): ServicePort {
  const protocol = (p.Protocol || 'tcp').toLowerCase();
  if (protocol !== 'tcp' && protocol !== 'udp') refuse(`${at}.Protocol`, `"${protocol}" is not supported: berth serves tcp and udp`);
  const publishMode = p.PublishMode || 'ingress';
  if (publishMode !== 'ingress' && publishMode !== 'host') refuse(`${at}.PublishMode`, `"${publishMode}" is not a publish mode (ingress or host)`);
  const target = p.TargetPort;
  if (typeof target !== 'number' || !Number.isInteger(target) || target < 1 || target > 65535) refuse(`${at}.TargetPort`, 'must be a port from 1 to 65535');
  const published = p.PublishedPort ? p.PublishedPort : undefined;
  const PROTO = protocol.toUpperCase() as 'TCP' | 'UDP';
  const match = current?.ports.find(
    (c) => c.protocol === PROTO && targetNumber(current, c) === target && (published !== undefined ? c.published === published : c.published === undefined && c.nodePort !== undefined),
  );
  const name = p.Name || match?.name || (several ? generatedPortName(protocol, target) : undefined);
  return {
    ...(name ? { name } : {}),
    protocol: PROTO,
    port: match?.port ?? target,
    targetPort: match?.targetPort ?? target,
    ...(published !== undefined ? { published } : {}),
    ...(match?.nodePort !== undefined && published === undefined ? { nodePort: match.nodePort } : {}),
  };
}


// ---- berth → Swarm ----
