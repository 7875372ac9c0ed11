/**
 * The berth side of the Docker driver bench (bench/docker.bench.ts): a real `berth server` (the built
 * binary) whose services with an `image` run on this machine's Docker Engine, on a bridge network of
 * the bench's own (BERTH_DOCKER_NETWORK / BERTH_DOCKER_SUBNET) and with virtual IPs from a range of its
 * own, so it never meets the networks and ranges of the tests other people run on the same engine.
 */
import type { BerthClient } from '../src/client/index.js';
import type { ServiceEndpoints } from '../src/model/index.js';
import { startBerth, type RunningBerth } from '../test/e2e/harness.js';
import { engine, HTTPD, IMAGE, removeIds } from './docker-engine.js';

export const GRID = 'default';
export const NETWORK = 'berth-bench-dk';
export const SUBNET = '10.230.0.0/16';
const SERVICE_RANGE = '10.231.0.0/24';
/** The process instance range the harness wants; docker instances take their addresses from SUBNET. */
const INSTANCE_RANGE = '127.11.64.0/24';

/** Where a bench's berth server puts its containers; another bench passes its own, so that two benches never share them. */
export interface DockerBerthOptions {
  /** The bridge network, its subnet and the service (virtual IP) range. Default: NETWORK, SUBNET, 10.231.0.0/24. */
  readonly network?: { readonly name: string; readonly subnet: string; readonly serviceRange: string };
  /** The process instance range the harness wants (no instance takes an address from it). Default: 127.11.64.0/24. */
  readonly instanceRange?: string;
  /** Open the Docker API face on its default socket `<dataDir>/docker.sock` (`berth.dockerHost`). Default: off. */
  readonly dockerApi?: boolean;
}

/** Starts `berth server` with the Docker driver on the bench's network; fails when the node has no Docker driver. */
export async function startDockerBerth(options: DockerBerthOptions = {}): Promise<RunningBerth> {
  const net = options.network ?? { name: NETWORK, subnet: SUBNET, serviceRange: SERVICE_RANGE };
  const berth = await startBerth({
    instanceRange: options.instanceRange ?? INSTANCE_RANGE,
    docker: { network: net.name, subnet: net.subnet, serviceRange: net.serviceRange },
    env: { BERTH_DNS_UPSTREAMS: '127.0.0.1:1' },
    ...(options.dockerApi ? { dockerApi: true as const } : {}),
  });
  const node = (await berth.client.nodes())[0];
  if (!node?.drivers.includes('docker')) {
    await berth.stop();
    throw new Error(`the berth server has no Docker driver: ${node?.unavailableDrivers?.docker ?? 'no node'}`);
  }
  return berth;
}

export interface BenchServiceOptions {
  readonly replicas: number;
  readonly env?: Readonly<Record<string, string>>;
  readonly restartDelay?: string;
  readonly update?: { readonly parallelism: number; readonly monitor: string };
}

/** A service of `replicas` busybox httpd containers (port 8080, a service port 8080 on its virtual IP). */
export function benchService(name: string, o: BenchServiceOptions) {
  return {
    name,
    replicas: o.replicas,
    containers: [
      {
        image: IMAGE,
        command: [...HTTPD],
        env: { ...o.env },
        ports: [{ containerPort: 8080 }],
        stopGracePeriod: '10s',
      },
    ],
    ports: [{ port: 8080 }],
    ...(o.restartDelay ? { restartPolicy: { delay: o.restartDelay } } : {}),
    ...(o.update ? { updateConfig: { parallelism: o.update.parallelism, delay: '0s', monitor: o.update.monitor, order: 'stop-first' as const } } : {}),
  };
}

const readyCount = (e: ServiceEndpoints): number => e.endpoints.filter((x) => x.ready).length;

/**
 * Follows the service's endpoints (the NDJSON stream, no polling) until `test` holds for them; resolves
 * with the client's time (performance.now()) of the update that made it hold.
 */
export async function untilEndpoints(client: BerthClient, name: string, test: (e: ServiceEndpoints) => boolean, options: { timeoutMs?: number; onFirst?: () => void } = {}): Promise<number> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), options.timeoutMs ?? 300_000);
  let first = true;
  try {
    for await (const e of client.followEndpoints(GRID, name, { signal: abort.signal })) {
      const now = performance.now();
      if (first) {
        first = false;
        options.onFirst?.();
      }
      if (test(e)) return now;
    }
    throw new Error(`the endpoints stream of ${name} ended`);
  } catch (e) {
    if (abort.signal.aborted) throw new Error(`${name}: endpoints did not reach the expected state within ${options.timeoutMs ?? 300_000} ms`);
    throw e;
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}

/** Resolves (client time) when `n` endpoints of the service are ready and no other is listed. */
export function untilReady(client: BerthClient, name: string, n: number, timeoutMs?: number): Promise<number> {
  return untilEndpoints(client, name, (e) => readyCount(e) === n && e.endpoints.length === n, timeoutMs === undefined ? {} : { timeoutMs });
}

/** Exited containers berth left behind after a service was removed (see `removeService`), per service. */
export const leftBehind = new Map<string, string[]>();

/**
 * Removes the service and waits until the engine runs none of its containers (sandboxes included).
 * Containers of the service that berth leaves behind, exited, 10 s after that are recorded in
 * `leftBehind` (the bench reports them) and removed here, so that rounds do not pile them up.
 */
export async function removeService(client: BerthClient, name: string): Promise<void> {
  await client.removeService(GRID, name).catch(() => undefined);
  const deadline = Date.now() + 120_000;
  const ofService = (): Promise<{ Id: string; State: string; Names: string[] }[]> => engine.listContainers({ all: true, filters: JSON.stringify({ label: [`io.berth.service=${name}`] }) });
  let goneAt: number | undefined;
  for (;;) {
    const left = await ofService();
    const services = await client.listServices(GRID);
    const serviceGone = !services.some((s) => s.name === name);
    if (left.length === 0 && serviceGone) return;
    if (serviceGone && left.every((c) => c.State !== 'running' && c.State !== 'restarting' && c.State !== 'created')) {
      goneAt ??= Date.now();
      if (Date.now() - goneAt > 10_000) {
        leftBehind.set(name, [...(leftBehind.get(name) ?? []), ...left.map((c) => `${(c.Names[0] ?? c.Id).replace(/^\//, '')} (${c.State})`)]);
        await removeIds(left.map((c) => c.Id));
        return;
      }
    } else {
      goneAt = undefined;
    }
    if (Date.now() > deadline) throw new Error(`${name}: ${left.length} containers still there 120 s after the service was removed`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The engine id of an instance's app container (label io.berth.instance; the sandbox is not it). */
export async function appContainerOf(instanceId: string): Promise<string> {
  const found = await engine.listContainers({ filters: JSON.stringify({ label: [`io.berth.instance=${instanceId}`] }) });
  const app = found.find((c) => c.Labels['io.berth.role'] === 'container');
  if (!app) throw new Error(`no running app container of ${instanceId}`);
  return app.Id;
}
