/**
 * The API under load, issue "berth hardening":
 *  1. What authentication costs: wrk, 50 connections, GET of one service, against the API with the real
 *     TokenAuthenticator and against the same API with no authentication at all (every request is the
 *     admin, as before tokens existed), rounds interleaved in one run. Goal: p99 at most 1.05× the
 *     unauthenticated one.
 *  2. 50 concurrent API clients for 60 s (BENCH_API_SECONDS) against the real `berth server`: reads
 *     (get, list, instances, why) and writes (update, scale 0↔1 with real processes, create + remove).
 *     Goal: 0 answers 5xx. Prints requests/s, p50/p99 per kind, and the server's CPU, which tells
 *     whether the server's one event loop is the limit.
 *
 * Run: npm run bench -- api   (needs wrk: apt-get install -y wrk)
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { BerthClient } from '../src/client/index.js';
import { ROOT, cleanup, startBerth } from '../test/e2e/harness.js';
import { lpad, pad, requireTools, runTool } from './bench-tools.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WRK_SECONDS = Number(process.env.BENCH_WRK_SECONDS ?? 10);
const LOAD_SECONDS = Number(process.env.BENCH_API_SECONDS ?? 60);
const CLIENTS = 50;

interface WrkResult {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly non2xx: number;
}

/** Milliseconds from wrk's "1.23ms" / "456.00us" / "1.2s". */
function ms(text: string): number {
  const m = /([\d.]+)(us|ms|s)/.exec(text);
  if (!m) return Number.NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

async function wrkRound(mode: 'token' | 'none'): Promise<WrkResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/api-auth-server.ts'), mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`api-auth-server exited with ${code}`)));
    });
    const [port, token] = line.split(' ');
    const out = await runTool('wrk', ['-t2', `-c${CLIENTS}`, `-d${WRK_SECONDS}s`, '--latency', '-H', `Authorization: Bearer ${token}`, `http://127.0.0.1:${port}/v1/grids/default/services/web`], (WRK_SECONDS + 30) * 1000);
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
    const p50 = ms(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? '');
    const p99 = ms(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? '');
    const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
    return { rps, p50, p99, non2xx };
  } finally {
    child.kill('SIGTERM');
  }
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};
const quantile = (xs: number[], q: number): number => {
  xs.sort((a, b) => a - b);
  return xs[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? Number.NaN;
};

async function authOverhead(): Promise<void> {
  requireTools([['wrk', 'wrk']]);
  const results: Record<'token' | 'none', WrkResult[]> = { token: [], none: [] };
  for (let r = 0; r < ROUNDS; r++) {
    for (const mode of r % 2 === 0 ? (['none', 'token'] as const) : (['token', 'none'] as const)) {
      const result = await wrkRound(mode);
      results[mode].push(result);
      console.log(`round ${r + 1} ${pad(mode, 5)} ${lpad(result.rps.toFixed(0), 7)} req/s  p50 ${result.p50.toFixed(2)} ms  p99 ${result.p99.toFixed(2)} ms  non-2xx ${result.non2xx}`);
    }
  }
  const m = (mode: 'token' | 'none', k: keyof WrkResult) => median(results[mode].map((x) => x[k]));
  console.log(`\nauthentication (medians of ${ROUNDS}, wrk -t2 -c${CLIENTS} -d${WRK_SECONDS}s, GET one service):`);
  console.log(`  without: ${m('none', 'rps').toFixed(0)} req/s, p50 ${m('none', 'p50').toFixed(2)} ms, p99 ${m('none', 'p99').toFixed(2)} ms`);
  console.log(`  with:    ${m('token', 'rps').toFixed(0)} req/s, p50 ${m('token', 'p50').toFixed(2)} ms, p99 ${m('token', 'p99').toFixed(2)} ms`);
  const ratio = m('token', 'p99') / m('none', 'p99');
  console.log(`  ratio p99 ${ratio.toFixed(3)}× (goal ≤ 1.05×), req/s ${(m('token', 'rps') / m('none', 'rps')).toFixed(3)}×`);
}

/** utime + stime of a process, in ms. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

async function mixedLoad(): Promise<void> {
  const berth = await startBerth({ instanceRange: '127.12.90.0/24' });
  const client = new BerthClient({ baseUrl: berth.url, token: berth.token });
  const G = 'default';
  const names = Array.from({ length: 10 }, (_, i) => `svc-${i}`);
  for (const name of names) await client.createService(G, { name, replicas: 0, containers: [{ command: ['sleep', '1000'], stopGracePeriod: '1s' }] }, { deploy: true });
  const latencies: Record<string, number[]> = {};
  const statuses: Record<string, number> = {};
  let n = 0;
  const deadline = Date.now() + LOAD_SECONDS * 1000;
  const kinds: [string, number, (w: number) => Promise<unknown>][] = [
    ['get', 40, (w) => client.getService(G, names[w % 10] as string)],
    ['list', 15, () => client.listServices(G)],
    ['instances', 15, (w) => client.listInstances(G, names[w % 10] as string)],
    ['why', 5, (w) => client.why(G, names[w % 10] as string)],
    ['update', 10, (w) => client.getService(G, names[w % 10] as string).then((s) => client.updateService(G, s.name, { ...s.spec, labels: { round: String(n) } }))],
    ['scale', 10, (w) => client.scale(G, names[w % 10] as string, (n + w) % 2)],
    ['create+rm', 5, async (w) => {
      const name = `tmp-${w}-${n}`;
      await client.createService(G, { name, containers: [{ command: ['sleep', '1000'] }] });
      await client.removeService(G, name);
    }],
  ];
  const total = kinds.reduce((a, [, weight]) => a + weight, 0);
  const pick = (): (typeof kinds)[number] => {
    let x = Math.random() * total;
    for (const k of kinds) if ((x -= k[1]) < 0) return k;
    return kinds[0] as (typeof kinds)[number];
  };
  const cpu0 = cpuMs(berth.proc.pid as number);
  const t0 = Date.now();
  await Promise.all(Array.from({ length: CLIENTS }, async (_, w) => {
    while (Date.now() < deadline) {
      const [kind, , run] = pick();
      const start = performance.now();
      let status = '2xx';
      try {
        await run(w);
      } catch (e) {
        const s = (e as { status?: number }).status ?? 0;
        status = s >= 500 ? `5xx (${(e as Error).message.slice(0, 80)})` : s === 0 ? 'unreachable' : `${s}`;
      }
      (latencies[kind] ??= []).push(performance.now() - start);
      statuses[status] = (statuses[status] ?? 0) + 1;
      n++;
    }
  }));
  const seconds = (Date.now() - t0) / 1000;
  const cpu = (cpuMs(berth.proc.pid as number) - cpu0) / 1000 / seconds;
  const all = Object.values(latencies).flat();
  console.log(`\n${CLIENTS} concurrent clients, ${seconds.toFixed(0)} s, reads and writes against berth server:`);
  console.log(`  ${n} requests, ${(n / seconds).toFixed(0)} req/s; p50 ${quantile(all, 0.5).toFixed(1)} ms, p99 ${quantile(all, 0.99).toFixed(1)} ms`);
  for (const [kind, xs] of Object.entries(latencies)) console.log(`  ${pad(kind, 10)} ${lpad(String(xs.length), 6)}  p50 ${lpad(quantile(xs, 0.5).toFixed(1), 6)} ms  p99 ${lpad(quantile(xs, 0.99).toFixed(1), 6)} ms`);
  console.log(`  answers: ${Object.entries(statuses).map(([s, c]) => `${s}: ${c}`).join(', ')}`);
  const fiveXX = Object.entries(statuses).filter(([s]) => s.startsWith('5')).reduce((a, [, c]) => a + c, 0);
  console.log(`  5xx: ${fiveXX} (goal 0); server CPU ${(cpu * 100).toFixed(0)} % of one core (a Node event loop: ~100 % means the server is the limit)`);
  await cleanup(berth);
}

await authOverhead();
await mixedLoad();
