import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's etcd-server (3.4.23 on Debian 12); CI installs it (.ci/run). */
export const ETCD_BINARY = process.env.BERTH_ETCD_BINARY ?? '/usr/bin/etcd';

export interface EtcdCluster {
  /** Client URLs, one per member: `http://127.0.0.1:<port>`. */
  readonly endpoints: readonly string[];
  /** SIGKILLs member `i` (its data stays). */
  kill(i: number): Promise<void>;
  /** SIGSTOPs member `i`: it keeps its sockets but answers nothing (a hung member, or one cut off). */
  pause(i: number): void;
  /** SIGCONTs a paused member. */
  resume(i: number): void;
  /** Starts member `i` again on its data dir and waits until it is healthy. */
  restart(i: number): Promise<void>;
  /** Kills every member and removes the data dirs. */
  stop(): Promise<void>;
  /** The process id of member `i`, or undefined while it is not running (for CPU figures in benches). */
  pid(i: number): number | undefined;
}

export interface StartEtcdOptions {
  readonly members: 1 | 3;
  /**
   * First port; member i listens on base + 2i (clients) and base + 2i + 1 (peers). Each test file takes
   * its own base within 23790–23999 so files running in parallel never meet.
   */
  readonly portBase: number;
  /** The etcd binary; default ETCD_BINARY (BERTH_ETCD_BINARY or /usr/bin/etcd). */
  readonly binary?: string;
  /**
   * Serve clients over TLS with these PEM files (etcd's --cert-file, --key-file, and with `caFile`
   * --trusted-ca-file + --client-cert-auth: clients need a certificate the CA signed).
   */
  readonly tls?: { readonly certFile: string; readonly keyFile: string; readonly caFile?: string; readonly clientCertFile?: string; readonly clientKeyFile?: string };
  /** How long to wait for health, ms; default 30 000. */
  readonly readyTimeoutMs?: number;
}

/**
 * Starts an etcd cluster on loopback for tests: members with their data in one temp dir, no
 * auto-compaction (tests compact by hand), small heartbeat so elections after a kill are quick. Waits
 * until every member answers /health. Kills only the PIDs it started.
 * @throws Error naming the binary and the fix when `/usr/bin/etcd` is missing (tests must fail, not skip)
 */
export async function startEtcd(options: StartEtcdOptions): Promise<EtcdCluster> {
  const binary = options.binary ?? ETCD_BINARY;
  if (!existsSync(binary)) {
    throw new Error(`etcd is not installed: ${binary} is missing; install it (Debian: apt-get install etcd-server) or set BERTH_ETCD_BINARY — the etcd backend tests cannot run without it`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'berth-etcd-'));
  const n = options.members;
  const client = (i: number): number => options.portBase + 2 * i;
  const peer = (i: number): number => options.portBase + 2 * i + 1;
  const names = Array.from({ length: n }, (_, i) => `m${i}`);
  const initialCluster = names.map((name, i) => `${name}=http://127.0.0.1:${peer(i)}`).join(',');
  const scheme = options.tls ? 'https' : 'http';
  const endpoints = names.map((_, i) => `${scheme}://127.0.0.1:${client(i)}`);
  const children: (ChildProcess | undefined)[] = new Array(n).fill(undefined);
  const logs: string[][] = names.map(() => []);

  const launch = (i: number): void => {
    const args = [
      `--name=${names[i]}`,
      `--data-dir=${join(dir, names[i] as string)}`,
      `--listen-client-urls=${endpoints[i]}`,
      `--advertise-client-urls=${endpoints[i]}`,
      `--listen-peer-urls=http://127.0.0.1:${peer(i)}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peer(i)}`,
      `--initial-cluster=${initialCluster}`,
      '--initial-cluster-state=new',
      `--initial-cluster-token=berth-test-${options.portBase}`,
      '--heartbeat-interval=50',
      '--election-timeout=500',
      '--logger=zap',
      '--log-level=warn',
      '--grpc-keepalive-min-time=500ms', // lets tests ping every second to find a hung member fast
      ...(options.tls ? [`--cert-file=${options.tls.certFile}`, `--key-file=${options.tls.keyFile}`] : []),
      ...(options.tls?.caFile ? [`--trusted-ca-file=${options.tls.caFile}`, '--client-cert-auth'] : []),
    ];
    const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.arch === 'arm64' ? 'arm64' : '' } });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      const log = logs[i] as string[];
      log.push(chunk);
      if (log.length > 50) log.shift();
    });
    children[i] = child;
    // Should the test process end without stop() (a crash, a timeout), its etcd members go with it.
    const reap = (): void => void child.kill('SIGKILL');
    process.once('exit', reap);
    child.once('exit', () => process.removeListener('exit', reap));
  };

  const healthy = async (i: number, timeoutMs: number): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const child = children[i];
      if (child && child.exitCode !== null) throw new Error(`etcd member ${names[i]} exited with ${child.exitCode}: ${(logs[i] as string[]).join('').slice(-2000)}`);
      try {
        if ((await health(endpoints[i] as string, options.tls)) === 'true') return;
      } catch {}
      if (Date.now() > deadline) throw new Error(`etcd member ${names[i]} at ${endpoints[i]} not healthy after ${timeoutMs} ms: ${(logs[i] as string[]).join('').slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const kill = async (i: number): Promise<void> => {
    const child = children[i];
    children[i] = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  };

  const stop = async (): Promise<void> => {
    await Promise.all(names.map((_, i) => kill(i)));
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    for (let i = 0; i < n; i++) launch(i);
    await Promise.all(names.map((_, i) => healthy(i, options.readyTimeoutMs ?? 30_000)));
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    endpoints,
    kill,
    pause: (i) => void children[i]?.kill('SIGSTOP'),
    resume: (i) => void children[i]?.kill('SIGCONT'),
    restart: async (i) => {
      await kill(i);
      launch(i);
      await healthy(i, options.readyTimeoutMs ?? 30_000);
    },
    stop,
    pid: (i) => children[i]?.pid,
  };
}

/** etcd's /health answer ("true" when the member has a leader and answers), over HTTP or TLS. */
async function health(endpoint: string, tls: StartEtcdOptions['tls']): Promise<string | undefined> {
  if (!tls) {
    const res = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1000) });
    return ((await res.json()) as { health?: string }).health;
  }
  return new Promise((resolve, reject) => {
    const req = https.get(
      `${endpoint}/health`,
      {
        timeout: 1000,
        ...(tls.caFile ? { ca: readFileSync(tls.caFile) } : { rejectUnauthorized: false }),
        ...(tls.clientCertFile && tls.clientKeyFile ? { cert: readFileSync(tls.clientCertFile), key: readFileSync(tls.clientKeyFile) } : {}),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve((JSON.parse(body) as { health?: string }).health));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}
