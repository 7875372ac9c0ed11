import type { Instance } from '../src/model/index.js';
import { median } from './berth-rollouts.js';
import { appContainerOf, benchService, GRID, removeService, untilEndpoints, untilReady } from './docker-berth.js';
import type { DockerBenchContext } from './docker-bench-context.js';
import { f0, runs } from './docker-bench-context.js';
import { engine, HTTPD, PREFIX } from './docker-engine.js';
import { load, settle } from './machine-load.js';

/*
 * Part 2 of the Docker bench (docker.bench.ts says what each figure is): SIGKILL of one app container
 * of 3 ready instances → its address leaves the ready endpoints (goal < 100 ms), and → the replacement
 * ready; Docker Swarm: kill → replacement task started.
 */

/** Replicas of the failover's service. */
const FO_REPLICAS = 3;

/** Each kill's figures, ms. */
export interface FailoverFigures {
  /** kill → the address is out of the ready endpoints (client clock). */
  left: number[];
  /** kill → the app container's die event (engine clock). */
  toDie: number[];
  /** that die event → out of the endpoints. */
  dieToLeft: number[];
  /** that die event → the sandbox's die event (berth stops the sandbox before it reports the exit). */
  sandboxDie: number[];
  /** the sandbox's die event → out of the endpoints. */
  sandboxToLeft: number[];
  ready: number[];
  swarm: number[];
  loads: string[];
}

/**
 * `rounds` kills of app containers, each slot of a service once (then a fresh service). `docker-kill`:
 * the Engine API's kill (SIGKILL), as `docker kill` does; `kill-9`: SIGKILL straight to the container's
 * init process (its host pid, State.Pid), which leaves out the engine's handling of the kill request.
 */
export async function failover(ctx: DockerBenchContext, how: 'docker-kill' | 'kill-9', rounds: number): Promise<FailoverFigures> {
  const out = { left: [] as number[], toDie: [] as number[], dieToLeft: [] as number[], sandboxDie: [] as number[], sandboxToLeft: [] as number[], ready: [] as number[], swarm: [] as number[], loads: [] as string[] };
  const { client } = ctx.berth;
  const base = `dk-fo${how === 'kill-9' ? 'k' : 'd'}`;
  for (let r = 0; r < rounds; r++) {
    const name = `${base}-${Math.floor(r / FO_REPLICAS) + 1}`;
    if (r % FO_REPLICAS === 0) {
      if (r > 0) await removeService(client, `${base}-${r / FO_REPLICAS}`);
      await client.createService(GRID, benchService(name, { replicas: FO_REPLICAS, restartDelay: '1s' }), { deploy: true });
    }
    await untilReady(client, name, FO_REPLICAS, 120_000);
    await settle();
    // A slot killed once per service: a second kill would measure the restart back-off, not the failover.
    const slot = (r % FO_REPLICAS) + 1;
    const victim: Instance | undefined = (await client.listInstances(GRID, name, { active: true })).find((i) => i.slot === slot && i.status.state === 'running');
    if (!victim) throw new Error(`${name}: no running instance in slot ${slot}`);
    const id = await appContainerOf(victim.id);
    const pid = how === 'kill-9' ? (await engine.getContainer(id).inspect()).State.Pid : 0;
    out.loads.push(load());
    let killedAt = 0;
    let killedEpoch = 0;
    let leftAt = 0;
    let connected!: () => void;
    const isConnected = new Promise<void>((res) => (connected = res));
    const done = untilEndpoints(
      client,
      name,
      (e) => {
        if (killedAt === 0) return false;
        if (leftAt === 0 && !e.endpoints.some((x) => x.ip === victim.spec.address && x.ready)) leftAt = performance.now();
        return leftAt !== 0 && e.endpoints.length === FO_REPLICAS && e.endpoints.every((x) => x.ready);
      },
      { timeoutMs: 60_000, onFirst: () => connected() },
    );
    await isConnected;
    killedAt = performance.now();
    killedEpoch = Date.now();
    if (how === 'kill-9') process.kill(pid, 'SIGKILL');
    else await engine.getContainer(id).kill();
    const readyAt = await done;
    const die = ctx.events.events.find((e) => e.action === 'die' && e.id === id && e.atMs >= killedEpoch - 5);
    out.left.push(leftAt - killedAt);
    out.ready.push(readyAt - killedAt);
    out.toDie.push(die ? die.atMs - killedEpoch : NaN);
    out.dieToLeft.push(die ? leftAt - killedAt - (die.atMs - killedEpoch) : NaN);
    const sandboxDie = ctx.events.events.find((e) => e.action === 'die' && e.attributes['io.berth.instance'] === victim.id && e.attributes['io.berth.role'] === 'sandbox');
    out.sandboxDie.push(die && sandboxDie ? sandboxDie.atMs - die.atMs : NaN);
    out.sandboxToLeft.push(sandboxDie ? leftAt - killedAt - (sandboxDie.atMs - killedEpoch) : NaN);
  }
  await removeService(client, `${base}-${Math.ceil(rounds / FO_REPLICAS)}`);
  if (ctx.swarm && how === 'docker-kill') {
    const sname = `${PREFIX}-swfo`;
    await ctx.swarm.createService(sname, { replicas: FO_REPLICAS, image: ctx.imageId, args: HTTPD, restartDelay: '1s' });
    for (let r = 0; r < FO_REPLICAS; r++) {
      await ctx.swarm.waitTasks(sname, FO_REPLICAS);
      const before = await ctx.swarm.containerIds(sname);
      const victim = before[r % before.length] as string;
      const t = Date.now();
      await engine.getContainer(victim).kill();
      const at = await ctx.events.nthStart(1, t, (e) => e.attributes['com.docker.swarm.service.name'] === sname && !before.includes(e.id), 60_000);
      out.swarm.push(at - t);
    }
    await ctx.swarm.removeService(sname);
  }
  return out;
}

/** Prints the figures of the two kinds of kill (`docker-kill`, `kill-9`) with the goal. */
export function printFailover(fo: FailoverFigures, k9: FailoverFigures): void {
  const max = (xs: number[]): number => Math.max(...xs);
  console.log(`failover: SIGKILL of one of ${FO_REPLICAS} app containers (restart delay 1s), through the Engine API (docker kill) ${fo.left.length} rounds (${fo.loads.join(', ')}), to the container's init pid (kill -9) ${k9.left.length} rounds`);
  console.log(`  berth, docker kill → address leaves the ready endpoints: median ${f0(median(fo.left))} ms, max ${f0(max(fo.left))} ms   runs: ${runs(fo.left)} ms   (goal < 100 ms) ${max(fo.left) < 100 ? 'met' : 'MISSED'}`);
  console.log(`  berth, kill -9 → address leaves the ready endpoints:     median ${f0(median(k9.left))} ms, max ${f0(max(k9.left))} ms   runs: ${runs(k9.left)} ms`);
  const exitToLeft = [...fo.dieToLeft, ...k9.dieToLeft];
  console.log(`  berth, the container's exit (its die event) → out of the endpoints: median ${f0(median(exitToLeft))} ms, max ${f0(max(exitToLeft))} ms   runs: ${runs(exitToLeft)} ms   (the issue's goal: exit → out < 100 ms) ${max(exitToLeft) < 100 ? 'met' : 'MISSED'}`);
  console.log(`    docker kill → the engine's die event: ${runs(fo.toDie)} ms; kill -9 → die event: ${runs(k9.toDie)} ms (the engine's own exit handling)`);
  console.log(`    die → the sandbox's die event: ${runs([...fo.sandboxDie, ...k9.sandboxDie])} ms; the sandbox's die → out of the endpoints: ${runs([...fo.sandboxToLeft, ...k9.sandboxToLeft])} ms`);
  console.log(`    (negative: the instance left the endpoints before its sandbox was stopped)`);
  console.log(`  berth, kill → replacement ready (3 ready endpoints again): median ${f0(median([...fo.ready, ...k9.ready]))} ms   runs: ${runs([...fo.ready, ...k9.ready])} ms`);
  if (fo.swarm.length > 0) console.log(`  Docker Swarm (--restart-delay 1s), docker kill → replacement task started: median ${f0(median(fo.swarm))} ms   runs: ${runs(fo.swarm)} ms`);
}
