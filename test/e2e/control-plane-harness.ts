import type { ChildProcess } from 'node:child_process';
import { execFileSync, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EtcdCluster } from '../etcd-harness.js';
import type { BerthClient } from '../../src/client/index.js';
import type { RunningAgent } from './agent-harness.js';
import { killAgent } from './agent-harness.js';
import { BIN, RANGES_DIR, rangesFor, waitFor } from './harness.js';

/** `berth server --store etcd://…` processes for tests (docs/control-plane.md). */

export interface ControlPlaneServer {
  readonly name: string;
  readonly dataDir: string;
  url: string;
  proc: ChildProcess;
  stderr: string;
}

export interface ControlPlaneOptions {
  readonly instanceRange: string;
  readonly leaseSeconds: number;
  readonly nodeGrace: string;
  /** Default 127.0.0.1:0. */
  readonly listen?: string;
  /** A certificate and key shared by the servers of the cluster (they pass writes on to each other over HTTPS). */
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  /** More environment, over rangesFor(instanceRange)'s (other ranges for the cluster). */
  readonly env?: Record<string, string>;
}

/** Resolves once `server` says it leads: the first server of a new cluster, which writes the admin token (20 s at most). */
export async function untilLeads(server: ControlPlaneServer): Promise<void> {
  await waitFor(`server ${server.name} leads`, () => /this server leads/.test(server.stderr), { timeoutMs: 20_000 });
}

/** Starts one server; resolves once it listens (it may not lead). */
export function spawnControlPlane(name: string, dataDir: string, etcd: EtcdCluster, options: ControlPlaneOptions): Promise<ControlPlaneServer> {
  const store = `etcd://${etcd.endpoints.map((e) => e.replace(/^http:\/\//, '')).join(',')}`;
  const args = ['server', '--data-dir', dataDir, '--listen', options.listen ?? '127.0.0.1:0', '--store', store, '--leader-lease', `${options.leaseSeconds}s`, '--node-grace', options.nodeGrace];
  if (options.tls) args.push('--tls-cert', options.tls.certFile, '--tls-key', options.tls.keyFile);
  const proc = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, BERTH_RANGES_DIR: RANGES_DIR, ...rangesFor(options.instanceRange), ...options.env, NO_COLOR: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
  const server: ControlPlaneServer = { name, dataDir, url: '', proc, stderr: '' };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server ${name} did not start in 20 s:\n${server.stderr}`)), 20_000);
    proc.stderr?.on('data', (chunk: Buffer) => {
      server.stderr += chunk.toString();
      const m = /listening on (https?:\/\/[\d.]+:\d+)/.exec(server.stderr);
      if (m && server.url === '') {
        server.url = m[1] as string;
        clearTimeout(timer);
        resolve(server);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server ${name} exited with ${code}:\n${server.stderr}`));
    });
  });
}

export async function stopProc(proc: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill(signal);
  await exited;
}

/** The server's role as GET /v1/version says it (`fetchFn` for https), or undefined when it does not answer. */
export async function roleOf(url: string, fetchFn: (input: string, init: RequestInit) => Promise<Response> = (i, init) => fetch(i, init)): Promise<string | undefined> {
  const res = await fetchFn(`${url}/v1/version`, {}).catch(() => undefined);
  if (!res?.ok) return undefined;
  return ((await res.json()) as { controlPlane?: { role: string } }).controlPlane?.role;
}

/** A self-signed certificate for `ip` (openssl), with its SHA-256 fingerprint as clients pin it. */
export function certificateFor(ip: string, dir: string): { certFile: string; keyFile: string; fingerprint: string } {
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=berth-test', '-addext', `subjectAltName=IP:${ip}`], { stdio: 'ignore' });
  return { certFile, keyFile, fingerprint: new X509Certificate(readFileSync(certFile)).fingerprint256 };
}

/**
 * The end of a cluster test: its services removed through a live server (so the agents stop their
 * instances), then the agents, the servers and etcd stopped and the directories removed, even when a
 * step fails.
 */
export async function tearDownCluster(parts: {
  readonly servers: readonly ControlPlaneServer[];
  readonly agents: readonly RunningAgent[];
  readonly etcd: EtcdCluster | undefined;
  readonly dirs: readonly string[];
  /** A client of a server, or undefined when the test never got a token. */
  readonly client: (server: ControlPlaneServer) => BerthClient | undefined;
}): Promise<void> {
  try {
    const live = parts.servers.find((s) => s.proc.exitCode === null && s.proc.signalCode === null);
    const c = live ? parts.client(live) : undefined;
    if (c) {
      for (const s of await c.listServices('default').catch(() => [])) await c.removeService('default', s.name).catch(() => undefined);
      await waitFor('services removed', async () => (await c.listServices('default')).length === 0, { timeoutMs: 30_000 }).catch(() => undefined);
    }
  } finally {
    for (const a of parts.agents) await killAgent(a, 'SIGTERM');
    for (const s of parts.servers) await stopProc(s.proc, 'SIGTERM');
    await parts.etcd?.stop();
    for (const d of parts.dirs) rmSync(d, { recursive: true, force: true });
  }
}

/** A CLI config path that does not exist: the CLI uses BERTH_TOKEN and --host only. */
const NO_CONFIG = join(tmpdir(), 'berth-e2e-no-config');

/** `berth ARGS` against `url` with `token`, as a user runs it (no CLI config): exit code and both streams. */
export function berth(url: string, token: string, args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [BIN, '--host', url, ...args], { env: { ...process.env, BERTH_TOKEN: token, BERTH_CONFIG: NO_CONFIG, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    proc.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A `berth` command that runs on (`logs -f`, `events -f`): its process, what it printed so far, and its exit. */
export interface RunningCli {
  readonly proc: ChildProcess;
  stdout: string;
  stderr: string;
  /** Resolves with the exit code (or the signal's name) once it exited. */
  readonly exited: Promise<number | string>;
}

/** Starts `berth ARGS` against `url` (one server or several, `A,B`) with `token`, as `berth` runs it, without waiting for it. */
export function spawnBerth(url: string, token: string, args: readonly string[], env: Record<string, string> = {}): RunningCli {
  const proc = spawn(process.execPath, [BIN, '--host', url, ...args], { env: { ...process.env, BERTH_TOKEN: token, BERTH_CONFIG: NO_CONFIG, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const cli: RunningCli = { proc, stdout: '', stderr: '', exited };
  proc.stdout?.on('data', (c: Buffer) => (cli.stdout += c.toString()));
  proc.stderr?.on('data', (c: Buffer) => (cli.stderr += c.toString()));
  return cli;
}
