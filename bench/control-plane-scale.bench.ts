/**
 * The control plane at scale, issue 13 "Performance": one `berth server --store etcd://…` (a child
 * process, bin/berth → dist/) on a 1-member etcd started by test/etcd-harness.ts, 100 simulated nodes
 * in this process and one apply of a 10,000-replica service. Measured:
 *  - convergence: from the apply (POST …/services?deploy) until every instance is reported running
 *    and the API says so (the service's status counts N running; a list confirms N running and
 *    ready), with the steps between: all N instances created (seen on the watch), all N running
 *    statuses acknowledged by the API (the leader answers once etcd has them);
 *  - API latency while it runs: `show` (GET …/services/NAME, with its explanation) and `list`
 *    (GET …/services/NAME/instances, every instance), each one request at a time in a loop with a short
 *    pause, p50/p99;
 *  - the server's memory: VmRSS sampled every 250 ms from /proc/<pid>/status, and VmHWM (its peak);
 *  - etcd's own rate for the same writes, in the same run: every transaction the control plane made
 *    during the convergence is read back from etcd's history (a watch from the apply's revision;
 *    one etcd revision = one transaction), then replayed with raw etcd3 calls on another prefix —
 *    the same transactions with the same number of puts/deletes, key and value sizes and a fence
 *    compare each, one in flight ("same shape"), then 32 in flight with the commit marker last as
 *    ReplicaWriter sends them ("pipelined"), and again packed 100
 *    ops per transaction ("dense", the least time etcd needs for that many key writes).
 *    Ratio = convergence / raw time (goal ≤ 1.5×); memory goal < 1 GB.
 *
 * The simulated nodes (the fake driver: nothing runs) go through the API as `berth agent --join` does:
 * each joins with a join token (POST /v1/nodes/join), beats at the period the server answers (PUT
 * …/heartbeat), and reports each new instance of its own as starting, then running with an
 * `instance.started` event, in batches (POST …/statuses with its node credential), one report in flight
 * per node as RemoteAgentPorts sends them. They learn their assignments from ONE watch stream
 * (GET /v1/watch with a node credential) shared by the 100 nodes, lighter than the real agents' one
 * stream each (BENCH_FOLLOW=watch-each: each node its own stream, as the agents; BENCH_FOLLOW=poll: each
 * node polls GET /v1/nodes/NODE/instances every 500 ms instead).
 *
 * Needs: /usr/bin/etcd (apt-get install etcd-server), a built dist/ (npm run bench builds it).
 * Run: npm run bench -- control-plane-scale
 *      BENCH_INSTANCES=1000 BENCH_NODES=20 npm run bench -- control-plane-scale   (a quick look)
 * Also: BENCH_SERVER_ARGS (more `berth server` flags), BENCH_SERVER_NODE_ARGS (node flags of the server,
 * e.g. --cpu-prof --cpu-prof-dir=/tmp/prof), BENCH_KEEP=1 (keep the server's data dir and server.log),
 * BENCH_TIMEOUT_MS (default 15 min), BENCH_LIST=0 (no list loop: the bench's CPU is then its nodes' and `show`'s). Figures and findings: docs/benchmarks.md "Control plane at scale".
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { BerthClient } from '../src/client/index.js';
import type { NodeFacts } from '../src/client/index.js';
import type { Instance } from '../src/model/index.js';
import { startEtcd } from '../test/etcd-harness.js';
import { BIN } from '../test/e2e/harness.js';
import { lpad, pad } from './bench-tools.js';
import { DENSE_OPS, dense, history, replay } from './etcd-replay.js';
import { POLL_MS, SimNode } from './sim-node.js';

const INSTANCES = Number(process.env.BENCH_INSTANCES ?? 10_000);
const NODES = Number(process.env.BENCH_NODES ?? 100);
const FOLLOW = process.env.BENCH_FOLLOW === 'poll' ? 'poll' : process.env.BENCH_FOLLOW === 'watch-each' ? 'watch-each' : 'shared-watch';
/** BENCH_SERVER_ARGS: more `berth server` flags, e.g. "--leader-lease 15s --node-grace 30s". */
const SERVER_ARGS = (process.env.BENCH_SERVER_ARGS ?? '').split(' ').filter((a) => a !== '');
const SHOW_PAUSE_MS = 250;
const LIST_PAUSE_MS = 1000;
/** BENCH_LIST=0: no list loop (its parsing of 10,000 instances a time is then not in the bench's CPU figure). */
const LIST_LOOP = process.env.BENCH_LIST !== '0';
const PORT_BASE = 23930;
/** Transactions in flight in the pipelined replay: ReplicaWriter's default. */
const REPLAY_IN_FLIGHT = 32;
const GRID = 'default';
const SERVICE = 'scale';
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MS ?? 15 * 60_000);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const mb = (kb: number): string => `${(kb / 1024).toFixed(0)} MB`;

function percentile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

/** VmRSS and VmHWM of a process, kB (Linux /proc). */
function memoryOf(pid: number): { rssKb: number; hwmKb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssKb: field('VmRSS'), hwmKb: field('VmHWM') };
}

/** CPU time (user + system, ms) a process has used, from /proc/<pid>/stat (clock ticks of 10 ms). */
function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10; // utime, stime (fields 14 and 15 of stat)
}

interface Server {
  readonly proc: ChildProcess;
  readonly url: string;
  readonly token: string;
  stderr(): string;
  stop(): Promise<void>;
}

/** `berth server --store etcd://…` as a child; resolves once it leads (its admin token is written then). */
async function startServer(etcd: string, dataDir: string): Promise<Server> {
  if (!existsSync(join(BIN, '..', '..', 'dist', 'app', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` (npm run bench does)');
  // BENCH_SERVER_NODE_ARGS: node options for the server (e.g. --cpu-prof --cpu-prof-dir=/tmp/prof).
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const proc = spawn(process.execPath, [...nodeArgs, BIN, 'server', '--store', `etcd://${etcd.replace(/^https?:\/\//, '')}`, '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--max-replicas', String(Math.max(INSTANCES, 1000)), ...SERVER_ARGS], {
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`berth server did not lead in 30 s:\n${stderr}`)), 30_000);
    proc.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(stderr);
      if (m && /this server leads/.test(stderr)) {
        clearTimeout(timer);
        resolve(m[1] as string);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`berth server exited with ${code}:\n${stderr}`));
    });
  });
  const token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  return {
    proc,
    url,
    token,
    stderr: () => stderr,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) return;
      const pid = proc.pid;
      process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {}
      }, 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Requests one at a time with a pause, until stopped; their latencies (ms). */
function latencyLoop(op: () => Promise<unknown>, pauseMs: number): { stop: () => Promise<number[]> } {
  const ms: number[] = [];
  let running = true;
  const done = (async () => {
    while (running) {
      const t = performance.now();
      await op();
      ms.push(performance.now() - t);
      await sleep(pauseMs);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
      return ms;
    },
  };
}

async function main(): Promise<void> {
  const cluster = await startEtcd({ members: 1, portBase: PORT_BASE });
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-bench-scale-'));
  const raw = new Etcd3({ hosts: [...cluster.endpoints] });
  let server: Server | undefined;
  const nodes: SimNode[] = [];
  const abort = new AbortController();
  const timers: NodeJS.Timeout[] = [];
  try {
    server = await startServer(cluster.endpoints[0] as string, dataDir);
    const pid = server.proc.pid as number;
    const admin = new BerthClient({ baseUrl: server.url, token: server.token });
    const joinToken = (await admin.createToken({ role: 'node', name: 'bench-join' })).token;
    let running = 0;
    let allRunningAt = 0;
    let t0 = 0;
    const onRunning = (n: number): void => {
      running += n;
      if (running >= INSTANCES && allRunningAt === 0) allRunningAt = performance.now();
    };
    let created = 0;
    let allCreatedAt = 0;
    const seen = new Set<string>();
    const count = (i: Instance): void => {
      if (seen.has(i.id)) return;
      seen.add(i.id);
      if (++created >= INSTANCES && allCreatedAt === 0) allCreatedAt = performance.now();
    };
    for (let i = 0; i < NODES; i++) {
      const facts: NodeFacts = { address: `127.20.${i >> 8}.${(i & 255) + 1}`, drivers: ['process'], os: 'linux', arch: 'x86_64', capacity: { cpus: 8, memoryBytes: 32 * 2 ** 30 } };
      nodes.push(new SimNode(`sim-${String(i + 1).padStart(3, '0')}`, facts, onRunning, count));
    }
    for (let i = 0; i < nodes.length; i += 10) await Promise.all(nodes.slice(i, i + 10).map((n) => n.join(server!.url, joinToken)));
    const byName = new Map(nodes.map((n) => [n.name, n]));
    let watchBreaks = 0;
    if (FOLLOW !== 'poll') {
      // One stream for all nodes, or one per node as the agents have (each sees every change, as an
      // agent's mirror does, and offers its own node's instances).
      for (const watcher of FOLLOW === 'shared-watch' ? [nodes[0]!] : nodes) {
        let from = (await watcher.client.snapshot()).revision + 1;
        // As the agent's mirror: after a lost connection (the server closes a stream that lags), resume from the last revision seen.
        void (async () => {
          while (!abort.signal.aborted) {
            try {
              for await (const e of watcher.client.watch(from, abort.signal)) {
                from = e.revision + 1;
                if (e.kind !== 'instance' || e.op !== 'put') continue;
                count(e.object);
                if (FOLLOW === 'shared-watch') byName.get(e.object.node)?.offer(e.object);
                else if (e.object.node === watcher.name) watcher.offer(e.object);
              }
            } catch (error) {
              if (abort.signal.aborted) return;
              watchBreaks++;
              console.error(`  the watch stream of ${watcher.name} broke (${(error as Error).message}); resuming from revision ${from}`);
              await sleep(200);
            }
          }
        })();
      }
    } else {
      for (const n of nodes) n.poll();
    }
    await sleep(500);

    const before = memoryOf(pid);
    const r0 = Number((await raw.get('/bench-none').exec()).header.revision);
    let maxRssKb = before.rssKb;
    const sampler = setInterval(() => {
      try {
        maxRssKb = Math.max(maxRssKb, memoryOf(pid).rssKb);
      } catch {}
    }, 250);
    timers.push(sampler);
    let shownAt = 0;
    let lastShown = '';
    // The bench's own event-loop delay: the simulated nodes share the machine with the server and etcd.
    const lag = monitorEventLoopDelay({ resolution: 20 });
    lag.enable();
    t0 = performance.now();
    const cpu0 = cpuMsOf(pid);
    const etcdPid = cluster.pid(0) as number;
    const etcdCpu0 = cpuMsOf(etcdPid);
    const benchCpu0 = process.cpuUsage();
    const show = latencyLoop(async () => {
      const s = await admin.getService(GRID, SERVICE).catch(() => undefined);
      if (s) lastShown = `${s.status.runningInstances}/${s.status.desiredInstances} running, ${s.status.phase}`;
      if (s && s.status.runningInstances >= INSTANCES && shownAt === 0) shownAt = performance.now();
    }, SHOW_PAUSE_MS);
    const list = LIST_LOOP ? latencyLoop(() => admin.listInstances(GRID, SERVICE).catch(() => []), LIST_PAUSE_MS) : { stop: async () => [] as number[] };
    const spec = { name: SERVICE, replicas: INSTANCES, containers: [{ command: ['/bin/sleep', 'infinity'] }] };
    await admin.createService(GRID, spec, { deploy: true });
    const appliedMs = performance.now() - t0;
    const progress = setInterval(() => {
      let rss = 'gone';
      try {
        rss = mb(memoryOf(pid).rssKb);
      } catch {}
      const beats = nodes.flatMap((n) => n.beats);
      console.log(`  ${secs(performance.now() - t0)}: ${created} created, ${running} running reported; API: ${lastShown}; server RSS ${rss}; ${beats.length} heartbeats, slowest ${Math.max(0, ...beats).toFixed(0)} ms; bench event-loop delay max ${(lag.max / 1e6).toFixed(0)} ms`);
    }, 10_000);
    timers.push(progress);
    const deadline = Date.now() + TIMEOUT_MS;
    while (shownAt === 0 || allRunningAt === 0) {
      if (server.proc.exitCode !== null || server.proc.signalCode !== null) throw new Error(`the server exited (${server.proc.exitCode ?? server.proc.signalCode}) after ${secs(performance.now() - t0)}: ${created} created, ${running} running reported; API: ${lastShown}; heartbeat round trips p50 ${percentile(nodes.flatMap((n) => n.beats), 0.5).toFixed(0)} ms, max ${Math.max(0, ...nodes.flatMap((n) => n.beats)).toFixed(0)} ms`);
      if (Date.now() > deadline) throw new Error(`not converged after ${TIMEOUT_MS} ms: ${created} created, ${running} running reported; API: ${lastShown}`);
      await sleep(20);
    }
    const r1 = Number((await raw.get('/bench-none').exec()).header.revision);
    const serverCpuMs = cpuMsOf(pid) - cpu0;
    const etcdCpuMs = cpuMsOf(etcdPid) - etcdCpu0;
    const benchCpu = process.cpuUsage(benchCpu0);
    const benchCpuMs = (benchCpu.user + benchCpu.system) / 1000;
    clearInterval(progress);
    const showMs = await show.stop();
    const listMs = await list.stop();
    // Converged: the API shows every instance running, and every running status was acknowledged (in etcd).
    const converged = Math.max(shownAt, allRunningAt) - t0;
    const listed = await admin.listInstances(GRID, SERVICE, { active: true });
    const ready = listed.filter((i) => i.status.state === 'running' && i.desiredState === 'running' && (i.status.health?.ready ?? true)).length;
    if (ready !== INSTANCES) throw new Error(`the API shows ${ready} running and ready instances of ${INSTANCES} (${listed.length} active)`);
    const perNode = new Map<string, number>();
    for (const i of listed) perNode.set(i.node, (perNode.get(i.node) ?? 0) + 1);
    await sleep(3000);
    clearInterval(sampler);
    const after = memoryOf(pid);
    maxRssKb = Math.max(maxRssKb, after.rssKb);

    abort.abort();
    for (const n of nodes) n.stop();
    const endRev = Number((await raw.put('/bench-end').value('1').exec()).header.revision);
    const txns = await history(cluster.endpoints, r0, r1, endRev);
    const ops = txns.reduce((s, t) => s + t.ops.length, 0);
    const bytes = txns.reduce((s, t) => s + t.ops.reduce((b, o) => b + o.keyLen + o.valueLen, 0), 0);
    const tables = new Map<string, number>();
    for (const o of txns.flatMap((t) => t.ops)) tables.set(`${o.table}${o.del ? ' (delete)' : ''}`, (tables.get(`${o.table}${o.del ? ' (delete)' : ''}`) ?? 0) + 1);
    const sameMs = await replay(raw, txns, 'same');
    const replayCpu0 = cpuMsOf(etcdPid);
    const replayClientCpu0 = process.cpuUsage();
    const pipelinedMs = await replay(raw, txns, 'pipelined', REPLAY_IN_FLIGHT);
    const replayEtcdCpuMs = cpuMsOf(etcdPid) - replayCpu0;
    const replayClientCpu = process.cpuUsage(replayClientCpu0);
    const replayClientCpuMs = (replayClientCpu.user + replayClientCpu.system) / 1000;
    const denseTxns = dense(txns);
    const denseMs = await replay(raw, denseTxns, 'dense');
    // The writes the workload itself needs: each instance's row, as created and as it started and ran.
    const needed = dense(txns.map((t) => ({ ops: t.ops.filter((o) => o.table === 'instances') })));
    const neededMs = await replay(raw, needed, 'needed', REPLAY_IN_FLIGHT);
    const neededOps = needed.reduce((n, t) => n + t.ops.length, 0);

    console.log(`\ncontrol plane at scale: ${INSTANCES} instances over ${NODES} simulated nodes (${FOLLOW === 'shared-watch' ? 'one shared watch stream' : FOLLOW === 'watch-each' ? 'a watch stream each' : `each polling its instances every ${POLL_MS} ms`}), 1 berth server${SERVER_ARGS.length ? ` (${SERVER_ARGS.join(' ')})` : ''}, 1 etcd member`);
    const beats = nodes.flatMap((n) => n.beats);
    console.log(`  heartbeats meanwhile: ${beats.length}, round trip p50 ${percentile(beats, 0.5).toFixed(0)} ms, max ${Math.max(0, ...beats).toFixed(0)} ms; the bench's own event-loop delay p99 ${(lag.percentile(99) / 1e6).toFixed(0)} ms, max ${(lag.max / 1e6).toFixed(0)} ms`);
    if (watchBreaks > 0) console.log(`  the shared watch stream broke ${watchBreaks} time(s) and resumed`);
    console.log(`  instances per node: min ${Math.min(...perNode.values())}, max ${Math.max(...perNode.values())} over ${perNode.size} nodes`);
    console.log(`  apply answered after ${secs(appliedMs)}; all ${INSTANCES} created (seen by the nodes) after ${secs(allCreatedAt - t0)}; all running statuses acknowledged after ${secs(allRunningAt - t0)}; the API shows ${INSTANCES}/${INSTANCES} running after ${secs(shownAt - t0)}; converged (both) after ${secs(converged)}`);
    console.log(`  the server's CPU time from the apply to convergence: ${secs(serverCpuMs)} (${((100 * serverCpuMs) / converged).toFixed(0)} % of one core)`);
    const cores = availableParallelism();
    console.log(`  CPU from the apply to convergence: server ${secs(serverCpuMs)}, etcd ${secs(etcdCpuMs)}, this bench (the ${NODES} nodes and the API loops) ${secs(benchCpuMs)}; together ${((100 * (serverCpuMs + etcdCpuMs + benchCpuMs)) / (cores * converged)).toFixed(0)} % of the machine's ${cores} cores`);
    console.log(`  etcd writes by the control plane meanwhile: ${txns.length} transactions, ${ops} ops (${(ops / txns.length).toFixed(1)} per transaction), ${(bytes / 2 ** 20).toFixed(1)} MB of keys and values`);
    console.log(`    by table: ${[...tables].sort((a, b) => b[1] - a[1]).map(([t, n]) => `${t} ${n}`).join(', ')}`);
    console.log(`  CPU of the ${REPLAY_IN_FLIGHT}-in-flight replay (${secs(pipelinedMs)}): etcd ${secs(replayEtcdCpuMs)}, the etcd3 client sending it ${secs(replayClientCpuMs)}`);
    console.log(`  raw etcd3, the same transactions one in flight: ${secs(sameMs)}; ${REPLAY_IN_FLIGHT} in flight as the writer sends them: ${secs(pipelinedMs)}; packed ${DENSE_OPS} ops per transaction (${denseTxns.length} transactions): ${secs(denseMs)}`);
    // The peer is etcd's best time for these writes, whichever way of sending them was fastest.
    const best = Math.min(sameMs, pipelinedMs, denseMs);
    const ratio = converged / best;
    console.log(`  ratio convergence / raw etcd (best of the three, ${secs(best)}): ${ratio.toFixed(2)}× (goal ≤ 1.5×) ${ratio <= 1.5 ? 'MET' : 'NOT MET'}; / one in flight ${(converged / sameMs).toFixed(2)}×, / ${REPLAY_IN_FLIGHT} in flight ${(converged / pipelinedMs).toFixed(2)}×, / packed ${(converged / denseMs).toFixed(2)}×`);
    console.log(`  the instance rows alone (${neededOps} puts and deletes, what any control plane must write), packed ${DENSE_OPS} per transaction, ${REPLAY_IN_FLIGHT} in flight: ${secs(neededMs)}; convergence / that: ${(converged / neededMs).toFixed(2)}×`);
    console.log(`\n  API latency during the convergence, ms (one request at a time; pauses ${SHOW_PAUSE_MS} / ${LIST_PAUSE_MS} ms)`);
    console.log(`  ${pad('', 34)}${lpad('requests', 10)}${lpad('p50', 10)}${lpad('p99', 10)}${lpad('max', 10)}`);
    for (const [name, xs] of [
      ['show (GET …/services/NAME)', showMs],
      ...(LIST_LOOP ? [[`list (GET …/instances, up to ${INSTANCES})`, listMs] as const] : []),
    ] as const) {
      console.log(`  ${pad(name, 34)}${lpad(String(xs.length), 10)}${lpad(percentile(xs, 0.5).toFixed(1), 10)}${lpad(percentile(xs, 0.99).toFixed(1), 10)}${lpad(Math.max(...xs).toFixed(1), 10)}`);
    }
    const peakKb = Math.max(after.hwmKb, maxRssKb);
    console.log(`\n  server memory: RSS before the apply ${mb(before.rssKb)}, highest sampled ${mb(maxRssKb)}, 3 s after convergence ${mb(after.rssKb)}; peak (VmHWM) ${mb(after.hwmKb)} (goal < 1 GB) ${peakKb < 1024 * 1024 ? 'MET' : 'NOT MET'}`);
  } catch (error) {
    if (server) console.error(`server stderr (tail):\n${server.stderr().slice(-3000)}`);
    if (existsSync(join(dataDir, 'server.log'))) console.error(`server.log (tail):\n${readFileSync(join(dataDir, 'server.log'), 'utf8').slice(-6000)}`);
    if (process.env.BENCH_KEEP) console.error(`kept ${dataDir} (BENCH_KEEP)`);
    throw error;
  } finally {
    for (const t of timers) clearInterval(t);
    abort.abort();
    for (const n of nodes) n.stop();
    await server?.stop();
    raw.close();
    await cluster.stop();
    if (!process.env.BENCH_KEEP) rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
