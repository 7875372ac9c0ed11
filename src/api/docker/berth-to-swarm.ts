import type { Service, ServiceDeployment, ServicePort, ServiceSpec, UpdateConfig } from '../../model/index.js';
import { containerToSwarm, resourcesToSwarm } from './container-mapping.js';
import type { FaceNetwork } from './service-ports.js';
import { generatedPortName, targetNumber } from './service-ports.js';
import type { SwarmPortConfig, SwarmService, SwarmServiceSpec, SwarmUpdateConfig, SwarmUpdateStatus } from './swarm-types.js';
import { nanosFromDuration } from './swarm-values.js';

/* berth's service as the Docker face shows it (the berth → Swarm half of service-mapping.ts; the rules are there). */

export interface ToSwarmOptions {
  readonly network: FaceNetwork;
  /** Prefix length of the virtual IPs' range (16 for 127.96.0.0/16), for VirtualIPs' Addr. */
  readonly vipPrefixLength: number;
  /** Swarm's PreviousSpec: the spec a rollback would deploy (berth's spec history), if any. */
  readonly previousSpec?: ServiceSpec;
  /** Add ServiceStatus (`GET /services?status=true`). */
  readonly status?: boolean;
}

/**
 * A berth service as a Swarm Service: ID = berth's service id, Version.Index = its version (the
 * compare-and-set token an update names), CreatedAt/UpdatedAt, Spec (berthToSwarmSpec), PreviousSpec,
 * Endpoint (the ports as published, the virtual IP), UpdateStatus (berth's rollout of the current
 * deployment, whose states are Swarm's; absent before a rollout of it started and for the first
 * deployment, as Swarm shows none after create), and with `status` ServiceStatus.
 */
export function berthToSwarmService(service: Service, options: ToSwarmOptions): SwarmService {
  const forceUpdate = service.deployment?.restartGeneration ?? 0;
  const spec = berthToSwarmSpec(service.spec, forceUpdate);
  const shown = shownPorts(service.spec);
  const ip = service.spec.clusterIP;
  const update = updateStatusOf(service);
  return {
    ID: service.id,
    Version: { Index: service.version },
    CreatedAt: service.createdAt,
    UpdatedAt: service.updatedAt,
    Spec: spec,
    ...(options.previousSpec ? { PreviousSpec: berthToSwarmSpec(options.previousSpec, forceUpdate) } : {}),
    Endpoint: {
      Spec: spec.EndpointSpec ?? { Mode: 'vip' },
      ...(shown.length > 0
        ? { Ports: shown.map((p) => ({ Protocol: p.protocol.toLowerCase(), TargetPort: targetNumber(service.spec, p), PublishedPort: p.published ?? p.nodePort ?? 0, PublishMode: 'ingress' })) }
        : {}),
      ...(ip !== undefined && ip !== 'None' && ip !== '' ? { VirtualIPs: [{ NetworkID: options.network.id, Addr: `${ip}/${options.vipPrefixLength}` }] } : {}),
    },
    ...(update ? { UpdateStatus: update } : {}),
    ...(options.status ? { ServiceStatus: serviceStatusOf(service) } : {}),
  };
}

/** berth's spec as a Swarm ServiceSpec; `forceUpdate` is TaskTemplate.ForceUpdate (the deployment's restart generation). */
export function berthToSwarmSpec(spec: ServiceSpec, forceUpdate = 0): SwarmServiceSpec {
  const first = spec.containers[0];
  const resources = resourcesToSwarm(first);
  const ports = shownPorts(spec);
  const p = spec.placement;
  return {
    Name: spec.name,
    Labels: { ...spec.labels },
    TaskTemplate: {
      ContainerSpec: first ? containerToSwarm(first) : { Image: '' },
      ...(resources ? { Resources: resources } : {}),
      RestartPolicy: {
        Condition: spec.restartPolicy.condition,
        Delay: nanosFromDuration(spec.restartPolicy.delay),
        MaxAttempts: spec.restartPolicy.maxAttempts,
        Window: nanosFromDuration(spec.restartPolicy.window),
      },
      ...(p
        ? {
            Placement: {
              ...(p.constraints.length > 0 ? { Constraints: [...p.constraints] } : {}),
              ...(p.preferences.length > 0 ? { Preferences: p.preferences.map((x) => ({ Spread: { SpreadDescriptor: x.spread } })) } : {}),
              ...(p.maxReplicasPerNode > 0 ? { MaxReplicas: p.maxReplicasPerNode } : {}),
              ...(p.platforms.length > 0
                ? { Platforms: p.platforms.map((x) => ({ ...(x.architecture !== undefined ? { Architecture: x.architecture } : {}), ...(x.os !== undefined ? { OS: x.os } : {}) })) }
                : {}),
            },
          }
        : {}),
      ForceUpdate: forceUpdate,
      Runtime: 'container',
    },
    Mode: spec.mode === 'global' ? { Global: {} } : { Replicated: { Replicas: spec.replicas } },
    UpdateConfig: updateConfigToSwarm(spec.updateConfig),
    RollbackConfig: updateConfigToSwarm(spec.rollbackConfig),
    EndpointSpec: {
      Mode: spec.clusterIP === 'None' ? 'dnsrr' : 'vip',
      ...(ports.length > 0 ? { Ports: ports.map((x) => portToSwarm(spec, x, ports.length > 1)) } : {}),
    },
  };
}

/**
 * The ports Swarm can show: those published on the node (a published port, or a node port — every port
 * of a NodePort or LoadBalancer service has one once stored). The rest are berth's own (virtual IP only).
 */
function shownPorts(spec: ServiceSpec): ServicePort[] {
  const nodePorts = spec.type === 'NodePort' || spec.type === 'LoadBalancer';
  return spec.ports.filter((p) => p.published !== undefined || p.nodePort !== undefined || nodePorts);
}

function portToSwarm(spec: ServiceSpec, p: ServicePort, several: boolean): SwarmPortConfig {
  const target = targetNumber(spec, p);
  const generated = several && p.name === generatedPortName(p.protocol, target);
  return {
    ...(p.name && !generated ? { Name: p.name } : {}),
    Protocol: p.protocol.toLowerCase(),
    TargetPort: target,
    PublishedPort: p.published ?? 0,
    PublishMode: 'ingress',
  };
}

function updateConfigToSwarm(u: UpdateConfig): SwarmUpdateConfig {
  return {
    Parallelism: u.parallelism,
    Delay: nanosFromDuration(u.delay),
    FailureAction: u.failureAction,
    Monitor: nanosFromDuration(u.monitor),
    MaxFailureRatio: u.maxFailureRatio,
    Order: u.order,
  };
}

/**
 * Swarm's UpdateStatus: berth's rollout when it belongs to the current deployment and moves from an
 * earlier generation. Swarm clears it when an update is asked for and sets none on create; the docker
 * CLI's progress display takes a `completed` left from the previous rollout as "this one is done".
 */
function updateStatusOf(service: Service): SwarmUpdateStatus | undefined {
  const update = service.status.update;
  const dep = service.deployment;
  if (!update || !dep || update.requestedAt !== dep.requestedAt || update.fromGeneration === undefined) return undefined;
  return { State: update.state, StartedAt: update.startedAt, ...(update.completedAt ? { CompletedAt: update.completedAt } : {}), Message: swarmUpdateMessage(update.state, dep.cause, update.message) };
}

/**
 * swarmkit's words for a rollout's steady states (manager/orchestrator/update/updater.go: "update in
 * progress", "update completed", "manually requested rollback", "rollback completed"), which the docker
 * CLI prints (`rollback: manually requested rollback`) and scripts match; a paused rollout (and an
 * automatic rollback) keeps berth's message, which names the instance and why.
 */
function swarmUpdateMessage(state: SwarmUpdateStatus['State'], cause: ServiceDeployment['cause'], berthMessage: string): string {
  switch (state) {
    case 'updating':
      return 'update in progress';
    case 'completed':
      return 'update completed';
    case 'rollback_started':
      return cause === 'rollback' ? 'manually requested rollback' : berthMessage;
    case 'rollback_completed':
      return 'rollback completed';
    default:
      return berthMessage;
  }
}

/** ServiceStatus as swarmkit's ListServiceStatuses counts it: running tasks, desired tasks (replicas; global: the controller's count), no job completions. */
function serviceStatusOf(service: Service): { RunningTasks: number; DesiredTasks: number; CompletedTasks: number } {
  const running = service.desired === 'running';
  const desired = !running ? 0 : service.spec.mode === 'global' ? service.status.desiredInstances : service.spec.replicas;
  return { RunningTasks: service.status.runningInstances, DesiredTasks: desired, CompletedTasks: 0 };
}
