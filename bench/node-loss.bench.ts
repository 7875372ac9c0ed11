/**
 * Node loss, issue 13 "Performance": a server and two agents of "other machines" (`berth agent
 * --join`, all on loopback), 6 replicas of bench/tiny-http.c with a readiness probe (period 1 s)
 * spread over the three nodes; SIGKILL of one agent. Measured from the kill, on the server's API:
 *  - until its node is down (the node grace: `--node-grace`, 10 s by default as Swarm's);
 *  - until every slot of that node has a ready replacement on another node (all replacements ready).
 * Rounds run with the default grace and with 5 s, Swarm's dispatcher heartbeat period.
 *
 * Docker Swarm is not run: a multi-node Swarm needs a daemon per node (network namespaces and three
 * dockerd here). Its documented behaviour is the peer: a node is down after its heartbeat period
 * (5 s, `--dispatcher-heartbeat`) is missed, then its tasks are rescheduled and started, so
 * "5 s + restart"; the restart is taken as berth's own replacement time for the comparison.
 *
 * Run: npm run bench -- node-loss   (BENCH_ROUNDS=2 per grace by default)
 */
import { rmSync } from 'node:fs';
import type { BerthClient } from '../src/client/index.js';
import type { RunningAgent } from '../test/e2e/agent-harness.js';
import { killAgent, spawnAgent } from '../test/e2e/agent-harness.js';
import { alive, startBerth, tempDir } from '../test/e2e/harness.js';
import { cleanup, GRID, median, secs, tinyHttpSpec } from './berth-rollouts.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const REPLICAS = 6;
const SWARM_HEARTBEAT_MS = 5000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** SIGKILL of a leftover instance's process group (its pid leads one), else the process. */
function quietKill(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

/** Ready instances of the service, by slot, with their node. */
async function readySlots(client: BerthClient, name: string): Promise<{ slot: number; node: string; id: string }[]> {
  const list = await client.listInstances(GRID, name, { active: true });
  return list.filter((i) => i.desiredState === 'running' && i.status.state === 'running' && i.status.health?.ready === true).map((i) => ({ slot: i.slot, node: i.node, id: i.id }));
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(20);
  }
}

interface Round {
  readonly graceMs: number;
  readonly lost: number;
  readonly downMs: number;
  readonly replacedMs: number;
}

async function round(graceMs: number, k: number): Promise<Round> {
  const berth = await startBerth({ instanceRange: `127.11.6${k % 10}.0/24`, args: ['--node-grace', `${graceMs / 1000}s`] });
  const agents: RunningAgent[] = [];
  const dirs: string[] = [];
  let victimPids: number[] = [];
  try {
    const joinToken = (await berth.client.createToken({ role: 'node', name: 'join' })).token;
    for (const name of ['vm-a', 'vm-b']) {
      const dir = tempDir('berth-bench-agent-');
      dirs.push(dir);
      agents.push(await spawnAgent(berth, name, joinToken, dir));
    }
    const name = `loss${k}`;
    await berth.client.createService(GRID, tinyHttpSpec(name, REPLICAS), { deploy: true });
    const before = await until('6 ready', async () => {
      const r = await readySlots(berth.client, name);
      return r.length === REPLICAS ? r : undefined;
    }, 60_000);
    const victim = agents[0] as RunningAgent;
    const lostSlots = before.filter((r) => r.node === victim.name).map((r) => r.slot);
    // Its processes outlive the SIGKILLed agent: stopped below by the agent's return (fencing), else by pid.
    victimPids = (await berth.client.listInstances(GRID, name, { active: true })).filter((i) => i.node === victim.name).flatMap((i) => (i.status.containers ?? []).map((c) => c.pid)).filter((p): p is number => p !== undefined);
    if (lostSlots.length === 0) throw new Error(`no instance on ${victim.name}: ${JSON.stringify(before)}`);
    const t0 = performance.now();
    await killAgent(victim, 'SIGKILL');
    const downMs = await until('node down', async () => ((await berth.client.nodes()).find((n) => n.name === victim.name)?.ready === false ? performance.now() - t0 : undefined), graceMs + 10_000);
    const replacedMs = await until('replacements ready', async () => {
      const r = await readySlots(berth.client, name);
      const ok = lostSlots.every((s) => r.some((x) => x.slot === s && x.node !== victim.name));
      return ok ? performance.now() - t0 : undefined;
    }, graceMs + 30_000);
    // The agent comes back: it stops the instances that were replaced (no slot runs twice).
    agents[0] = await spawnAgent(berth, victim.name, undefined, victim.dataDir);
    await until('the replaced instances stopped', async () => (victimPids.every((p) => !alive(p)) ? true : undefined), 15_000);
    return { graceMs, lost: lostSlots.length, downMs, replacedMs };
  } finally {
    for (const p of victimPids) if (alive(p)) quietKill(p);
    await cleanup(berth).catch(() => undefined);
    for (const a of agents) await killAgent(a, 'SIGTERM');
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

const results: Round[] = [];
let k = 0;
for (const graceMs of [10_000, 5_000]) {
  for (let i = 0; i < ROUNDS; i++) {
    const r = await round(graceMs, k++);
    results.push(r);
    console.log(`grace ${secs(graceMs)}: ${r.lost} instance(s) lost; node down after ${secs(r.downMs)}, all replacements ready after ${secs(r.replacedMs)} (${secs(r.replacedMs - r.downMs)} after down)`);
  }
}
for (const graceMs of [10_000, 5_000]) {
  const rs = results.filter((r) => r.graceMs === graceMs);
  const down = median(rs.map((r) => r.downMs));
  const replaced = median(rs.map((r) => r.replacedMs));
  const restart = median(rs.map((r) => r.replacedMs - r.downMs));
  const swarm = SWARM_HEARTBEAT_MS + restart;
  console.log(
    `berth, --node-grace ${secs(graceMs)}: kill → down ${secs(down)} (median), kill → all replacements ready ${secs(replaced)}; ` +
      `Swarm documented: ${secs(SWARM_HEARTBEAT_MS)} heartbeat + the same restart = ${secs(swarm)}; ratio ${(replaced / swarm).toFixed(2)}×`,
  );
}
