/**
 * End-to-end harness: starts the real `berth server` binary (bin/berth → dist/) on loopback with a
 * temporary data directory and its own instance range, and hands out a typed client.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BerthClient } from '../../src/client/index.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = join(ROOT, 'bin', 'berth');

export interface RunningBerth {
  readonly url: string;
  readonly client: BerthClient;
  readonly dataDir: string;
  readonly proc: ChildProcess;
  /** SIGKILLs the server (instances keep running). */
  kill(): Promise<void>;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
}

export function tempDir(prefix = 'berth-e2e-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
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

/** Starts `berth server` (with `args` after the harness's own flags); resolves once it listens. */
export async function startBerth(options: { dataDir?: string; instanceRange: string; env?: Record<string, string>; args?: readonly string[] }): Promise<RunningBerth> {
  const dataDir = options.dataDir ?? tempDir();
  const proc = spawn(process.execPath, [BIN, 'server', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--dns', '127.0.0.1:0', ...(options.args ?? [])], {
    env: { ...process.env, ...rangesFor(options.instanceRange), ...options.env, NO_COLOR: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`berth server did not start in 15 s:\n${stderr}`)), 15_000);
    proc.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] as string);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`berth server exited with ${code}:\n${stderr}`));
    });
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return {
    url,
    client: new BerthClient({ baseUrl: url }),
    dataDir,
    proc,
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
