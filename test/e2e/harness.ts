/**
 * End-to-end harness: starts the real `berth server` binary (bin/berth → dist/) on loopback with a
 * temporary data directory and its own instance range, and hands out a typed client.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tlsFetch } from '../../src/cli/tls-fetch.js';
import { BerthClient } from '../../src/client/index.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = join(ROOT, 'bin', 'berth');

export interface RunningBerth {
  readonly url: string;
  /** The cluster-admin token the server wrote to `<dataDir>/admin.token`. */
  readonly token: string;
  /** A client with the admin token. */
  readonly client: BerthClient;
  readonly dataDir: string;
  readonly proc: ChildProcess;
  /** What the server wrote on stderr so far (its warnings and log). */
  stderr(): string;
  /** SHA-256 fingerprint of the API's certificate, when it serves https (the client pins it). */
  readonly fingerprint: string | undefined;
  /** SIGKILLs the server (instances keep running). */
  kill(): Promise<void>;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
  /** The server's id on the Docker engine (label io.berth.owner): a hash of its data directory, as src/app/docker-setup.ts computes it. */
  readonly owner: string;
  /** The Docker network, subnet and service range it was started with (`startBerth({ docker })`), else undefined. */
  readonly docker: DockerOptions | undefined;
  /**
   * The first listener of its Docker API face as DOCKER_HOST takes it (`unix://<dataDir>/docker.sock`),
   * when started with `dockerApi` (test/e2e/docker-cli.ts runs the docker CLI against it); else undefined.
   */
  readonly dockerHost: string | undefined;
  /** Every listener of the face, as the server printed them (`Docker API: DOCKER_HOST=…`). */
  readonly dockerHosts: readonly string[];
}

/**
 * What a test server with the Docker driver uses on the shared engine: its own bridge network and
 * subnet (BERTH_DOCKER_NETWORK, BERTH_DOCKER_SUBNET) and a non-loopback service range
 * (BERTH_SERVICE_RANGE) that containers can reach. See test/e2e/docker-harness.ts `dockerNetworkFor`.
 */
export interface DockerOptions {
  readonly network: string;
  readonly subnet: string;
  readonly serviceRange: string;
}

/** The owner label a server with this data directory puts on its containers (src/app/docker-setup.ts). */
export function ownerOf(dataDir: string): string {
  return createHash('sha256').update(dataDir).digest('hex').slice(0, 8);
}

/**
 * The range registry of this checkout's test servers (BERTH_RANGES_DIR, see src/app/range-claims.ts):
 * test servers meet each other's claims, not those of servers run from other checkouts on the machine.
 */
export const RANGES_DIR = join(tmpdir(), `berth-ranges-test-${createHash('sha256').update(ROOT).digest('hex').slice(0, 12)}`);

/**
 * A fresh directory under the OS temp dir, mode 0755: a server run as root runs instances as the
 * unprivileged `berth` user, who must be able to read programs a test writes here and pass through on
 * the way to the data directory (which the server itself closes to 0700/0711 as it starts).
 */
export function tempDir(prefix = 'berth-e2e-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

/**
 * The environment that gives a test server its own instance range, and a service range and node port
 * range derived from it: test files run in parallel, and two servers' proxies must not claim the same
 * virtual IPs or node ports. `127.11.K.0/24` → services in `127.97.K.0/24`, node ports 31000 + 20·K….
 */
export function rangesFor(instanceRange: string): Record<string, string> {
  const k = Number(instanceRange.split('.')[2] ?? 0) % 80;
  return {
    BERTH_INSTANCE_RANGE: instanceRange,
    BERTH_SERVICE_RANGE: `127.97.${k}.0/24`,
    BERTH_NODE_PORT_RANGE: `${31000 + 20 * k}-${31000 + 20 * k + 19}`,
  };
}

/**
 * Starts `berth server`; resolves once it listens. Without `docker` the server runs processes only
 * (BERTH_DOCKER=off), so no test uses the machine's Docker engine by accident; with it, the server
 * uses that network, subnet and service range (test/e2e/docker-harness.ts removes them afterwards).
 * Without `dockerApi` the Docker API face is off (`--docker-api off`, unless `args` name listeners);
 * `dockerApi: true` opens its default socket `<dataDir>/docker.sock`, a list opens those listeners
 * (`--docker-api` values), and the server resolves once it printed them (`berth.dockerHost`).
 */
export async function startBerth(options: {
  dataDir?: string;
  instanceRange: string;
  env?: Record<string, string>;
  listen?: string;
  args?: readonly string[];
  docker?: DockerOptions;
  dockerApi?: true | readonly string[];
}): Promise<RunningBerth> {
  const dataDir = options.dataDir ?? tempDir();
  const dockerEnv: Record<string, string> = options.docker
    ? { BERTH_DOCKER: 'auto', BERTH_DOCKER_NETWORK: options.docker.network, BERTH_DOCKER_SUBNET: options.docker.subnet, BERTH_SERVICE_RANGE: options.docker.serviceRange }
    : { BERTH_DOCKER: 'off' };
  const faceArgs =
    options.dockerApi === undefined ? (options.args?.includes('--docker-api') ? [] : ['--docker-api', 'off']) : options.dockerApi === true ? [] : options.dockerApi.flatMap((a) => ['--docker-api', a]);
  const proc = spawn(process.execPath, [BIN, 'server', '--data-dir', dataDir, '--listen', options.listen ?? '127.0.0.1:0', '--dns', '127.0.0.1:0', ...faceArgs, ...(options.args ?? [])], {
    env: { ...process.env, BERTH_RANGES_DIR: RANGES_DIR, ...rangesFor(options.instanceRange), ...dockerEnv, ...options.env, NO_COLOR: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`berth server did not start in 15 s:\n${stderr}`)), 15_000);
    proc.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const m = /listening on (https?:\/\/[\d.]+:\d+)/.exec(stderr);
      // An https server prints the fingerprint of its certificate on a line of its own; the Docker
      // API face's listeners come on lines before the admin token's, the last of the start notes.
      const faceReady = options.dockerApi === undefined || /\nadmin token in /.test(stderr);
      if (m && faceReady && (m[1]?.startsWith('http:') || /SHA-256 fingerprint \S+\n/.test(stderr))) {
        clearTimeout(timer);
        resolve(m[1] as string);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`berth server exited with ${code}:\n${stderr}`));
    });
  });
  const fingerprint = /SHA-256 fingerprint (\S+)/.exec(stderr)?.[1];
  const dockerHosts = [...stderr.matchAll(/^Docker API: DOCKER_HOST=(\S+)/gm)].map((d) => d[1] as string);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const token = adminToken(dataDir);
  tokens.set(url, token);
  return {
    url,
    token,
    client: new BerthClient({ baseUrl: url, token, ...(fingerprint ? { fetch: tlsFetch({ fingerprint }) } : {}) }),
    stderr: () => stderr,
    dataDir,
    fingerprint,
    proc,
    owner: ownerOf(dataDir),
    docker: options.docker,
    dockerHost: dockerHosts[0],
    dockerHosts,
    async kill() {
      proc.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

const tokens = new Map<string, string>();

/** The admin token a server wrote into its data directory at first start. */
export function adminToken(dataDir: string): string {
  return readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
}

/**
 * The environment a spawned `berth --host URL …` needs to act as the admin of the test server at URL
 * (BERTH_TOKEN), and a CLI config of its own (so the user's ~/.config/berth is never read).
 */
export function cliEnv(url: string): Record<string, string> {
  const token = tokens.get(url);
  return { BERTH_CONFIG: join(tmpdir(), 'berth-e2e-no-config'), ...(token ? { BERTH_TOKEN: token } : {}) };
}

/** Polls `probe` every `intervalMs` until it returns a truthy value; fails with `what` after `timeoutMs`. */
/** A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then closed). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function waitFor<T>(what: string, probe: () => Promise<T> | T, options: { timeoutMs?: number; intervalMs?: number } = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 25));
  }
}

/** True while a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops every instance a test left: removes its services, then the server, then the data. */
export async function cleanup(berth: RunningBerth, grid = 'default'): Promise<void> {
  try {
    const services = await berth.client.listServices(grid);
    await Promise.all(services.map((s) => berth.client.removeService(grid, s.name).catch(() => undefined)));
    await waitFor('services removed', async () => (await berth.client.listServices(grid)).length === 0, { timeoutMs: 20_000 });
  } finally {
    await berth.stop();
    rmSync(berth.dataDir, { recursive: true, force: true });
  }
}
