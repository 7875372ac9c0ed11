import type { Clock, Logger } from '../lib/index.js';
import type { ContainerSpec, Instance, InstanceStatus, NewServiceEvent } from '../model/index.js';
import type { Driver } from '../drivers/index.js';
import { containerEnv } from './container-env.js';
import type { DataPlane } from './instance-drain.js';

/** What every InstanceRunner of a node shares: the driver, the node's facts, and where to report. */
export interface RunnerContext {
  readonly driver: Driver;
  readonly node: string;
  /** Node data directory: instances/<id>/<container>/ hold driver state and logs. */
  readonly dataDir: string;
  readonly apiUrl?: string;
  /** The BERTH_API_TOKEN of an instance: its service account's token (app/ signs it). */
  readonly apiToken?: (instance: Instance) => string;
  /** A key of a secret of a grid (env valueFrom.secretKeyRef); undefined when missing. */
  readonly secretValue?: (grid: string, name: string, key: string) => string | undefined;
  readonly dnsAddress?: string;
  /**
   * How instances with images are networked: their sandbox's DNS servers (berth's DNS on the
   * bridge gateway) and BERTH_DNS. Absent: sandboxes get the engine's default resolv.conf.
   */
  readonly containerNetwork?: { readonly dnsServers: readonly string[] };
  /**
   * The user a container runs as when its spec names none (and it has no image): app/ sets it when
   * the server runs as root (`berth`, or `nobody`). Absent: the driver's own user (berth's).
   */
  readonly instanceUser?: string;
  readonly hostEnv: Readonly<Record<string, string | undefined>>;
  readonly log: { readonly maxBytes: number; readonly maxFiles: number };
  readonly logger: Logger;
  readonly now: () => number;
  /** Times probes and the drain timeout (`now` is `clock.now`). */
  readonly clock: Clock;
  /** Where the drain before a stop waits; absent: instances stop at once (no data plane on this node). */
  readonly dataPlane?: DataPlane;
  /** Fast-start period of readiness probes, ms (default 100; 0 = off). */
  readonly fastStartMs?: number;
  /** Records an observed status (batched by the agent) with the events that go with it. */
  report(id: string, status: InstanceStatus, events: readonly NewServiceEvent[]): void;
}

/**
 * A container's complete environment, as given to it at start (and to its exec probes). A process
 * inherits the host's basics (container-env.ts); an image container brings its own PATH and HOME, so
 * nothing of the host's is inherited, and BERTH_DNS is berth's DNS as the container reaches it (the
 * bridge gateway). BERTH_API_URL is left out for images: berth's API listens on the host's loopback,
 * which a container cannot reach.
 * @param dataDir the stateful slot's absolute data directory (BERTH_DATA_DIR of a process)
 */
export function containerEnvOf(inst: Instance, c: ContainerSpec, ctx: RunnerContext, dataDir: string | undefined): Record<string, string> {
  const apiToken = ctx.apiToken?.(inst);
  const lookup = ctx.secretValue;
  const secretValue = lookup ? (name: string, key: string) => lookup(inst.grid, name, key) : undefined;
  const common = { node: ctx.node, ...(apiToken ? { apiToken } : {}), ...(secretValue ? { secretValue } : {}) };
  if (c.image) {
    const dns = ctx.containerNetwork?.dnsServers[0];
    return containerEnv(inst, c, { ...common, hostEnv: {}, ...(dns ? { dnsAddress: `${dns}:53` } : {}) });
  }
  const { apiUrl, dnsAddress } = ctx;
  return containerEnv(inst, c, { ...common, hostEnv: ctx.hostEnv, ...(dataDir ? { dataDir } : {}), ...(apiUrl ? { apiUrl } : {}), ...(dnsAddress ? { dnsAddress } : {}) });
}

/** A process starts in its data (or state) directory `fallback`; an image container where its image says, unless the spec says. */
export function workingDirOf(c: ContainerSpec, fallback: string): string {
  if (c.image) return c.workingDir ?? '';
  return c.workingDir ?? fallback;
}

/** The spec's user; else, for a plain process, the node's instance user (never root by default). */
export function userOf(c: ContainerSpec, instanceUser: string | undefined): string | undefined {
  return c.user ?? (c.image === undefined ? instanceUser : undefined);
}
