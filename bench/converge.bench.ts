/**
 * Convergence and idle cost, issue "berth core":
 *  1. 100 replicas of a small HTTP server (bench/tiny-http.c), from `deploy` until all accept
 *     connections, against a plain shell loop that starts the same 100 processes and waits until they
 *     all accept. Goal: ≤ 2× the loop.
 *  2. The idle server with those 100 instances running: CPU over 10 s (goal < 1 % of one core) and
 *     RSS (goal < 150 MB).
 * Docker Swarm's figures on this machine (from the issue): ~3 s for 10 containers, ~7 s for 30.
 *
 * Run: npm run bench -- converge   (or: node --import tsx bench/converge.bench.ts)
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { BerthClient } from '../src/client/index.js';
import { ROOT, startBerth, tempDir } from '../test/e2e/harness.js';

const N = Number(process.env.BENCH_REPLICAS ?? 100);
const PORT = 8080;
const TINY = join(ROOT, 'build', 'tiny-http');

function buildTiny(): void {
  if (existsSync(TINY)) return;
  mkdirSync(join(ROOT, 'build'), { recursive: true });
  execFileSync('cc', ['-O2', '-o', TINY, join(ROOT, 'bench', 'tiny-http.c')]);
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function allAccept(addresses: () => Promise<string[]> | string[]): Promise<void> {
  const done = new Set<string>();
  for (;;) {
    const list = await addresses();
    await Promise.all(list.filter((a) => !done.has(a)).map(async (a) => {
      if (await accepts(a, PORT)) done.add(a);
    }));
    if (done.size >= N) return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function shellLoop(): Promise<number> {
  const ips = Array.from({ length: N }, (_, k) => `127.13.${Math.floor((k + 1) / 250)}.${((k + 1) % 250) + 1}`);
  const script = `for ip in ${ips.join(' ')}; do BIND=$ip PORT=${PORT} ${TINY} & done; wait`;
  const t0 = performance.now();
  const sh = spawn('sh', ['-c', script], { stdio: 'ignore', detached: true });
  await allAccept(() => ips);
  const ms = performance.now() - t0;
  process.kill(-(sh.pid as number), 'SIGKILL');
  return ms;
}

function procStat(pid: number): { cpuTicks: number; rssBytes: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { cpuTicks: Number(fields[11]) + Number(fields[12]), rssBytes: rssKb * 1024 };
}

async function main(): Promise<void> {
  buildTiny();
  const loopRuns = [await shellLoop(), await shellLoop(), await shellLoop()];
  const loopMs = Math.min(...loopRuns);

  const dataDir = tempDir('berth-bench-');
  const berth = await startBerth({ dataDir, instanceRange: '127.14.0.0/16' });
  const client: BerthClient = berth.client;
  try {
    await client.createService('default', {
      name: 'tiny',
      replicas: N,
      containers: [{ command: [TINY], env: { BIND: '$(BERTH_INSTANCE_IP)' }, ports: [{ containerPort: PORT }], stopGracePeriod: '1s' }],
    });
    // Learn addresses from the watch stream (one request) rather than by polling the API, so the
    // measurement costs the machine as little as the shell loop's does.
    const addresses = new Set<string>();
    const marks = { created: 0, running: 0 };
    const runningIds = new Set<string>();
    const abort = new AbortController();
    const from = (await client.getService('default', 'tiny')).version;
    const t0 = performance.now();
    const watching = (async () => {
      try {
        for await (const e of client.watch({ fromRevision: from, signal: abort.signal })) {
          if (e.kind !== 'instance') continue;
          const inst = e.object as { id: string; spec: { address: string }; status: { state: string } };
          if (!addresses.has(inst.spec.address)) {
            addresses.add(inst.spec.address);
            if (addresses.size === N) marks.created = performance.now() - t0;
          }
          if (inst.status.state === 'running' && !runningIds.has(inst.id)) {
            runningIds.add(inst.id);
            if (runningIds.size === N) marks.running = performance.now() - t0;
          }
        }
      } catch {
        // aborted
      }
    })();
    await client.deploy('default', 'tiny');
    await allAccept(() => [...addresses]);
    const berthMs = performance.now() - t0;
    abort.abort();
    await watching;

    // Idle: let the last status writes settle, then measure the server process alone for 10 s.
    await new Promise((r) => setTimeout(r, 2000));
    const pid = berth.proc.pid as number;
    const a = procStat(pid);
    const idleMs = 10_000;
    await new Promise((r) => setTimeout(r, idleMs));
    const b = procStat(pid);
    const cpuPercent = ((b.cpuTicks - a.cpuTicks) * 10 * 100) / idleMs; // 100 ticks/s → 10 ms per tick

    console.log(`converge ${N} replicas of tiny-http, until all accept connections`);
    console.log(`  shell loop (best of 3): ${loopMs.toFixed(0)} ms   runs: ${loopRuns.map((r) => r.toFixed(0)).join(', ')} ms`);
    console.log(`  berth deploy:           ${berthMs.toFixed(0)} ms   (all ${N} instances stored at ${marks.created.toFixed(0)} ms, all reported running at ${marks.running.toFixed(0)} ms)`);
    console.log(`  ratio berth / loop:     ${(berthMs / loopMs).toFixed(2)}x   (goal ≤ 2.00x)`);
    console.log(`  Docker Swarm here (from the issue): ~3000 ms for 10, ~7000 ms for 30 containers`);
    console.log(`idle server with ${N} running instances, over ${idleMs / 1000} s`);
    console.log(`  CPU: ${cpuPercent.toFixed(2)} % of one core   (goal < 1 %)`);
    console.log(`  RSS: ${(b.rssBytes / 1024 / 1024).toFixed(1)} MB   (goal < 150 MB)`);

    await client.removeService('default', 'tiny');
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if ((await client.listServices('default')).length === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await berth.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
