import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import type { BerthNetwork } from '../drivers/index.js';
import { DEFAULT_NETWORK, DockerDriver, DockerLocalImages, dockerClient, dockerHostOf, ensureNetwork, ensurePauseImage } from '../drivers/index.js';
import { DnsServer } from '../dns/index.js';
import type { Logger } from '../lib/index.js';
import { parseCidr } from '../lib/index.js';
import { DOCKER_REPROBE_MS } from './docker-engine-watch.js';

/*
 * The Docker driver of a server (docs/drivers.md, "Docker driver"; docs/networking.md, "Containers"):
 * found at start when an engine answers (BERTH_DOCKER=auto, the default), with the berth bridge
 * network it puts sandboxes on. When no engine answers, the node runs processes only and says why
 * (`berth version`, GET /v1/nodes, and the error of a start of an image), and asks again every
 * DOCKER_REPROBE_MS (docker-engine-watch.ts) until one does.
 */

/** A container-reachable default for virtual IPs when the Docker driver is on (127.x is each container's own loopback). */
export const DOCKER_SERVICE_RANGE = '10.214.0.0/16';

/** An engine that answered, with the berth network on it. */
export interface FoundDocker {
  readonly driver: DockerDriver;
  readonly network: BerthNetwork;
  /** Where it answered, in DOCKER_HOST's notation (`unix:///var/run/docker.sock`). */
  readonly host: string;
  readonly images: DockerLocalImages;
}

export type DockerSetup =
  | FoundDocker
  /** `retried`: a later probe may find an engine (none answered, or its network failed); false when off or DOCKER_HOST is malformed. */
  | { readonly driver?: undefined; readonly unavailable: string; readonly retried: boolean };

/** How long the engine has to answer at start, ms. */
const PING_TIMEOUT_MS = 3000;

export interface SetupDockerOptions {
  /** How long the ping may take, ms (default 3000). */
  readonly pingTimeoutMs?: number;
  /** Ends the ping and the network's set-up early (a stopping server); the result is then `unavailable`. */
  readonly signal?: AbortSignal;
  /**
   * The bridge's subnet, asked for explicitly (over BERTH_DOCKER_SUBNET): an agent's cluster's container
   * range, so that every node's instances with images have addresses unique in the cluster.
   */
  readonly subnet?: string;
}

/**
 * Connects to the engine DOCKER_HOST names (dockerClient) unless BERTH_DOCKER=off, and makes sure
 * the berth network exists (BERTH_DOCKER_NETWORK, default `berth`; `options.subnet`, else
 * BERTH_DOCKER_SUBNET, else 10.213.0.0/16; a subnet asked for must be the one of a network found by
 * that name). Never throws: whatever fails becomes the `unavailable` reason.
 * @param dataDir names this server on the engine (LABELS.owner: a hash of the data directory), so
 *   that two servers sharing an engine never adopt each other's containers.
 */
export async function setupDocker(dataDir: string, env: NodeJS.ProcessEnv, logger: Logger, options: SetupDockerOptions = {}): Promise<DockerSetup> {
  const mode = (env.BERTH_DOCKER ?? 'auto').trim();
  if (mode === 'off') return { unavailable: 'turned off (BERTH_DOCKER=off)', retried: false };
  const host = dockerHostOf(env);
  let docker;
  try {
    docker = dockerClient(env);
  } catch (error) {
    return { unavailable: (error as Error).message, retried: false };
  }
  try {
    const ping = docker.ping.bind(docker) as unknown as (opts: { abortSignal: AbortSignal }) => Promise<unknown>;
    const timeout = AbortSignal.timeout(options.pingTimeoutMs ?? PING_TIMEOUT_MS);
    await ping({ abortSignal: options.signal ? AbortSignal.any([timeout, options.signal]) : timeout });
  } catch (error) {
    return {
      unavailable: `no Docker engine answers at ${host}: ${(error as Error).message || 'no answer'} (install docker.io and start dockerd, or set DOCKER_HOST; berth asks again every ${DOCKER_REPROBE_MS / 1000} s)`,
      retried: true,
    };
  }
  if (options.signal?.aborted) return { unavailable: 'berth is stopping', retried: false };
  let network: BerthNetwork;
  const subnet = options.subnet ?? env.BERTH_DOCKER_SUBNET?.trim();
  try {
    network = await ensureNetwork(docker, {
      name: env.BERTH_DOCKER_NETWORK?.trim() || DEFAULT_NETWORK.name,
      subnet: subnet || DEFAULT_NETWORK.subnet,
      subnetExplicit: Boolean(subnet),
    });
  } catch (error) {
    return { unavailable: `the engine at ${host} answers, but the berth network cannot be set up: ${(error as Error).message}`, retried: true };
  }
  const owner = createHash('sha256').update(dataDir).digest('hex').slice(0, 8);
  const driver = new DockerDriver({ docker, owner, network: network.name, pauseImage: () => ensurePauseImage(docker), logger });
  return { driver, network, host, images: new DockerLocalImages(docker) };
}

/** CAP_NET_ADMIN's bit in a capability set (linux/capability.h). */
const CAP_NET_ADMIN = 12n;

/**
 * Whether virtual IPs should come from a range containers can reach (DOCKER_SERVICE_RANGE, routed
 * locally by routeServiceRange) rather than loopback: when the Docker driver is on and berth runs as
 * root, and also as root without an engine yet, when this process may add routes (CAP_NET_ADMIN in
 * /proc/self/status). A data directory keeps the range it took at its first start, so an engine
 * installed later finds virtual IPs its containers reach; BERTH_DOCKER=off keeps loopback.
 * @param status the text of /proc/self/status (injectable for tests; read when absent)
 */
export function wantsRoutableServiceRange(o: { readonly dockerOn: boolean; readonly euid: number; readonly env: NodeJS.ProcessEnv; readonly status?: string }): boolean {
  if (o.euid !== 0) return false;
  if (o.dockerOn) return true;
  if ((o.env.BERTH_DOCKER ?? '').trim() === 'off') return false;
  let status = o.status;
  if (status === undefined) {
    try {
      status = readFileSync('/proc/self/status', 'utf8');
    } catch {
      return false;
    }
  }
  const effective = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  return effective !== undefined && ((BigInt(`0x${effective}`) >> CAP_NET_ADMIN) & 1n) === 1n;
}

/**
 * The sentence for services whose virtual IPs are loopback addresses while containers run here (taken
 * before the data directory's range moved off loopback): containers cannot reach them. undefined when
 * there are none. A virtual IP never changes (as a Kubernetes Service's clusterIP), so the fix is to
 * make those services again. It counts them and names none: it is on the node record, and `GET
 * /v1/version` (public, as Kubernetes' /version) shows it too; `service ls` shows which (CLUSTER-IP).
 */
export function loopbackVipProblem(services: readonly { readonly clusterIP?: string | undefined }[]): string | undefined {
  const loopback = services.filter((s) => s.clusterIP !== undefined && s.clusterIP.startsWith('127.')).length;
  if (loopback === 0) return undefined;
  return `the virtual IPs of ${loopback} service(s) are loopback addresses (127.x in CLUSTER-IP of berth service ls), which a container cannot reach (each has its own loopback): containers reach those services by their instances' addresses only. A virtual IP never changes: remove and create those services again (e.g. berth down -f FILE, then berth up -f FILE) to give them addresses in the routed range`;
}

/**
 * Makes every address of the (non-loopback) service range local to this machine (`ip route replace
 * local RANGE dev lo`, Linux's AnyIP), so the proxy can listen on any virtual IP and a container's
 * packet to one — routed to the bridge gateway — is delivered to it. Needs root (CAP_NET_ADMIN).
 * @returns a sentence for the operator when containers cannot reach virtual IPs, else undefined
 */
export async function routeServiceRange(serviceRange: string, logger: Logger): Promise<string | undefined> {
  const { first } = parseCidr(serviceRange);
  if (first >>> 24 === 127) {
    return `virtual IPs are in ${serviceRange}, loopback addresses a container cannot reach (each has its own loopback): containers reach services by their instances' addresses only. Start berth as root with BERTH_SERVICE_RANGE=${DOCKER_SERVICE_RANGE} (a new data directory takes it by default as root), then remove and create the services again: a virtual IP never changes`;
  }
  try {
    await promisify(execFile)('ip', ['route', 'replace', 'local', serviceRange, 'dev', 'lo'], { timeout: 5000 });
    return undefined;
  } catch (error) {
    logger.warn({ err: error, serviceRange }, 'could not route the service range locally');
    return `virtual IPs in ${serviceRange} are not local addresses (ip route replace local ${serviceRange} dev lo failed: ${(error as Error).message.split('\n')[0] ?? ''}): run berth as root`;
  }
}

/** Takes the local route of the service range away again (at a clean stop). */
export async function unrouteServiceRange(serviceRange: string): Promise<void> {
  if (parseCidr(serviceRange).first >>> 24 === 127) return;
  await promisify(execFile)('ip', ['route', 'del', 'local', serviceRange, 'dev', 'lo'], { timeout: 5000 }).catch(() => undefined);
}

/**
 * berth's DNS for containers: a second listener of the same records on the bridge gateway, port 53,
 * answering the bridge subnet (and loopback). Port 53 needs root; without it containers keep the
 * engine's resolver and a `problem` says so.
 */
export async function startContainerDns(network: BerthNetwork, logger: Logger): Promise<{ server: DnsServer } | { problem: string }> {
  const upstreams = process.env.BERTH_DNS_UPSTREAMS?.split(',').map((u) => u.trim()).filter(Boolean);
  const server = new DnsServer({ host: network.gateway, port: 53, logger, allow: [network.subnet, '127.0.0.0/8'], ...(upstreams && upstreams.length > 0 ? { upstreams } : {}) });
  try {
    await server.start();
    return { server };
  } catch (error) {
    return { problem: `containers cannot use berth's DNS: listening on ${network.gateway}:53 failed (${(error as Error).message}); they resolve service names through their instances' env vars only` };
  }
}
