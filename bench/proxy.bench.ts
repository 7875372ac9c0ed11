/**
 * The L4 proxy against HAProxy, issue 3 "Performance": wrk (-t2 -c50 -d10s --latency) against
 * 2 nginx backends on loopback, side by side in one run:
 *  - direct: one backend, no proxy;
 *  - HAProxy 2.x in TCP mode, round robin over both backends;
 *  - berth: a real `berth server` with a selector-less service whose endpoints are set by hand to the
 *    two backends, measured on its virtual IP.
 * Each with keep-alive and with `Connection: close` (a new connection per request). Goals (berth /
 * HAProxy): ≥ 0.8× requests/s with keep-alive, ≥ 0.6× with close, p99 ≤ 1.5× in both.
 * Issue 3's reference figures: direct ~26k / ~11k req/s, HAProxy ~20k / ~5.2k.
 *
 * Needs: apt-get install -y wrk haproxy nginx-light
 * Run: npm run bench -- proxy   (or: node --import tsx bench/proxy.bench.ts; BENCH_SECONDS=3 for a quick look)
 * BENCH_ROUNDS=3 repeats every measurement (targets interleaved) and reports medians, for a noisy VM;
 * BENCH_PROXY=native,node,native:1 measures one berth server per listed variant, side by side: the TCP
 * engine (BERTH_PROXY_ENGINE) and, after a colon, the relay threads (BERTH_PROXY_THREADS). Default: one
 * server with berth's defaults (native, min(2, cores) threads).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBerth, type RunningBerth } from '../test/e2e/harness.js';
import { Children, freePort, lpad, pad, requireTools, runTool, waitListening } from './bench-tools.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 1));
const VARIANTS = (process.env.BENCH_PROXY ?? '').split(',').map((w) => w.trim()).filter(Boolean);
const HOST = '127.0.0.1';
const SERVICE_PORT = 18080;

interface WrkResult {
  readonly rps: number;
  readonly p99Ms: number;
  readonly errors: number;
}

type Mode = 'keep-alive' | 'close';

function nginxConf(dir: string, name: string, port: number): string {
  return `daemon off;
worker_processes 1;
pid ${dir}/${name}.pid;
error_log ${dir}/${name}.error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path ${dir}/${name}-body;
  proxy_temp_path ${dir}/${name}-proxy;
  fastcgi_temp_path ${dir}/${name}-fastcgi;
  uwsgi_temp_path ${dir}/${name}-uwsgi;
  scgi_temp_path ${dir}/${name}-scgi;
  server {
    listen ${HOST}:${port} backlog=4096;
    location / { return 200 "ok\\n"; }
  }
}
`;
}

function haproxyConf(port: number, backends: readonly number[]): string {
  return `global
  maxconn 4096
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
listen bench
  bind ${HOST}:${port}
  balance roundrobin
${backends.map((p, k) => `  server b${k + 1} ${HOST}:${p}`).join('\n')}
`;
}

function toMs(value: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(value.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000;
}

/** Requests/s, p99 and errors from wrk's output (with --latency). */
export function parseWrk(out: string): WrkResult {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const p99 = toMs(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? '');
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const errors = (socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0) + non2xx;
  return { rps, p99Ms: p99, errors };
}

async function wrk(host: string, port: number, mode: Mode, seconds: number): Promise<WrkResult> {
  const args = ['-t2', '-c50', `-d${seconds}s`, '--latency', ...(mode === 'close' ? ['-H', 'Connection: close'] : []), `http://${host}:${port}/`];
  return parseWrk(await runTool('wrk', args, (seconds + 30) * 1000));
}

/** The environment of one BENCH_PROXY variant (`engine[:threads]`). */
function variantEnv(variant: string): Record<string, string> {
  const [engine = 'native', threads] = variant.split(':');
  return { BERTH_PROXY_ENGINE: engine, ...(threads !== undefined ? { BERTH_PROXY_THREADS: threads } : {}) };
}

async function setUpBerth(backends: readonly number[], k: number, variant: string | undefined): Promise<{ berth: RunningBerth; vip: string }> {
  // Each server its own instance range, hence its own service range (test/e2e/harness.ts rangesFor).
  const berth = await startBerth({ instanceRange: k === 0 ? '127.15.0.0/16' : `127.15.${k}.0/24`, ...(variant !== undefined ? { env: variantEnv(variant) } : {}) });
  const svc = await berth.client.createService('default', { name: 'bench', containers: [], endpoints: [], ports: [{ port: SERVICE_PORT }] });
  await berth.client.setEndpoints(
    'default',
    'bench',
    backends.map((p) => `${HOST}:${p}`),
  );
  const vip = svc.spec.clusterIP as string;
  await waitListening(vip, SERVICE_PORT);
  return { berth, vip };
}

/** The median of each figure over the rounds (errors summed). */
function median(runs: readonly WrkResult[]): WrkResult {
  const mid = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    const n = s.length;
    return n % 2 === 1 ? (s[(n - 1) / 2] as number) : ((s[n / 2 - 1] as number) + (s[n / 2] as number)) / 2;
  };
  return { rps: mid(runs.map((r) => r.rps)), p99Ms: mid(runs.map((r) => r.p99Ms)), errors: runs.reduce((a, r) => a + r.errors, 0) };
}

const fmtRps = (r: WrkResult): string => `${(r.rps / 1000).toFixed(1)}k`;
const fmtP99 = (r: WrkResult): string => `${r.p99Ms.toFixed(2)} ms`;

async function main(): Promise<void> {
  requireTools([
    ['wrk', 'wrk'],
    ['haproxy', 'haproxy'],
    ['nginx', 'nginx-light'],
  ]);
  const dir = mkdtempSync(join(tmpdir(), 'berth-proxy-bench-'));
  const children = new Children();
  const berths: RunningBerth[] = [];
  try {
    const backends = [await freePort(), await freePort()];
    for (const [k, port] of backends.entries()) {
      const conf = join(dir, `nginx${k + 1}.conf`);
      writeFileSync(conf, nginxConf(dir, `nginx${k + 1}`, port));
      children.start('nginx', ['-p', dir, '-e', join(dir, `nginx${k + 1}.startup.log`), '-c', conf]);
    }
    const haproxyPort = await freePort();
    writeFileSync(join(dir, 'haproxy.cfg'), haproxyConf(haproxyPort, backends));
    children.start('haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')]);
    for (const port of [...backends, haproxyPort]) await waitListening(HOST, port);
    const targets: (readonly [string, string, number])[] = [
      ['direct (nginx 1)', HOST, backends[0] as number],
      ['HAProxy (tcp, rr)', HOST, haproxyPort],
    ];
    for (const [k, variant] of (VARIANTS.length > 0 ? VARIANTS : [undefined]).entries()) {
      const set = await setUpBerth(backends, k, variant);
      berths.push(set.berth);
      targets.push([variant === undefined ? 'berth (VIP)' : `berth (VIP, ${variant})`, set.vip, SERVICE_PORT]);
    }
    // Warm up every path (JIT, accept queues, nginx workers) before measuring.
    for (const [, host, port] of targets) await wrk(host, port, 'keep-alive', 1);

    const runs = new Map<string, WrkResult[]>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of ['keep-alive', 'close'] as const) {
        for (const [name, host, port] of targets) {
          const r = await wrk(host, port, mode, SECONDS);
          runs.set(`${name}/${mode}`, [...(runs.get(`${name}/${mode}`) ?? []), r]);
          if (ROUNDS > 1) console.log(`  round ${round + 1} ${pad(mode, 11)}${pad(name, 22)}${lpad(fmtRps(r), 8)}${lpad(fmtP99(r), 11)}`);
        }
      }
    }
    const results = new Map([...runs].map(([key, rs]) => [key, median(rs)] as const));

    const get = (name: string, mode: Mode): WrkResult => results.get(`${name}/${mode}`) as WrkResult;
    console.log(`proxy: wrk -t2 -c50 -d${SECONDS}s --latency, 2 nginx backends (worker_processes 1) on loopback, 2 cores shared by everything${ROUNDS > 1 ? `; medians of ${ROUNDS} rounds` : ''}`);
    console.log(`  ${pad('target', 20)}${lpad('keep-alive req/s', 18)}${lpad('p99', 11)}${lpad('err', 6)}${lpad('close req/s', 14)}${lpad('p99', 11)}${lpad('err', 6)}`);
    for (const [name] of targets) {
      const ka = get(name, 'keep-alive');
      const cl = get(name, 'close');
      console.log(`  ${pad(name, 20)}${lpad(fmtRps(ka), 18)}${lpad(fmtP99(ka), 11)}${lpad(String(ka.errors), 6)}${lpad(fmtRps(cl), 14)}${lpad(fmtP99(cl), 11)}${lpad(String(cl.errors), 6)}`);
    }
    const hap = targets[1]?.[0] as string;
    const direct = targets[0]?.[0] as string;
    const line = (b: string, mode: Mode, rpsGoal: number): string => {
      const r = get(b, mode);
      const h = get(hap, mode);
      const d = get(direct, mode);
      const rr = r.rps / h.rps;
      const pr = r.p99Ms / h.p99Ms;
      const ok = rr >= rpsGoal && pr <= 1.5;
      return `  ${pad(mode, 11)} ${b}/HAProxy: ${rr.toFixed(2)}x req/s (goal ≥ ${rpsGoal.toFixed(1)}x), p99 ${pr.toFixed(2)}x (goal ≤ 1.5x) ${ok ? 'met' : 'MISSED'};   berth/direct ${(r.rps / d.rps).toFixed(2)}x, HAProxy/direct ${(h.rps / d.rps).toFixed(2)}x`;
    };
    console.log('ratios');
    for (const [b] of targets.slice(2)) {
      console.log(line(b, 'keep-alive', 0.8));
      console.log(line(b, 'close', 0.6));
    }
    console.log('  issue 3 reference: direct ~26k / ~11k req/s, HAProxy ~20k / ~5.2k (keep-alive / close)');
  } finally {
    for (const berth of berths) {
      await berth.client.removeService('default', 'bench').catch(() => undefined);
      await berth.stop();
      rmSync(berth.dataDir, { recursive: true, force: true });
    }
    await children.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
