import { ensurePauseImage } from '../src/drivers/docker/pause-image.js';
import { median } from './berth-rollouts.js';
import { benchService, GRID, NETWORK, removeService, untilEndpoints } from './docker-berth.js';
import type { DockerBenchContext } from './docker-bench-context.js';
import { f0, ROUNDS, runs } from './docker-bench-context.js';
import { cpuMsOf, engine, HTTPD, IMAGE, pidOfProgram, podsParallel, PREFIX, removeNamed, runParallel } from './docker-engine.js';
import { load, settle } from './machine-load.js';

/*
 * Part 1 of the Docker bench (docker.bench.ts says what each figure is): converge N replicas, berth
 * against Docker Swarm and against the floors (N `docker run -d` at once, on berth's network and on
 * docker0, and N berth-shaped instances made straight through the Engine API).
 */

/** Each round's figures, ms. */
export interface ConvergeFigures {
  floorCli: number[];
  floorBridge: number[];
  floorPods: number[];
  berthReady: number[];
  berthStarted: number[];
  berthServer: number[];
  swarm: number[];
  /** Swarm's tasks on an attachable overlay network with DNS round robin (service discovery, as berth gives). */
  swarmOverlay: number[];
  loads: string[];
  /** CPU ms of the berth server process while berth converged. */
  berthServerCpu: number[];
  /** CPU ms of dockerd while berth converged, and while the pod floor ran (same containers). */
  dockerdBerth: number[];
  dockerdPods: number[];
  /** deploy → the engine's first create event of the service. */
  berthFirstCreate: number[];
}

/** `ROUNDS` rounds of converging `n` replicas, each variant once per round, interleaved. */
export async function converge(ctx: DockerBenchContext, n: number): Promise<ConvergeFigures> {
  const f: ConvergeFigures = { floorCli: [], floorBridge: [], floorPods: [], berthReady: [], berthStarted: [], berthServer: [], swarm: [], swarmOverlay: [], loads: [], berthServerCpu: [], dockerdBerth: [], dockerdPods: [], berthFirstCreate: [] };
  const dockerd = pidOfProgram('dockerd');
  const dockerdCpu = (): number => (dockerd ? cpuMsOf(dockerd) : NaN);
  const serverPid = ctx.berth.proc.pid as number;
  const { client } = ctx.berth;
  const pause = await ensurePauseImage(engine);
  const addresses = Array.from({ length: n }, (_, i) => `10.230.200.${i + 2}`);
  for (let r = 1; r <= ROUNDS; r++) {
    await settle();
    f.loads.push(load());
    f.floorCli.push((await runParallel(ctx.events, n, NETWORK, `cli${n}-r${r}`)).startedMs);
    await removeNamed(`${PREFIX}-cli${n}-r${r}-`);
    await settle();
    f.floorBridge.push((await runParallel(ctx.events, n, 'bridge', `br${n}-r${r}`)).startedMs);
    await removeNamed(`${PREFIX}-br${n}-r${r}-`);
    await settle();
    const podCpu0 = dockerdCpu();
    f.floorPods.push((await podsParallel(ctx.events, n, NETWORK, pause, addresses, `pod${n}-r${r}`)).startedMs);
    f.dockerdPods.push(dockerdCpu() - podCpu0);
    await removeNamed(`${PREFIX}-pod${n}-r${r}-`);
    await settle();

    const name = `dk-conv${n}-r${r}`;
    await client.createService(GRID, benchService(name, { replicas: n }));
    let connected!: () => void;
    const isConnected = new Promise<void>((res) => (connected = res));
    const ready = untilEndpoints(client, name, (e) => e.endpoints.length === n && e.endpoints.every((x) => x.ready), { onFirst: () => connected() });
    await isConnected;
    const cpu0 = { server: cpuMsOf(serverPid), dockerd: dockerdCpu() };
    const t0 = performance.now();
    const t0Epoch = Date.now();
    await client.deploy(GRID, name);
    f.berthReady.push((await ready) - t0);
    f.berthServerCpu.push(cpuMsOf(serverPid) - cpu0.server);
    f.dockerdBerth.push(dockerdCpu() - cpu0.dockerd);
    const firstCreate = ctx.events.events.find((e) => e.action === 'create' && e.atMs >= t0Epoch && e.attributes['io.berth.service'] === name);
    f.berthFirstCreate.push(firstCreate ? firstCreate.atMs - t0Epoch : NaN);
    const started = await ctx.events.nthStart(n, t0Epoch, (e) => e.attributes['io.berth.service'] === name && e.attributes['io.berth.role'] === 'container');
    f.berthStarted.push(started - t0Epoch);
    let serverMs = NaN;
    for await (const e of client.events(GRID, name)) if (e.type === 'service.converged') serverMs = Number(e.data?.convergedAfterMs);
    f.berthServer.push(serverMs);
    await removeService(client, name);
    await settle();

    if (ctx.swarm) {
      const sname = `${PREFIX}-sw${n}-r${r}`;
      const t = Date.now();
      // Timed from the engine's events: polling `docker ps` meanwhile would take CPU from the engine.
      await ctx.swarm.createService(sname, { replicas: n, image: ctx.imageId, args: HTTPD, noWait: true });
      const last = await ctx.events.nthStart(n, t, (e) => e.attributes['com.docker.swarm.service.name'] === sname);
      f.swarm.push(last - t);
      await ctx.swarm.waitTasks(sname, n);
      await ctx.swarm.removeService(sname);
      await settle();
      const oname = `${PREFIX}-swo${n}-r${r}`;
      await ctx.swarm.network(); // made once, outside the timing
      const to = Date.now();
      await ctx.swarm.createService(oname, { replicas: n, image: ctx.imageId, args: HTTPD, overlay: 'dnsrr', noWait: true });
      const lastO = await ctx.events.nthStart(n, to, (e) => e.attributes['com.docker.swarm.service.name'] === oname);
      f.swarmOverlay.push(lastO - to);
      await ctx.swarm.waitTasks(oname, n);
      await ctx.swarm.removeService(oname);
      await settle();
    }
  }
  return f;
}

/** Prints the figures of `converge` with the ratios to the goals (berth ≤ 1.3 × the docker run floor, ≤ 0.5 × Swarm). */
export function printConverge(n: number, f: ConvergeFigures, swarmNote: string): void {
  const m = (xs: number[]): string => `median ${f0(median(xs))} ms (best ${f0(Math.min(...xs))})   runs: ${runs(xs)}`;
  console.log(`converge ${n} replicas of busybox httpd (${IMAGE}, --init), request → all running; ${ROUNDS} rounds (machine before each round: ${f.loads.join('; ')})`);
  console.log(`  floor: ${n} × docker run -d at once, berth's network (${NETWORK}):   ${m(f.floorCli)}`);
  console.log(`  floor: ${n} × docker run -d at once, docker0 (Swarm's network):    ${m(f.floorBridge)}`);
  console.log(`  floor: ${n} berth-shaped instances (sandbox + app) via the API:     ${m(f.floorPods)}`);
  console.log(`  berth, deploy → ${n} ready endpoints:                               ${m(f.berthReady)}`);
  console.log(`  berth, deploy → ${n}th app container started (engine event):         ${m(f.berthStarted)}; the server's own convergedAfterMs: ${runs(f.berthServer)}`);
  if (f.swarm.length > 0) {
    console.log(`  Docker Swarm, service create → ${n}th task started (engine event):   ${m(f.swarm)}`);
    console.log(`  Docker Swarm, same on an overlay network (dnsrr; discovery by name): ${m(f.swarmOverlay)}`);
  }
  else console.log(`  Docker Swarm: not measured — ${swarmNote}`);
  const b = median(f.berthReady);
  const ratio = (x: number, goal: number): string => `${x.toFixed(2)}x (goal ≤ ${goal.toFixed(2)}x) ${x <= goal ? 'met' : 'MISSED'}`;
  console.log(`  ratio berth / docker run floor (medians):   ${ratio(b / median(f.floorCli), 1.3)}`);
  if (f.swarm.length > 0) {
    console.log(`  ratio berth / Swarm (medians):              ${ratio(b / median(f.swarm), 0.5)}`);
    console.log(`  ratio berth / Swarm on an overlay network:  ${(b / median(f.swarmOverlay)).toFixed(2)}x`);
  }
  console.log(`  for the why: deploy → the engine's first create of the service: ${runs(f.berthFirstCreate)} ms; berth server CPU while converging: ${runs(f.berthServerCpu)} ms; dockerd CPU while berth converged: ${runs(f.dockerdBerth)} ms, while the pod floor ran: ${runs(f.dockerdPods)} ms`);
  console.log(`               berth / pod floor ${(b / median(f.floorPods)).toFixed(2)}x; pod floor / docker run floor ${(median(f.floorPods) / median(f.floorCli)).toFixed(2)}x; docker run on berth's network / on docker0 ${(median(f.floorCli) / median(f.floorBridge)).toFixed(2)}x`);
}
