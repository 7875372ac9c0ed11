import { writeFileSync } from 'node:fs';
import { median, secs, waitRollout } from './berth-rollouts.js';
import { benchService, GRID, NETWORK, removeService, untilReady } from './docker-berth.js';
import type { DockerBenchContext } from './docker-bench-context.js';
import { ROUNDS } from './docker-bench-context.js';
import { HTTPD, PREFIX, removeNamed, rollParallel } from './docker-engine.js';
import { load, settle } from './machine-load.js';

/*
 * Part 3 of the Docker bench (docker.bench.ts says what each figure is): a rolling update of 10
 * replicas (parallelism 2, delay 0s, monitor 1s, stop-first), berth against its floor (plain containers
 * replaced 2 at a time) and Docker Swarm's same update. Goal: ≤ 1.3 × the floor.
 */

/** Each round's figures, ms. */
export interface RolloutFigures { berth: number[]; berthServer: number[]; floor: number[]; swarm: number[]; loads: string[] }

const ROLL_REPLICAS = 10;
const ROLL_PARALLELISM = 2;
const ROLL_MONITOR_MS = 1000;

/** `ROUNDS` updates of one service (an env change each), each followed by the floor's and Swarm's. */
export async function rollout(ctx: DockerBenchContext): Promise<RolloutFigures> {
  const out = { berth: [] as number[], berthServer: [] as number[], floor: [] as number[], swarm: [] as number[], loads: [] as string[] };
  const { client } = ctx.berth;
  const update = { parallelism: ROLL_PARALLELISM, monitor: `${ROLL_MONITOR_MS / 1000}s` };
  const name = 'dk-roll';
  await client.createService(GRID, benchService(name, { replicas: ROLL_REPLICAS, update, env: { VERSION: '0' } }), { deploy: true });
  await untilReady(client, name, ROLL_REPLICAS, 120_000);
  const sname = `${PREFIX}-swroll`;
  if (ctx.swarm) {
    await ctx.swarm.createService(sname, {
      replicas: ROLL_REPLICAS,
      image: ctx.imageId,
      args: HTTPD,
      env: { VERSION: '0' },
      update: { parallelism: ROLL_PARALLELISM, delay: '0s', monitor: `${ROLL_MONITOR_MS / 1000}s`, order: 'stop-first' },
    });
  }
  for (let r = 1; r <= ROUNDS; r++) {
    await settle();
    out.loads.push(load());
    const t0 = performance.now();
    const t0Epoch = Date.now();
    const svc = await client.updateService(GRID, name, benchService(name, { replicas: ROLL_REPLICAS, update, env: { VERSION: String(r) } }), { deploy: true });
    const { at, update: status } = await waitRollout(client, name, svc.deployment?.requestedAt ?? '', { timeoutMs: 180_000 });
    out.berth.push(at - t0);
    if (process.env.BENCH_TIMELINE) dumpTimeline(ctx, name, t0Epoch, `${process.env.BENCH_TIMELINE}-roll-r${r}.json`);
    out.berthServer.push(status.completedAt ? Date.parse(status.completedAt) - Date.parse(status.startedAt) : NaN);
    await untilReady(client, name, ROLL_REPLICAS, 60_000);
    await settle();
    out.floor.push(await rollParallel(ROLL_REPLICAS, ROLL_PARALLELISM, ROLL_MONITOR_MS, NETWORK, `roll-r${r}`));
    await removeNamed(`${PREFIX}-roll-r${r}-`);
    if (ctx.swarm) {
      await settle();
      const t = performance.now();
      await ctx.swarm.update(sname, ['--env-add', `VERSION=${r}`]);
      const done = await ctx.swarm.waitUpdate(sname);
      out.swarm.push(done.at - t);
      await ctx.swarm.waitTasks(sname, ROLL_REPLICAS);
    }
  }
  await removeService(client, name);
  if (ctx.swarm) await ctx.swarm.removeService(sname);
  return out;
}

/** BENCH_TIMELINE: writes the engine's events of the service since `sinceEpoch` (ms after it) to `file`, for reading where a rollout's time went. */
function dumpTimeline(ctx: DockerBenchContext, service: string, sinceEpoch: number, file: string): void {
  const rows = ctx.events.events
    .filter((e) => e.atMs >= sinceEpoch && e.attributes['io.berth.service'] === service)
    .map((e) => ({ ms: Math.round(e.atMs - sinceEpoch), action: e.action, container: e.name }));
  writeFileSync(file, JSON.stringify(rows, null, 1));
}

/** Prints the figures of `rollout` with the ratio to the goal. */
export function printRollout(ro: RolloutFigures): void {
  const b = median(ro.berth);
  const fl = median(ro.floor);
  console.log(`rolling update of ${ROLL_REPLICAS} container replicas, parallelism ${ROLL_PARALLELISM}, delay 0s, monitor ${ROLL_MONITOR_MS / 1000}s, stop-first (env change); ${ROUNDS} rounds (${ro.loads.join(', ')})`);
  console.log(`  floor: plain containers replaced ${ROLL_PARALLELISM} at a time (docker stop + docker run -d, then ${ROLL_MONITOR_MS} ms): median ${secs(fl)}   runs: ${ro.floor.map(secs).join(', ')}`);
  console.log(`  berth, deploy request → update completed: median ${secs(b)}   runs: ${ro.berth.map(secs).join(', ')}; the server's own startedAt → completedAt: ${ro.berthServer.map(secs).join(', ')}`);
  console.log(`  ratio berth / floor: ${(b / fl).toFixed(2)}x   (goal ≤ 1.30x) ${b / fl <= 1.3 ? 'met' : 'MISSED'}`);
  if (ro.swarm.length > 0) console.log(`  Docker Swarm, same update (--env-add) → UpdateStatus completed: median ${secs(median(ro.swarm))}   runs: ${ro.swarm.map(secs).join(', ')};  berth / Swarm ${(b / median(ro.swarm)).toFixed(2)}x`);
}
