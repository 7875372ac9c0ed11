import type { z } from 'zod';
import type { ContainerSpec, ContainerSpecSchema, Probe } from '../../model/index.js';
import type { SwarmContainerSpec, SwarmHealthConfig, SwarmMount, SwarmResourceRequirements, SwarmResources } from './swarm-types.js';
import { cpusFromNanos, durationFromNanos, nanosFromCpus, nanosFromDuration, nanosFromSeconds, refuse, refuseIfSet } from './swarm-values.js';

/*
 * TaskTemplate.ContainerSpec (+ TaskTemplate.Resources) ↔ berth's first container, both ways, pure.
 * The table of fields, defaults and refusals is in docs/docker-api.md ("Services").
 */

export type ContainerInput = z.input<typeof ContainerSpecSchema>;

const CS = 'TaskTemplate.ContainerSpec';

/**
 * A Swarm ContainerSpec and TaskTemplate.Resources as berth's container input. With `current` (an
 * update), what a ContainerSpec cannot say is kept from the stored container: its name, image pull
 * policy, container ports, startup probe, secret-backed env vars not sent again, and readiness/
 * liveness probes that are not a Docker healthcheck when no Healthcheck is sent.
 * @throws DockerApiError 400 naming the Swarm field, for what berth would otherwise silently drop
 */
export function containerFromSwarm(cs: SwarmContainerSpec, resources: SwarmResourceRequirements | null | undefined, current: ContainerSpec | undefined): ContainerInput {
  refuseUnsupportedContainerFields(cs);
  const healthcheck = healthcheckFromSwarm(cs.Healthcheck);
  const sentEnv = (cs.Env ?? []).map((e, i) => {
    if (typeof e !== 'string') refuse(`${CS}.Env[${i}]`, 'must be a string KEY=value');
    return e;
  });
  const sentNames = new Set(sentEnv.map((e) => (e.includes('=') ? e.slice(0, e.indexOf('=')) : e)));
  // A secret reference has no KEY=value form: it is not shown, so it is kept unless the same name is sent.
  const keptSecrets = (current?.env ?? []).filter((e) => 'valueFrom' in e && !sentNames.has(e.name));
  const mounts = (cs.Mounts ?? []).map((m, i) => mountFromSwarm(m, `${CS}.Mounts[${i}]`));
  const res = resourcesFromSwarm(resources);
  const stopGracePeriod = durationFromNanos(`${CS}.StopGracePeriod`, cs.StopGracePeriod);
  const keptProbes = current !== undefined && cs.Healthcheck == null && healthcheckToSwarm(current) === undefined
    ? { ...(current.readinessProbe ? { readinessProbe: current.readinessProbe } : {}), ...(current.livenessProbe ? { livenessProbe: current.livenessProbe } : {}) }
    : {};
  return {
    ...(current?.name !== undefined ? { name: current.name } : {}),
    ...(cs.Image ? { image: cs.Image } : {}),
    ...(current?.imagePullPolicy !== undefined && cs.Image ? { imagePullPolicy: current.imagePullPolicy } : {}),
    ...(cs.Command && cs.Command.length > 0 ? { command: cs.Command } : {}),
    args: cs.Args ?? [],
    env: [...sentEnv, ...keptSecrets],
    ...(cs.Dir ? { workingDir: cs.Dir } : {}),
    ...(cs.User ? { user: cs.User } : {}),
    ...(cs.Hostname ? { hostname: cs.Hostname } : {}),
    ...(cs.Labels && Object.keys(cs.Labels).length > 0 ? { labels: { ...cs.Labels } } : {}),
    ...(mounts.length > 0 ? { mounts } : {}),
    ...(res ? { resources: res } : {}),
    ...(current && current.ports.length > 0 ? { ports: current.ports } : {}),
    ...(cs.StopSignal ? { stopSignal: cs.StopSignal } : {}),
    ...(stopGracePeriod !== undefined ? { stopGracePeriod } : {}),
    ...(healthcheck ? { healthcheck } : keptProbes),
    ...(current?.startupProbe ? { startupProbe: current.startupProbe } : {}),
  };
}

/** berth's container as a Swarm ContainerSpec (empty fields left out, as the engine's omitempty does). */
export function containerToSwarm(c: ContainerSpec): SwarmContainerSpec {
  const env = c.env.flatMap((e) => ('value' in e ? [`${e.name}=${e.value}`] : []));
  const healthcheck = healthcheckToSwarm(c);
  return {
    Image: c.image ?? '',
    ...(c.labels && Object.keys(c.labels).length > 0 ? { Labels: { ...c.labels } } : {}),
    ...(c.command ? { Command: [...c.command] } : {}),
    ...(c.args.length > 0 ? { Args: [...c.args] } : {}),
    ...(c.hostname ? { Hostname: c.hostname } : {}),
    ...(env.length > 0 ? { Env: env } : {}),
    ...(c.workingDir ? { Dir: c.workingDir } : {}),
    ...(c.user ? { User: c.user } : {}),
    StopSignal: c.stopSignal,
    ...(c.mounts && c.mounts.length > 0 ? { Mounts: c.mounts.map(mountToSwarm) } : {}),
    StopGracePeriod: nanosFromDuration(c.stopGracePeriod),
    ...(healthcheck ? { Healthcheck: healthcheck } : {}),
  };
}

/** berth's container resources as TaskTemplate.Resources; undefined when it has none. */
export function resourcesToSwarm(c: ContainerSpec | undefined): SwarmResourceRequirements | undefined {
  const r = c?.resources;
  if (!r) return undefined;
  const list = (l: { cpus?: number; memory?: number } | undefined): SwarmResources | undefined =>
    l === undefined ? undefined : { ...(l.cpus !== undefined ? { NanoCPUs: nanosFromCpus(l.cpus) } : {}), ...(l.memory !== undefined ? { MemoryBytes: l.memory } : {}) };
  const limits = list(r.limits);
  const reservations = list(r.reservations);
  return { ...(limits ? { Limits: limits } : {}), ...(reservations ? { Reservations: reservations } : {}) };
}

function resourcesFromSwarm(r: SwarmResourceRequirements | null | undefined): ContainerInput['resources'] {
  if (!r) return undefined;
  const at = 'TaskTemplate.Resources';
  refuseIfSet(`${at}.Limits.Pids`, r.Limits?.Pids, 'berth does not limit the number of processes');
  refuseIfSet(`${at}.Reservations.GenericResources`, r.Reservations?.GenericResources, 'berth reserves CPUs and memory only');
  refuseIfSet(`${at}.SwapBytes`, r.SwapBytes, 'berth does not set swap');
  refuseIfSet(`${at}.MemorySwappiness`, r.MemorySwappiness, 'berth does not set swappiness');
  const list = (l: SwarmResources | null | undefined, field: string): { cpus?: number; memory?: number } | undefined => {
    if (!l) return undefined;
    const cpus = cpusFromNanos(`${field}.NanoCPUs`, l.NanoCPUs);
    const memory = l.MemoryBytes ? l.MemoryBytes : undefined;
    if (cpus === undefined && memory === undefined) return undefined;
    return { ...(cpus !== undefined ? { cpus } : {}), ...(memory !== undefined ? { memory } : {}) };
  };
  const limits = list(r.Limits, `${at}.Limits`);
  const reservations = list(r.Reservations, `${at}.Reservations`);
  if (!limits && !reservations) return undefined;
  return { ...(limits ? { limits } : {}), ...(reservations ? { reservations } : {}) };
}

function mountFromSwarm(m: SwarmMount, at: string): NonNullable<ContainerInput['mounts']>[number] {
  const type = m.Type || 'volume';
  if (type !== 'bind' && type !== 'volume' && type !== 'tmpfs') refuse(`${at}.Type`, `"${type}" mounts are not supported: berth mounts bind, volume and tmpfs`);
  // Consistency is a Docker Desktop (macOS) setting the engine ignores on Linux: ignored too.
  const b = m.BindOptions;
  if (b?.Propagation && b.Propagation !== 'rprivate') refuse(`${at}.BindOptions.Propagation`, `berth's bind mounts are rprivate (Docker's default); "${b.Propagation}" is not supported`);
  refuseIfSet(`${at}.BindOptions`, { ...b, Propagation: undefined }, 'berth supports no bind options but Propagation rprivate');
  const v = m.VolumeOptions;
  const driver = v?.DriverConfig?.Name;
  if (driver && driver !== 'local') refuse(`${at}.VolumeOptions.DriverConfig.Name`, `berth's volumes use the local driver; "${driver}" is not supported`);
  refuseIfSet(`${at}.VolumeOptions.DriverConfig.Options`, v?.DriverConfig?.Options, 'berth\'s volumes take no driver options');
  refuseIfSet(`${at}.VolumeOptions.NoCopy`, v?.NoCopy, 'berth fills a new volume from the image (Docker\'s default); NoCopy is not supported');
  refuseIfSet(`${at}.VolumeOptions.Labels`, v?.Labels, 'berth sets no labels on volumes');
  refuseIfSet(`${at}.VolumeOptions.Subpath`, v?.Subpath, 'berth mounts whole volumes');
  refuseIfSet(`${at}.ImageOptions`, m.ImageOptions, 'image mounts are not supported');
  refuseIfSet(`${at}.ClusterOptions`, m.ClusterOptions, 'cluster volumes are not supported');
  const t = m.TmpfsOptions;
  refuseIfSet(`${at}.TmpfsOptions.Mode`, t?.Mode, 'berth\'s tmpfs mounts have Docker\'s default mode (1777)');
  refuseIfSet(`${at}.TmpfsOptions.Options`, t?.Options, 'berth\'s tmpfs mounts take no options');
  return {
    type,
    ...(m.Source ? { source: m.Source } : {}),
    target: m.Target ?? '',
    readOnly: m.ReadOnly === true,
    ...(t?.SizeBytes ? { tmpfsSize: t.SizeBytes } : {}),
  };
}

function mountToSwarm(m: NonNullable<ContainerSpec['mounts']>[number]): SwarmMount {
  return {
    Type: m.type,
    ...(m.source !== undefined ? { Source: m.source } : {}),
    Target: m.target,
    ...(m.readOnly ? { ReadOnly: true } : {}),
    ...(m.tmpfsSize !== undefined ? { TmpfsOptions: { SizeBytes: m.tmpfsSize } } : {}),
  };
}

/** Docker's HealthConfig as berth's healthcheck; undefined for none (no Test: the image's own, which berth does not run). */
function healthcheckFromSwarm(h: SwarmHealthConfig | null | undefined): ContainerInput['healthcheck'] {
  if (!h || !h.Test || h.Test.length === 0) return undefined;
  const at = `${CS}.Healthcheck`;
  // StartInterval (probing faster during the start period) is ignored: probes run every Interval throughout.
  const interval = h.Interval ? durationFromNanos(`${at}.Interval`, h.Interval) : undefined;
  const timeout = h.Timeout ? durationFromNanos(`${at}.Timeout`, h.Timeout) : undefined;
  const startPeriod = h.StartPeriod ? durationFromNanos(`${at}.StartPeriod`, h.StartPeriod) : undefined;
  if (h.Retries !== undefined && h.Retries < 0) refuse(`${at}.Retries`, 'cannot be negative');
  return {
    test: [...h.Test],
    ...(interval !== undefined ? { interval } : {}),
    ...(timeout !== undefined ? { timeout } : {}),
    ...(h.Retries ? { retries: h.Retries } : {}),
    ...(startPeriod !== undefined ? { startPeriod } : {}),
  };
}

/**
 * The Docker healthcheck a container's probes stand for, when they are one: an exec readiness and
 * liveness probe with the same command, period, timeout and failure threshold (what parseServiceSpec
 * stores for a healthcheck). `["/bin/sh", "-c", X]` shows as `["CMD-SHELL", X]`. undefined otherwise.
 */
export function healthcheckToSwarm(c: ContainerSpec): SwarmHealthConfig | undefined {
  const r = c.readinessProbe;
  const l = c.livenessProbe;
  if (!r?.exec || !l?.exec || !sameCheck(r, l) || r.initialDelaySeconds !== 0 || r.successThreshold !== 1) return undefined;
  const cmd = r.exec.command;
  const test = cmd.length === 3 && cmd[0] === '/bin/sh' && cmd[1] === '-c' ? ['CMD-SHELL', cmd[2] as string] : ['CMD', ...cmd];
  return {
    Test: test,
    Interval: nanosFromSeconds(r.periodSeconds),
    Timeout: nanosFromSeconds(r.timeoutSeconds),
    ...(l.initialDelaySeconds > 0 ? { StartPeriod: nanosFromSeconds(l.initialDelaySeconds) } : {}),
    Retries: r.failureThreshold,
  };
}

function sameCheck(a: Probe, b: Probe): boolean {
  return (
    JSON.stringify(a.exec?.command) === JSON.stringify(b.exec?.command) &&
    a.periodSeconds === b.periodSeconds &&
    a.timeoutSeconds === b.timeoutSeconds &&
    a.failureThreshold === b.failureThreshold &&
    b.successThreshold === 1
  );
}

/** ContainerSpec fields berth has no equivalent for, refused when set (docs/docker-api.md says why each). */
function refuseUnsupportedContainerFields(cs: SwarmContainerSpec): void {
  refuseIfSet(`${CS}.Secrets`, cs.Secrets, 'Swarm secrets are not supported through the Docker face; berth\'s secrets are env vars from `berth secret` (valueFrom.secretKeyRef in berth\'s own API)');
  refuseIfSet(`${CS}.Configs`, cs.Configs, 'Swarm configs are not supported; mount a file (bind) instead');
  refuseIfSet(`${CS}.Privileges`, cs.Privileges, 'credential specs, SELinux, seccomp, AppArmor and no-new-privileges settings are not supported');
  refuseIfSet(`${CS}.Groups`, cs.Groups, 'supplementary groups are not supported');
  refuseIfSet(`${CS}.Init`, cs.Init, 'an init process is not supported');
  refuseIfSet(`${CS}.TTY`, cs.TTY, 'a TTY is not supported: berth keeps stdout and stderr apart');
  refuseIfSet(`${CS}.OpenStdin`, cs.OpenStdin, 'stdin is not supported');
  refuseIfSet(`${CS}.ReadOnly`, cs.ReadOnly, 'a read-only root file system is not supported');
  refuseIfSet(`${CS}.Hosts`, cs.Hosts, 'extra /etc/hosts entries are not supported: services find each other through berth\'s DNS');
  refuseIfSet(`${CS}.DNSConfig`, cs.DNSConfig, 'DNS settings are not supported: containers use berth\'s DNS');
  if (cs.Isolation && cs.Isolation !== 'default') refuse(`${CS}.Isolation`, `"${cs.Isolation}" is not supported (Linux containers have the default isolation only)`);
  refuseIfSet(`${CS}.Sysctls`, cs.Sysctls, 'sysctls are not supported');
  refuseIfSet(`${CS}.CapabilityAdd`, cs.CapabilityAdd, 'adding capabilities is not supported');
  refuseIfSet(`${CS}.CapabilityDrop`, cs.CapabilityDrop, 'dropping capabilities is not supported');
  refuseIfSet(`${CS}.Ulimits`, cs.Ulimits, 'ulimits are not supported');
  refuseIfSet(`${CS}.OomScoreAdj`, cs.OomScoreAdj, 'the OOM score is not supported');
}
