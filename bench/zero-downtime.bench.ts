/**
 * Zero downtime, issue 4 "Performance": a client sends HTTP requests through the service's address
 * without pause — CONCURRENCY workers, a new connection per request — while the orchestrator does
 * (a) a rolling update of 10 replicas, stop-first, (b) the same start-first, (c) a scale 10 → 2.
 * The backends take 200–500 ms per request (BENCH_REQUEST_MS=LOW-HIGH to change it), send their
 * headers at once and the body after the delay (so a proxy cannot replay a request that was in
 * flight), and die at once on SIGTERM (no graceful shutdown of their own): requests are in flight on
 * every instance that is stopped, and only a drain before the stop keeps them. Counted as failed:
 * connection errors, resets, answers cut short, timeouts (HIGH + 10 s) and non-2xx answers.
 * Goal for berth: 0 failed.
 *
 * berth: bench/slow-http.mjs, readiness probe httpGet /healthz (periodSeconds 1), updateConfig
 * {parallelism 2, delay 0s, monitor 1s}, requests to the virtual IP (berth's L4 proxy).
 *
 * Docker Swarm, same run: busybox httpd whose /cgi-bin/slow sleeps 200–500 ms, a 1 s healthcheck,
 * the same update flags. Swarm's VIP and ingress routing mesh need IPVS, which this kernel lacks
 * (CONFIG_IP_VS unset: connections to the VIP get "No route to host", the published port refuses),
 * so the Swarm service uses --endpoint-mode dnsrr on an attachable overlay network and the client is
 * a busybox container on that network: each request resolves the service name with Docker's embedded
 * DNS (which leaves out tasks that are shutting down) and connects to a task directly. When the
 * kernel has IPVS, the VIP is used instead (printed with the figures). Swarm takes a task out of
 * its load balancing 2 s before it sends the stop signal (moby's defaultGossipConvergeDelay), which
 * covers requests shorter than that; BENCH_REQUEST_MS=2500-3000 shows what happens to longer ones.
 *
 * Run: npm run bench -- zero-downtime   (BENCH_SWARM=0 skips Swarm)
 */
import type { ChildProcess } from 'node:child_process';
import { cleanup, GRID, secs, SLOW_HTTP, startBenchBerth, waitActive, waitReadyEndpoints, waitRollout } from './berth-rollouts.js';
import { RequestLoop, type LoopCounts } from './request-loop.js';
import { docker, Swarm, type SwarmUpdateConfig } from './swarm.js';
import { pad } from './bench-tools.js';

const REPLICAS = 10;
const SCALED = 2;
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
/** How long a backend takes per request, "LOW-HIGH" ms (both backends read it from the query). */
const REQUEST_MS = process.env.BENCH_REQUEST_MS ?? '200-500';
if (!/^\d+-\d+$/.test(REQUEST_MS)) throw new Error(`BENCH_REQUEST_MS must be LOW-HIGH in ms, not ${REQUEST_MS}`);
/** A request may take up to HIGH ms; it counts as timed out 10 s after that. */
const TIMEOUT_S = Math.ceil(Number(REQUEST_MS.split('-')[1]) / 1000) + 10;
/** Requests before the operation starts and after it ended, so the loop spans all of it. */
const MARGIN_MS = 1500;

type Scenario = 'update stop-first' | 'update start-first' | `scale ${number} → ${number}`;
const SCENARIOS: readonly Scenario[] = ['update stop-first', 'update start-first', `scale ${REPLICAS} → ${SCALED}`];

interface Outcome {
  readonly scenario: Scenario;
  readonly counts: LoopCounts;
  /** How long the operation took, from its request until it ended. */
  readonly operationMs: number;
}

function spec(version: number, order: 'stop-first' | 'start-first') {
  return {
    name: 'zd',
    replicas: REPLICAS,
    containers: [
      {
        command: [process.execPath, SLOW_HTTP],
        env: { VERSION: String(version) },
        ports: [{ containerPort: 8080 }],
        readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1 },
      },
    ],
    updateConfig: { parallelism: 2, delay: '0s', monitor: '1s', order },
    ports: [{ port: 8080 }],
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function berthScenarios(): Promise<Outcome[]> {
  const berth = await startBenchBerth('127.11.62.0/24');
  const { client } = berth;
  const out: Outcome[] = [];
  try {
    const created = await client.createService(GRID, spec(0, 'stop-first'), { deploy: true });
    await waitRollout(client, 'zd', created.deployment?.requestedAt ?? '', { timeoutMs: 60_000 });
    await waitReadyEndpoints(client, 'zd', REPLICAS);
    const vip = created.spec.clusterIP as string;
    for (const scenario of SCENARIOS) {
      const loop = new RequestLoop({ host: vip, port: 8080, path: `/?ms=${REQUEST_MS}` }, { concurrency: CONCURRENCY, timeoutMs: TIMEOUT_S * 1000 });
      loop.start();
      await sleep(MARGIN_MS);
      const t0 = performance.now();
      let end: number;
      if (scenario.startsWith('scale')) {
        await client.scale(GRID, 'zd', SCALED);
        end = await waitActive(client, 'zd', SCALED, 120_000);
      } else {
        const version = out.length + 1;
        const svc = await client.updateService(GRID, 'zd', spec(version, scenario === 'update stop-first' ? 'stop-first' : 'start-first'), { deploy: true });
        end = (await waitRollout(client, 'zd', svc.deployment?.requestedAt ?? '')).at;
      }
      await sleep(MARGIN_MS);
      out.push({ scenario, counts: await loop.stop(), operationMs: end - t0 });
    }
  } finally {
    await cleanup(berth);
  }
  return out;
}

/** The Swarm client: CONCURRENCY busybox wget loops in one container; a line per request. */
function clientScript(url: string): string {
  return `i=0; while [ $i -lt ${CONCURRENCY} ]; do
  ( while [ ! -e /tmp/stop ]; do
      if timeout ${TIMEOUT_S} wget -q -O /dev/null '${url}' 2>/tmp/err.$i; then echo ok; else echo "fail $(tr '\\n' ' ' </tmp/err.$i)"; fi
    done ) &
  i=$((i+1)); done; wait`;
}

class SwarmClientLoop {
  private ok = 0;
  private failed = 0;
  private readonly byKind: Record<string, number> = {};
  private buffer = '';

  constructor(
    private readonly proc: ChildProcess,
    private readonly name: string,
  ) {
    proc.stdout?.on('data', (c: Buffer) => {
      this.buffer += c.toString();
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        this.line(this.buffer.slice(0, nl));
        this.buffer = this.buffer.slice(nl + 1);
      }
    });
  }

  get total(): number {
    return this.ok + this.failed;
  }

  private line(l: string): void {
    if (l === 'ok') return void this.ok++;
    if (!l.startsWith('fail')) return;
    this.failed++;
    // "fail wget: can't connect to remote host (10.0.1.7): Connection refused" → "Connection refused".
    const msg = l.slice(5).trim();
    const kind = msg === '' ? `timeout (${TIMEOUT_S} s)` : (/: ([^:]+)\s*$/.exec(msg)?.[1] ?? msg).trim();
    this.byKind[kind] = (this.byKind[kind] ?? 0) + 1;
  }

  async stop(): Promise<LoopCounts> {
    const exited = new Promise<void>((r) => (this.proc.exitCode !== null ? r() : this.proc.once('exit', () => r())));
    await docker(['exec', this.name, 'touch', '/tmp/stop']);
    await Promise.race([exited, sleep(20_000)]);
    return { total: this.total, ok: this.ok, failed: this.failed, byKind: { ...this.byKind } };
  }
}

const SWARM_UPDATE: SwarmUpdateConfig = { parallelism: 2, delay: '0s', monitor: '1s', order: 'stop-first' };

async function swarmScenarios(swarm: Swarm, ipvs: boolean): Promise<Outcome[]> {
  const name = 'berth-bench-zd';
  const out: Outcome[] = [];
  await swarm.createService(name, {
    replicas: REPLICAS,
    env: { VERSION: '0' },
    overlay: ipvs ? 'vip' : 'dnsrr',
    healthCmd: 'wget -q -O /dev/null http://127.0.0.1:8080/',
    update: SWARM_UPDATE,
  });
  try {
    for (const scenario of SCENARIOS) {
      const client = new SwarmClientLoop(await swarm.runClient('berth-bench-client', clientScript(`http://${name}:8080/cgi-bin/slow?ms=${REQUEST_MS}`)), 'berth-bench-client');
      // Wait until the client's requests flow (the container started), then the margin.
      const deadline = Date.now() + 30_000;
      while (client.total === 0 && Date.now() < deadline) await sleep(100);
      await sleep(MARGIN_MS);
      const t0 = performance.now();
      let end: number;
      if (scenario.startsWith('scale')) {
        await docker(['service', 'scale', '--detach', `${name}=${SCALED}`]);
        await swarm.waitTasks(name, SCALED);
        end = performance.now();
      } else {
        const order = scenario === 'update stop-first' ? 'stop-first' : 'start-first';
        await swarm.update(name, ['--env-add', `VERSION=${out.length + 1}`, '--update-order', order]);
        end = (await swarm.waitUpdate(name)).at;
        await swarm.waitTasks(name, REPLICAS);
      }
      await sleep(MARGIN_MS);
      out.push({ scenario, counts: await client.stop(), operationMs: end - t0 });
    }
  } finally {
    await swarm.removeService(name);
  }
  return out;
}

function describe(o: Outcome): string {
  const kinds = Object.entries(o.counts.byKind).map(([k, n]) => `${n} ${k}`).join(', ');
  return `${String(o.counts.failed).padStart(4)} failed of ${String(o.counts.total).padStart(5)}${kinds ? ` (${kinds})` : ''}; the operation took ${secs(o.operationMs)}`;
}

async function main(): Promise<void> {
  const berth = await berthScenarios();
  const swarm: Swarm | string = process.env.BENCH_SWARM === '0' ? 'skipped (BENCH_SWARM=0)' : await Swarm.open();
  let swarmOut: Outcome[] = [];
  let ipvs = false;
  if (typeof swarm !== 'string') {
    try {
      ipvs = Swarm.ipvs();
      swarmOut = await swarmScenarios(swarm, ipvs);
    } finally {
      await swarm.close();
    }
  }
  console.log(`zero downtime: ${CONCURRENCY} clients without pause, a new connection per request, backends ${REQUEST_MS} ms per request (headers first) and no graceful shutdown`);
  console.log('  berth, through the virtual IP (10 replicas, readiness httpGet /healthz periodSeconds 1, parallelism 2, monitor 1s):');
  for (const o of berth) console.log(`    ${pad(o.scenario, 20)} ${describe(o)}   (goal 0) ${o.counts.failed === 0 && o.counts.total > 0 ? 'met' : 'MISSED'}`);
  if (typeof swarm === 'string') {
    console.log(`  Docker Swarm: not measured — ${swarm}`);
    return;
  }
  const how = ipvs ? 'through the service VIP on an overlay network' : 'DNS round robin (--endpoint-mode dnsrr) on an overlay network, from a client container: no IPVS in this kernel, so no VIP or ingress mesh';
  console.log(`  Docker Swarm (${swarm.description}), busybox httpd + CGI sleep, 1 s healthcheck, same update flags; ${how}:`);
  for (const o of swarmOut) console.log(`    ${pad(o.scenario, 20)} ${describe(o)}`);
}

await main();
