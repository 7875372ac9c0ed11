import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { rmSync } from 'node:fs';
import type { RunningBerth } from './harness.js';
import { BIN, RANGES_DIR, cleanup, cliEnv } from './harness.js';

/** `berth agent` processes for tests and benches: spawn, kill, and the CLI as a user runs it. */

export interface RunningAgent {
  readonly name: string;
  readonly dataDir: string;
  proc: ChildProcess;
  stderr: string;
  /** Its DNS server, as it printed it. */
  dns?: { host: string; port: number };
}

/** Where and how an agent runs: on loopback beside the server (default), or in a network namespace. */
export interface AgentPlacement {
  /** Run it in this network namespace (`ip netns exec`), with its own proxy, at `address`. */
  readonly netns?: string;
  readonly address?: string;
  /** More environment; without BERTH_DOCKER in it the agent runs processes only (BERTH_DOCKER=off), as startBerth's servers. */
  readonly env?: Record<string, string>;
  /** More `berth agent` arguments (e.g. `--proxy on` for the one agent that holds the virtual IPs on loopback). */
  readonly args?: readonly string[];
}

/** A TCP port free at `host` a moment ago (bound to port 0 there, then closed). */
export async function freePortAt(host: string): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen({ host, port: 0 }, resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function spawnAgent(berth: Pick<RunningBerth, 'url' | 'fingerprint'>, name: string, joinToken: string | undefined, dataDir: string, placement: AgentPlacement = {}): Promise<RunningAgent> {
  // Several agents share one machine here: each telemetry listener gets a free port of its address
  // (the default, 10250, is one per machine), unless the test chose one.
  const telemetry = placement.args?.includes('--telemetry-port') ? [] : ['--telemetry-port', String(placement.netns ? 10250 : await freePortAt(placement.address ?? '127.0.0.1'))];
  // On one machine the server's proxy holds the virtual IPs: the agents run DNS only. In a network
  // namespace of its own, each runs its proxy too.
  const dataPlane = placement.netns || placement.args?.includes('--proxy') ? ['--dns', '127.0.0.1:0'] : ['--proxy', 'off', '--dns', '127.0.0.1:0'];
  const args = ['agent', '--join', berth.url, ...(joinToken ? ['--token', joinToken] : []), '--name', name, '--data-dir', dataDir, '--label', `name=${name}`, ...(placement.address ? ['--address', placement.address] : []), ...dataPlane, ...telemetry, ...(placement.args ?? [])];
  // The agent claims its cluster's ranges in this checkout's registry, where its test servers claim theirs.
  // No test uses the machine's Docker engine by accident: a docker test gives BERTH_DOCKER=auto and its own network.
  const env = { ...process.env, BERTH_RANGES_DIR: RANGES_DIR, BERTH_DOCKER: 'off', NO_COLOR: '1', ...(berth.fingerprint ? { BERTH_TLS_FINGERPRINT: berth.fingerprint } : {}), ...placement.env };
  // `ip netns exec` execs the command in place: the child's pid is the agent's.
  const proc = placement.netns
    ? spawn('ip', ['netns', 'exec', placement.netns, process.execPath, BIN, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] })
    : spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const agent: RunningAgent = { name, dataDir, proc, stderr: '' };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent ${name} did not join in 15 s:\n${agent.stderr}`)), 15_000);
    proc.stderr?.on('data', (chunk: Buffer) => {
      agent.stderr += chunk.toString();
      const m = /joined http\S+ \(data in [^)]*\); DNS on ([\d.]+):(\d+)/.exec(agent.stderr);
      if (m) {
        agent.dns = { host: m[1] as string, port: Number(m[2]) };
        clearTimeout(timer);
        resolve(agent);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`agent ${name} exited with ${code}:\n${agent.stderr}`));
    });
  });
}

/** `berth ARGS` against the test server, as a user runs it; resolves with stdout (rejects on a non-zero exit). */
export function runBerth(berth: RunningBerth, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [BIN, '--host', berth.url, ...args], { env: { ...process.env, ...cliEnv(berth.url), NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    proc.stderr?.on('data', (c: Buffer) => (err += c.toString()));
    proc.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`berth ${args.join(' ')} exited ${code}: ${err}`))));
  });
}

export async function killAgent(agent: RunningAgent, signal: NodeJS.Signals): Promise<void> {
  if (agent.proc.exitCode !== null || agent.proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => agent.proc.once('exit', () => resolve()));
  agent.proc.kill(signal);
  await exited;
}

/**
 * A file's `after`: the server and its instances first (cleanup), then the agents (SIGTERM: their
 * instances were stopped with their services) and their data directories, even when the first step threw.
 */
export async function tearDownAgents(berth: RunningBerth | undefined, agents: readonly RunningAgent[], dirs: readonly string[]): Promise<void> {
  try {
    if (berth) await cleanup(berth);
  } finally {
    for (const a of agents) await killAgent(a, 'SIGTERM');
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}
