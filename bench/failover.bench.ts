/**
 * Failover, issue 4 "Performance": 3 replicas of bench/tiny-http.c with a readiness probe (httpGet /,
 * periodSeconds 1) and restartPolicy {delay: 1s}; kill -9 of one instance's process (its pid from
 * the instance's status.containers[].pid, as `berth service ps` shows it). Measured on the endpoints'
 * follow stream (GET …/endpoints?follow=true, NDJSON), from the kill:
 *  - until the killed address is no longer a ready endpoint (goal < 100 ms);
 *  - until 3 ready endpoints again: the replacement is ready (goal: restart delay + start + 200 ms,
 *    start = the replacement's created → started, from its status).
 * Each service takes 3 kills, one per slot, then a fresh one: a slot killed twice would back off
 * (delay doubles per consecutive restart, Kubernetes' rule) and measure the back-off, not the failover.
 *
 * Docker Swarm, same run: 3 busybox httpd tasks, kill -9 of a task's container process (docker
 * inspect → State.Pid), until the replacement container starts (its `start` event on `docker events`,
 * the daemon's timestamp); with Swarm's default restart delay (5 s) and with --restart-delay 1s.
 *
 * Run: npm run bench -- failover   (BENCH_ROUNDS=6 by default; BENCH_SWARM=0 skips Swarm)
 */
import type { BerthClient } from '../src/client/index.js';
import type { Instance, ServiceEndpoints } from '../src/model/index.js';
import { cleanup, GRID, median, ms, startBenchBerth, tinyHttpSpec, waitReadyEndpoints, waitRollout } from './berth-rollouts.js';
import { Swarm, type DockerEvent } from './swarm.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const SWARM_ROUNDS = Number(process.env.BENCH_SWARM_ROUNDS ?? 3);
const RESTART_DELAY_MS = 1000;
const REPLICAS = 3;

interface BerthRound {
  /** Kill → the address is no longer a ready endpoint (client clock, follow stream). */
  readonly leftMs: number;
  /** Kill → 3 ready endpoints again. */
  readonly readyMs: number;
  /** The replacement's created → started (its status), the "start" of the goal. */
  readonly startMs: number;
  /** The back-off the controller applied: restart delay × 2^restarts of the killed instance. */
  readonly delayMs: number;
}

/** tiny-http behind a service port; the restart delay is RESTART_DELAY_MS. */
function spec(name: string) {
  return { ...tinyHttpSpec(name, REPLICAS), restartPolicy: { delay: `${RESTART_DELAY_MS / 1000}s` }, ports: [{ port: 8080 }] };
}

const readyCount = (e: ServiceEndpoints): number => e.endpoints.filter((x) => x.ready).length;

async function killOne(client: BerthClient, name: string, victim: Instance): Promise<BerthRound> {
  const pid = victim.status.containers?.[0]?.pid;
  if (pid === undefined) throw new Error(`${victim.id} shows no pid`);
  const abort = new AbortController();
  let killedAt = 0;
  let leftAt = 0;
  let readyAt = 0;
  let sawFirst!: () => void;
  const first = new Promise<void>((r) => (sawFirst = r));
  const follow = (async () => {
    try {
      for await (const e of client.followEndpoints(GRID, name, { signal: abort.signal })) {
        const now = performance.now();
        sawFirst();
        if (killedAt === 0) continue;
        if (leftAt === 0 && !e.endpoints.some((x) => x.ip === victim.spec.address && x.ready)) leftAt = now;
        if (leftAt !== 0 && readyCount(e) === REPLICAS && e.endpoints.length === REPLICAS) {
          readyAt = now;
          return;
        }
      }
    } catch (e) {
      if (!abort.signal.aborted) throw e;
    }
  })();
  await first;
  killedAt = performance.now();
  process.kill(pid, 'SIGKILL');
  const timeout = setTimeout(() => abort.abort(), 30_000);
  await follow;
  clearTimeout(timeout);
  abort.abort();
  if (readyAt === 0) throw new Error(`${name}: no replacement for ${victim.id} became ready within 30 s`);
  const replacement = (await client.listInstances(GRID, name, { active: true })).find((i) => i.slot === victim.slot);
  const startMs = replacement?.status.startedAt ? Date.parse(replacement.status.startedAt) - Date.parse(replacement.createdAt) : NaN;
  return { leftMs: leftAt - killedAt, readyMs: readyAt - killedAt, startMs, delayMs: RESTART_DELAY_MS * 2 ** victim.restarts };
}

async function berthRounds(): Promise<BerthRound[]> {
  const berth = await startBenchBerth('127.11.61.0/24');
  const { client } = berth;
  const rounds: BerthRound[] = [];
  try {
    for (let r = 0; r < ROUNDS; r++) {
      const name = `failover-${Math.floor(r / REPLICAS) + 1}`;
      if (r % REPLICAS === 0) {
        if (r > 0) await client.removeService(GRID, `failover-${r / REPLICAS}`);
        const svc = await client.createService(GRID, spec(name), { deploy: true });
        await waitRollout(client, name, svc.deployment?.requestedAt ?? '', { timeoutMs: 60_000 });
      }
      await waitReadyEndpoints(client, name, REPLICAS);
      // Let the service settle (the last probe results written) before the next kill.
      await new Promise((res) => setTimeout(res, 500));
      const slot = (r % REPLICAS) + 1;
      const victim = (await client.listInstances(GRID, name, { active: true })).find((i) => i.slot === slot && i.status.state === 'running');
      if (!victim) throw new Error(`${name}: no running instance in slot ${slot}`);
      rounds.push(await killOne(client, name, victim));
    }
  } finally {
    await cleanup(berth);
  }
  return rounds;
}

interface SwarmRound {
  /** kill → the killed container's `die` event. */
  readonly dieMs: number;
  /** kill → a new container of the service `start`s. */
  readonly runningMs: number;
}

async function swarmRounds(swarm: Swarm, name: string, restartDelay: string | undefined): Promise<SwarmRound[]> {
  await swarm.createService(name, { replicas: REPLICAS, ...(restartDelay === undefined ? {} : { restartDelay }) });
  const events: DockerEvent[] = [];
  const stream = swarm.containerEvents(name, (e) => events.push(e));
  const rounds: SwarmRound[] = [];
  try {
    await new Promise((r) => setTimeout(r, 1000)); // the events stream is connected
    for (let r = 0; r < SWARM_ROUNDS; r++) {
      await swarm.waitTasks(name, REPLICAS);
      const before = await swarm.containerIds(name);
      const victim = before[r % before.length] as string;
      const pid = await swarm.pidOf(victim);
      const killedAt = Date.now();
      process.kill(pid, 'SIGKILL');
      const deadline = Date.now() + 60_000;
      let started: DockerEvent | undefined;
      while (!started && Date.now() < deadline) {
        started = events.find((e) => e.action === 'start' && e.atMs >= killedAt && !before.includes(e.container));
        if (!started) await new Promise((res) => setTimeout(res, 20));
      }
      if (!started) throw new Error(`swarm ${name}: no replacement started within 60 s`);
      const died = events.find((e) => e.action === 'die' && e.container === victim && e.atMs >= killedAt);
      rounds.push({ dieMs: died ? died.atMs - killedAt : NaN, runningMs: started.atMs - killedAt });
    }
  } finally {
    stream.stop();
    await swarm.removeService(name);
  }
  return rounds;
}

const stat = (xs: readonly number[]): string => `median ${ms(median(xs))}, max ${ms(Math.max(...xs))}`;

async function main(): Promise<void> {
  const berth = await berthRounds();
  const swarm: Swarm | string = process.env.BENCH_SWARM === '0' ? 'skipped (BENCH_SWARM=0)' : await Swarm.open();
  let swarmDefault: SwarmRound[] = [];
  let swarmOneSecond: SwarmRound[] = [];
  if (typeof swarm !== 'string') {
    try {
      swarmDefault = await swarmRounds(swarm, 'berth-bench-failover-def', undefined);
      swarmOneSecond = await swarmRounds(swarm, 'berth-bench-failover-1s', '1s');
    } finally {
      await swarm.close();
    }
  }

  const left = berth.map((r) => r.leftMs);
  const ready = berth.map((r) => r.readyMs);
  const overGoal = berth.map((r) => r.readyMs - (r.delayMs + r.startMs + 200));
  console.log(`failover: kill -9 of one of ${REPLICAS} tiny-http instances (readiness httpGet periodSeconds 1, restart delay ${RESTART_DELAY_MS} ms); ${berth.length} rounds`);
  console.log(`  berth, kill → address leaves the ready endpoints:   ${stat(left)}   runs: ${left.map((x) => x.toFixed(0)).join(', ')} ms   (goal < 100 ms) ${Math.max(...left) < 100 ? 'met' : 'MISSED'}`);
  console.log(`  berth, kill → replacement ready (3 ready endpoints): ${stat(ready)}   runs: ${ready.map((x) => x.toFixed(0)).join(', ')} ms`);
  console.log(`    the replacement's start (created → started): ${berth.map((r) => r.startMs.toFixed(0)).join(', ')} ms; restart delay applied: ${[...new Set(berth.map((r) => r.delayMs))].join(', ')} ms`);
  console.log(`    minus the goal (delay + start + 200 ms), per round: ${overGoal.map((x) => (x > 0 ? '+' : '') + x.toFixed(0)).join(', ')} ms   (goal ≤ 0) ${Math.max(...overGoal) <= 0 ? 'met' : 'MISSED'}`);
  if (typeof swarm === 'string') {
    console.log(`  Docker Swarm: not measured — ${swarm}`);
    console.log('  (issue 4 reports for this machine: about 5.8 s until Swarm runs a replacement)');
    return;
  }
  const sd = swarmDefault.map((r) => r.runningMs);
  const s1 = swarmOneSecond.map((r) => r.runningMs);
  console.log(`  Docker Swarm (${swarm.description}), 3 busybox httpd tasks, kill -9 of State.Pid → replacement container started (docker events):`);
  console.log(`    default restart delay (5 s): ${stat(sd)}   runs: ${sd.map((x) => x.toFixed(0)).join(', ')} ms; kill → die event ${swarmDefault.map((r) => r.dieMs.toFixed(0)).join(', ')} ms`);
  console.log(`    --restart-delay 1s:          ${stat(s1)}   runs: ${s1.map((x) => x.toFixed(0)).join(', ')} ms; kill → die event ${swarmOneSecond.map((r) => r.dieMs.toFixed(0)).join(', ')} ms`);
  console.log(`  ratio berth (replacement ready) / Swarm (replacement running), both 1 s delay: ${(median(ready) / median(s1)).toFixed(2)}x; against Swarm's default: ${(median(ready) / median(sd)).toFixed(2)}x`);
}

await main();
