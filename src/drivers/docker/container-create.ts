import type Dockerode from 'dockerode';
import type { ContainerConfig, SandboxConfig } from '../driver.js';
import { SANDBOX_CONTAINER } from '../driver.js';

/*
 * The engine's create bodies for berth's containers and sandboxes (pure: tested without an engine).
 * Every container carries berth's labels, so that `list` finds this berth's containers on an engine
 * other programs (and other berth servers) share, and `docker ps --filter label=io.berth.service=web`
 * shows a service's containers.
 */

/** Label keys berth sets on every container it creates (the `io.berth.` prefix is reserved in specs). */
export const LABELS = {
  owner: 'io.berth.owner',
  instance: 'io.berth.instance',
  container: 'io.berth.container',
  role: 'io.berth.role',
} as const;

export interface CreateContext {
  /** This berth's owner id (LABELS.owner). */
  readonly owner: string;
  /** The network a sandbox (or a container without one) joins. */
  readonly network: string;
  /** Run an init (Docker's `--init`, tini) as PID 1: signals reach the program, zombies are reaped. Default true. */
  readonly init?: boolean;
}

/** Docker container names: the instance id (service-slot-suffix), the container, and the owner (servers sharing an engine never clash). */
export function containerName(instanceId: string, container: string, owner: string): string {
  const base = container === SANDBOX_CONTAINER ? 'sandbox' : container;
  return `${instanceId}.${base}.${owner}`.replace(/[^a-zA-Z0-9_.-]/g, '-');
}

/** The body of `POST /containers/create` for one container of an instance. */
export function containerCreateOptions(config: ContainerConfig, image: string, ctx: CreateContext): Dockerode.ContainerCreateOptions {
  const limits = config.resources?.limits;
  const reservations = config.resources?.reservations;
  return {
    name: containerName(config.instanceId, config.containerName, ctx.owner),
    Image: image,
    ...(config.entrypoint ? { Entrypoint: [...config.entrypoint] } : {}),
    ...(config.cmd ? { Cmd: [...config.cmd] } : {}),
    Env: Object.entries(config.env).map(([k, v]) => `${k}=${v}`),
    ...(config.workingDir ? { WorkingDir: config.workingDir } : {}),
    ...(config.user ? { User: config.user } : {}),
    ...(config.stopSignal ? { StopSignal: config.stopSignal } : {}),
    Labels: {
      ...config.labels,
      [LABELS.owner]: ctx.owner,
      [LABELS.instance]: config.instanceId,
      [LABELS.container]: config.containerName,
      [LABELS.role]: 'container',
    },
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    Tty: false,
    HostConfig: {
      NetworkMode: config.sandbox ? `container:${String(config.sandbox.id)}` : ctx.network,
      Init: ctx.init ?? true,
      RestartPolicy: { Name: 'no' },
      LogConfig: { Type: 'json-file', Config: { 'max-size': String(config.log.maxBytes), 'max-file': String(Math.max(1, config.log.maxFiles)) } },
      ...(config.mounts && config.mounts.length > 0
        ? {
            Mounts: config.mounts.map((m) => ({
              Type: m.type,
              Target: m.target,
              Source: m.source ?? '', // "" = an anonymous volume (tmpfs takes none)
              ReadOnly: m.readOnly ?? false,
              ...(m.type === 'tmpfs' && m.tmpfsSize !== undefined ? { TmpfsOptions: { SizeBytes: m.tmpfsSize, Mode: 0o1777 } } : {}),
            })),
          }
        : {}),
      ...(limits?.cpus !== undefined ? { NanoCpus: Math.round(limits.cpus * 1e9) } : {}),
      ...(limits?.memory !== undefined ? { Memory: limits.memory } : {}),
      ...(reservations?.memory !== undefined ? { MemoryReservation: reservations.memory } : {}),
    },
  };
}

/** The body of `POST /containers/create` for an instance's sandbox (the pause container). */
export function sandboxCreateOptions(config: SandboxConfig, pauseImage: string, ctx: CreateContext): Dockerode.ContainerCreateOptions {
  return {
    name: containerName(config.instanceId, SANDBOX_CONTAINER, ctx.owner),
    Image: pauseImage,
    Hostname: (config.hostname ?? config.instanceId).slice(0, 63),
    Labels: {
      ...config.labels,
      [LABELS.owner]: ctx.owner,
      [LABELS.instance]: config.instanceId,
      [LABELS.container]: SANDBOX_CONTAINER,
      [LABELS.role]: 'sandbox',
    },
    HostConfig: {
      NetworkMode: ctx.network,
      RestartPolicy: { Name: 'no' },
      LogConfig: { Type: 'json-file', Config: { 'max-size': '64k', 'max-file': '1' } },
      ...(config.dns
        ? { Dns: [...config.dns.servers], DnsSearch: [...config.dns.searches], ...(config.dns.options ? { DnsOptions: [...config.dns.options] } : {}) }
        : {}),
    },
    NetworkingConfig: { EndpointsConfig: { [ctx.network]: { IPAMConfig: { IPv4Address: config.address } } } },
  };
}
