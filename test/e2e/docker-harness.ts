/**
 * What the end-to-end tests with real containers share: a network, subnet and service range of their
 * own per test file (files run in parallel, on an engine other engineers' servers use too), the removal
 * of everything a file's servers created on the engine (and of nothing else), and the CLI.
 */
import type { ChildProcess } from 'node:child_process';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { promisify } from 'node:util';
import type Dockerode from 'dockerode';
import { after, before } from 'node:test';
import { DEFAULT_DOCKER_SOCKET } from '../../src/drivers/docker/docker-client.js';
import { BIN, ROOT, cleanup, cliEnv, startBerth, type DockerOptions, type RunningBerth } from './harness.js';

/** This checkout, in network names: two checkouts running the same file never share a network. */
const CHECKOUT = createHash('sha256').update(ROOT).digest('hex').slice(0, 6);

/** Third octets of 10.216.X.0/24 (subnets) and 10.215.X.0/24 (service ranges) tried in turn. */
function candidates(k: number): number[] {
  return [0, 1, 2].map((j) => (k + 80 * j) % 256);
}

/**
 * The Docker network of one test file: `berth-e2e-<name>-<checkout>`, subnet 10.216.X.0/24 and service
 * range 10.215.X.0/24, with X = K of its instance range 127.11.K.0/24 (as `rangesFor` derives its other
 * ranges), or K+80, K+160 when another network on the engine has that subnet or another server routes
 * that service range (the same file running from another checkout). Containers a crashed earlier run
 * of this file left on the network (its name is this file's alone) are removed first, and the network.
 */
export async function dockerNetworkFor(docker: Dockerode, name: string, instanceRange: string): Promise<DockerOptions> {
  const network = `berth-e2e-${name}-${CHECKOUT}`;
  const k = Number(instanceRange.split('.')[2] ?? 0) % 80;
  const networks = await docker.listNetworks();
  const mine = networks.find((n) => n.Name === network);
  if (mine) {
    // A crashed earlier run's network may hold another subnet than the one chosen now: it goes too.
    await removeLeftovers(docker, network);
    await docker.getNetwork(network).remove().catch(() => undefined);
  }
  const taken = new Set(networks.filter((n) => n.Name !== network).flatMap((n) => (n.IPAM?.Config ?? []).map((c) => c.Subnet ?? '')));
  const routes = spawnSync('ip', ['route', 'show', 'table', 'local'], { encoding: 'utf8' }).stdout;
  const x = candidates(k).find((c) => !taken.has(`10.216.${c}.0/24`) && !taken.has(`10.215.${c}.0/24`) && !routes.includes(`10.215.${c}.0/24`));
  if (x === undefined) throw new Error(`no free test subnet for ${network}: 10.216.{${candidates(k).join(',')}}.0/24 are all taken`);
  return { network, subnet: `10.216.${x}.0/24`, serviceRange: `10.215.${x}.0/24` };
}

/** Containers on a leftover network of this file (sandboxes), and every container of the same owners. */
async function removeLeftovers(docker: Dockerode, network: string): Promise<void> {
  const info = (await docker.getNetwork(network).inspect()) as { Containers?: Record<string, unknown> };
  const owners = new Set<string>();
  for (const id of Object.keys(info.Containers ?? {})) {
    const c = await docker.getContainer(id).inspect().catch(() => undefined);
    const owner = c?.Config.Labels?.['io.berth.owner'];
    if (owner) owners.add(owner);
  }
  await removeOwned(docker, [...owners]);
}

async function removeOwned(docker: Dockerode, owners: readonly string[]): Promise<void> {
  for (const owner of owners) {
    const found = await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`io.berth.owner=${owner}`] }) });
    await Promise.all(found.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  }
}

/**
 * Afterwards: removes every container labelled with one of `owners` (the file's servers,
 * RunningBerth.owner), the network, and the local route of the service range a killed server left.
 * Never touches another owner's containers. Call it after the servers stopped.
 */
export async function removeDockerState(docker: Dockerode, options: DockerOptions, owners: readonly string[]): Promise<void> {
  await removeOwned(docker, owners);
  await docker.getNetwork(options.network).remove().catch(() => undefined);
  await promisify(execFile)('ip', ['route', 'del', 'local', options.serviceRange, 'dev', 'lo']).catch(() => undefined);
}

/** The ids of the running containers of `owner`, by io.berth.instance label and container name. */
export async function containersOf(docker: Dockerode, owner: string, options: { all?: boolean } = {}): Promise<Dockerode.ContainerInfo[]> {
  return docker.listContainers({ all: options.all ?? false, filters: JSON.stringify({ label: [`io.berth.owner=${owner}`] }) });
}

/**
 * `docker exec CONTAINER sh -c SCRIPT` (the docker CLI, bounded by `timeoutMs`, default 30 s): what a
 * program inside the container sees. Resolves with its exit status and output (stdout then stderr).
 */
export function execIn(container: string, script: string, options: { timeoutMs?: number } = {}): { status: number | null; output: string } {
  const r = spawnSync('docker', ['exec', container, 'sh', '-c', script], { encoding: 'utf8', timeout: options.timeoutMs ?? 30_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** The running app container `name` of `instance` (labels io.berth.instance / io.berth.container), by engine id. */
export async function appContainer(docker: Dockerode, owner: string, instance: string, name: string): Promise<string> {
  const found = await docker.listContainers({ filters: JSON.stringify({ label: [`io.berth.owner=${owner}`, `io.berth.instance=${instance}`, `io.berth.container=${name}`] }) });
  const id = found[0]?.Id;
  if (!id) throw new Error(`no running container ${name} of instance ${instance}`);
  return id;
}

/** Runs the CLI against the server at `url` and returns what it did (90 s at most). */
export function cli(url: string, args: readonly string[], options: { timeoutMs?: number } = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, '--host', url, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...cliEnv(url) }, timeout: options.timeoutMs ?? 90_000, cwd: ROOT });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** One HTTP request on a fresh connection (GET unless `method`): status, headers and body (rejects on a connection error or after `timeoutMs`). */
export function httpGet(host: string, port: number, options: { path?: string; timeoutMs?: number; method?: string; body?: string } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path: options.path ?? '/', method: options.method ?? 'GET', agent: false, headers: { connection: 'close' }, timeout: options.timeoutMs ?? 5000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer in ${options.timeoutMs ?? 5000} ms`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * A berth server with the Docker driver and its Docker API face (`berth.dockerHost`) for the
 * describe block this is called in: started in `before` on the file's own network (dockerNetworkFor
 * `name`), and in `after` its services removed, the server stopped and everything it made on the
 * engine removed. Without an engine (`docker` undefined) nothing starts: the block is skipped.
 * @returns `berth`, readable in tests once `before` ran
 */
export function dockerFaceServer(docker: Dockerode | undefined, name: string, instanceRange: string): { readonly berth: RunningBerth } {
  let berth: RunningBerth | undefined;
  let net: DockerOptions | undefined;
  before(async () => {
    if (!docker) return;
    net = await dockerNetworkFor(docker, name, instanceRange);
    berth = await startBerth({ instanceRange, docker: net, dockerApi: true });
  });
  after(async () => {
    if (!docker || !berth || !net) return;
    try {
      await cleanup(berth);
    } finally {
      await removeDockerState(docker, net, [berth.owner]);
    }
  });
  return {
    get berth(): RunningBerth {
      if (!berth) throw new Error(`the ${name} server is not started (read it inside a test)`);
      return berth;
    },
  };
}

/**
 * An engine that "starts late" without a second dockerd (DOCKER_HOST names `path`, where nothing
 * listens at first): a process listening on the unix socket `path` that pipes every connection to the
 * machine's engine socket — the engine "starting". A process of its own, since the CLI runs
 * synchronously in the test's. Resolves once it listens; the caller kills it.
 */
export async function engineForwarder(path: string): Promise<ChildProcess> {
  const engine = process.env.DOCKER_HOST?.startsWith('unix://') ? process.env.DOCKER_HOST.slice('unix://'.length) : DEFAULT_DOCKER_SOCKET;
  const script = `
    const { createServer, connect } = require('node:net');
    createServer((client) => {
      const engine = connect(${JSON.stringify(engine)});
      client.pipe(engine).pipe(client);
      client.on('error', () => engine.destroy());
      engine.on('error', () => client.destroy());
    }).listen(${JSON.stringify(path)}, () => process.stdout.write('listening\\n'));`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('listening')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the engine forwarder exited with ${code}`)));
  });
  return child;
}
