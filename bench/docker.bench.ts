/**
 * The Docker driver, issue 10 "Performance", next to Docker Swarm and to plain `docker run` on the same
 * engine in the same run. Every container runs busybox httpd on :8080 from busybox:local
 * (scripts/build-images.sh) under Docker's init; a berth instance is a pause sandbox plus the app
 * container in its network namespace (docs/drivers.md), a Swarm task and a floor container one
 * container each.
 *  1. Converge 30 (and 10) replicas, from the request until all run. berth: deploy → N ready endpoints
 *     (the endpoints' follow stream; the goal's figure) and → the N-th app container's `start` event
 *     (the engine's clock); Swarm: `docker service create --replicas N` → the N-th task container's
 *     `start` event; floors: N `docker run -d` at once on berth's network (the issue's floor), the same
 *     on docker0 (Swarm's network), and N berth-shaped instances (sandbox + app) made straight through the
 *     Engine API without berth. Goals: berth ≤ 0.5 × Swarm, ≤ 1.3 × the `docker run` floor.
 *  2. Failover: `docker kill` (SIGKILL, Engine API) of one app container of 3 ready instances → its
 *     address leaves the ready endpoints (goal < 100 ms), split into kill → the engine's `die` event
 *     and die → out of the endpoints; and → the replacement ready. Swarm: kill → replacement started.
 *  3. Rolling update of 10 replicas, parallelism 2, delay 0s, monitor 1s, stop-first (an env change),
 *     against its floor: 10 plain containers replaced 2 at a time (docker stop, docker run -d, then
 *     the 1 s monitor per batch). Goal ≤ 1.3 × the floor. Swarm: the same update.
 *  0. Profile: where one start's time goes — each engine call of a plain container (on berth's network,
 *     on docker0, without a network) and of berth's instance (sandbox, app, command check), timed
 *     over 5 starts one after another.
 *  4. Idle: the server's own CPU (utime + stime of its process and its proxy relay) over 30 s with 50
 *     running instances (100 containers with the sandboxes); goal < 1 %. dockerd's CPU alongside.
 * The machine is shared: before every round the bench waits 3 s doing nothing and prints how busy the
 * cores were meanwhile (other people's work) with the 1-minute load average (which also counts the
 * bench's own last seconds); each figure is the median (and best) of BENCH_ROUNDS rounds, the
 * variants interleaved round by round.
 *
 * Run: npm run bench -- docker   (BENCH_ROUNDS=3 by default; BENCH_SWARM=0 skips Swarm;
 *      BENCH_PARTS=converge,failover,rollout,idle picks parts; BENCH_SIZES=30,10 the converge sizes)
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { ensurePauseImage } from '../src/drivers/docker/pause-image.js';
import type { Instance } from '../src/model/index.js';
import { cleanup, median, secs, waitRollout } from './berth-rollouts.js';
import { appContainerOf, benchService, GRID, leftBehind, NETWORK, removeService, startDockerBerth, untilEndpoints, untilReady } from './docker-berth.js';
import { cpuMsOf, dockerCli, engine, EngineEvents, HTTPD, IMAGE, loadAverage, pidOfProgram, podsParallel, PREFIX, profileStarts, removeIds, removeNamed, rollParallel, runParallel } from './docker-engine.js';
import { load, settle } from './machine-load.js';
import { Swarm } from './swarm.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SIZES = (process.env.BENCH_SIZES ?? '30,10').split(',').map(Number);
const PARTS = new Set((process.env.BENCH_PARTS ?? 'profile,converge,failover,rollout,idle').split(','));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const f0 = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : 'n/a');
const runs = (xs: readonly number[]): string => xs.map(f0).join(', ');

// ---- 1. converge -------------------------------------------------------------------------------

interface ConvergeFigures {
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

async function converge(ctx: Ctx, n: number): Promise<ConvergeFigures> {
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

function printConverge(n: number, f: ConvergeFigures, swarmNote: string): void {
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

// ---- 2. failover -------------------------------------------------------------------------------

const FO_REPLICAS = 3;

interface FailoverFigures {
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
async function failover(ctx: Ctx, how: 'docker-kill' | 'kill-9', rounds: number): Promise<FailoverFigures> {
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

// ---- 3. rolling update -------------------------------------------------------------------------

const ROLL_REPLICAS = 10;
const ROLL_PARALLELISM = 2;
const ROLL_MONITOR_MS = 1000;

async function rollout(ctx: Ctx): Promise<{ berth: number[]; berthServer: number[]; floor: number[]; swarm: number[]; loads: string[] }> {
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
function dumpTimeline(ctx: Ctx, service: string, sinceEpoch: number, file: string): void {
  const rows = ctx.events.events
    .filter((e) => e.atMs >= sinceEpoch && e.attributes['io.berth.service'] === service)
    .map((e) => ({ ms: Math.round(e.atMs - sinceEpoch), action: e.action, container: e.name }));
  writeFileSync(file, JSON.stringify(rows, null, 1));
}

// ---- 4. idle -----------------------------------------------------------------------------------

const IDLE_REPLICAS = 50;
const IDLE_MS = 30_000;

/** The server's proxy relay processes (children running berth-relay). */
function relays(serverPid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === serverPid && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('berth-relay')) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

async function idle(ctx: Ctx): Promise<{ server: number; relay: number; dockerd: number; containers: number; load: string }> {
  const { client, proc } = ctx.berth;
  const name = 'dk-idle';
  await client.createService(GRID, benchService(name, { replicas: IDLE_REPLICAS }), { deploy: true });
  await untilReady(client, name, IDLE_REPLICAS, 300_000);
  await sleep(5000); // the last status writes and the update's monitor period
  await settle();
  const busy = load();
  const pid = proc.pid as number;
  const relayPids = relays(pid);
  const dockerd = pidOfProgram('dockerd');
  const containers = (await engine.listContainers({ filters: JSON.stringify({ label: [`io.berth.service=${name}`] }) })).length;
  const a = { server: cpuMsOf(pid), relay: relayPids.reduce((s, p) => s + cpuMsOf(p), 0), dockerd: dockerd ? cpuMsOf(dockerd) : NaN };
  await sleep(IDLE_MS);
  const b = { server: cpuMsOf(pid), relay: relayPids.reduce((s, p) => s + cpuMsOf(p), 0), dockerd: dockerd ? cpuMsOf(dockerd) : NaN };
  const loadNow = `${busy} before; load ${loadAverage().toFixed(1)} after`;
  await removeService(client, name);
  const pct = (x: number): number => (x * 100) / IDLE_MS;
  return { server: pct(b.server - a.server), relay: pct(b.relay - a.relay), dockerd: pct(b.dockerd - a.dockerd), containers, load: loadNow };
}

// ---- main --------------------------------------------------------------------------------------

interface Ctx {
  readonly berth: Awaited<ReturnType<typeof startDockerBerth>>;
  readonly events: EngineEvents;
  readonly swarm: Swarm | undefined;
  /** busybox:local's image ID (Swarm asks no registry for an ID). */
  readonly imageId: string;
}

async function main(): Promise<void> {
  const imageId = await dockerCli(['image', 'inspect', '--format', '{{.Id}}', IMAGE]).catch(() => '');
  if (imageId === '') {
    console.error(`the image ${IMAGE} is missing: build it with scripts/build-images.sh ${IMAGE}`);
    process.exit(2);
  }
  // What an interrupted earlier run left (its names are the bench's own): an instance name in use fails a create.
  await removeNamed(`${PREFIX}-`);
  const events = new EngineEvents();
  await events.open();
  const berth = await startDockerBerth();
  const swarmOrWhy: Swarm | string = process.env.BENCH_SWARM === '0' ? 'skipped (BENCH_SWARM=0)' : await Swarm.open();
  const swarm = typeof swarmOrWhy === 'string' ? undefined : swarmOrWhy;
  const swarmNote = typeof swarmOrWhy === 'string' ? swarmOrWhy : '';
  const ctx: Ctx = { berth, events, swarm, imageId };
  current = ctx;
  const version = await dockerCli(['version', '--format', '{{.Server.Version}}']);
  await settle();
  console.log(`Docker ${version} (${swarm?.description ?? 'no swarm'}), ${readFileSync('/proc/cpuinfo', 'utf8').split('\n').filter((l) => l.startsWith('processor')).length} CPUs, kernel ${readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()}; ${load()} at the start`);
  try {
    if (PARTS.has('profile')) {
      const pause = await ensurePauseImage(engine);
      const fmt = (t: Record<string, number>): string => Object.entries(t).map(([k, v]) => `${k} ${f0(v)}`).join(', ');
      console.log(`where a start's time goes: 5 starts one after another per kind, median ms of each engine call (${load()})`);
      for (const [label, kind] of [
        [`one container on berth's network (${NETWORK}, user-defined bridge)`, `plain:${NETWORK}`],
        [`one container on docker0 (Swarm's tasks here)`, 'plain:bridge'],
        ['one container without a network (NetworkMode none)', 'plain:none'],
        ["berth's instance: sandbox on berth's network + app in its netns", 'pod'],
      ] as const) {
        console.log(`  ${label}: ${fmt(await profileStarts(kind, 5, NETWORK, pause))}`);
        await settle();
      }
    }
    if (PARTS.has('converge')) {
      for (const n of SIZES) printConverge(n, await converge(ctx, n), swarmNote);
    }
    if (PARTS.has('failover')) {
      const fo = await failover(ctx, 'docker-kill', 6);
      const k9 = await failover(ctx, 'kill-9', 3);
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
    if (PARTS.has('rollout')) {
      const ro = await rollout(ctx);
      const b = median(ro.berth);
      const fl = median(ro.floor);
      console.log(`rolling update of ${ROLL_REPLICAS} container replicas, parallelism ${ROLL_PARALLELISM}, delay 0s, monitor ${ROLL_MONITOR_MS / 1000}s, stop-first (env change); ${ROUNDS} rounds (${ro.loads.join(', ')})`);
      console.log(`  floor: plain containers replaced ${ROLL_PARALLELISM} at a time (docker stop + docker run -d, then ${ROLL_MONITOR_MS} ms): median ${secs(fl)}   runs: ${ro.floor.map(secs).join(', ')}`);
      console.log(`  berth, deploy request → update completed: median ${secs(b)}   runs: ${ro.berth.map(secs).join(', ')}; the server's own startedAt → completedAt: ${ro.berthServer.map(secs).join(', ')}`);
      console.log(`  ratio berth / floor: ${(b / fl).toFixed(2)}x   (goal ≤ 1.30x) ${b / fl <= 1.3 ? 'met' : 'MISSED'}`);
      if (ro.swarm.length > 0) console.log(`  Docker Swarm, same update (--env-add) → UpdateStatus completed: median ${secs(median(ro.swarm))}   runs: ${ro.swarm.map(secs).join(', ')};  berth / Swarm ${(b / median(ro.swarm)).toFixed(2)}x`);
    }
    if (PARTS.has('idle')) {
      const id = await idle(ctx);
      console.log(`idle: ${IDLE_REPLICAS} running instances (${id.containers} containers with their sandboxes), over ${IDLE_MS / 1000} s (${id.load})`);
      console.log(`  berth server: ${id.server.toFixed(2)} % of one core; its proxy relay: ${id.relay.toFixed(2)} %   (goal < 1 %) ${id.server + id.relay < 1 ? 'met' : 'MISSED'}`);
      console.log(`  dockerd meanwhile: ${id.dockerd.toFixed(2)} % (the engine's own idle cost, not berth's; it shows no polling storm)`);
    }
    if (leftBehind.size > 0) {
      const all = [...leftBehind.values()].flat();
      console.log(`NOTE: berth left ${all.length} exited container(s) on the engine after removing their service (removed by the bench): ${all.slice(0, 6).join(', ')}${all.length > 6 ? ', …' : ''}`);
    }
  } finally {
    await tidy();
  }
}

let tidying: Promise<void> | undefined;
/** Removes everything the bench made (services and the server, floor containers, the swarm when it made it, the network); once. */
function tidy(): Promise<void> {
  tidying ??= (async () => {
    if (!current) return;
    const { berth, events, swarm } = current;
    events.close();
    await cleanup(berth).catch((e: unknown) => console.error(`cleanup: ${(e as Error).message}`));
    // Whatever the server did not remove in time: its containers carry its owner label.
    const owners = new Set(events.events.filter((e) => e.attributes['io.berth.service']?.startsWith('dk-')).map((e) => e.attributes['io.berth.owner']));
    for (const owner of owners) {
      if (!owner) continue;
      const left = await engine.listContainers({ all: true, filters: JSON.stringify({ label: [`io.berth.owner=${owner}`] }) });
      await removeIds(left.filter((c) => c.Labels['io.berth.role'] !== 'sandbox').map((c) => c.Id));
      await removeIds(left.filter((c) => c.Labels['io.berth.role'] === 'sandbox').map((c) => c.Id));
    }
    await removeNamed(`${PREFIX}-`);
    await swarm?.close();
    // The berth server leaves its network; without containers on it, it goes too.
    await dockerCli(['network', 'rm', NETWORK]).catch((e: unknown) => console.error(`the network ${NETWORK} stays: ${(e as Error).message}`));
  })();
  return tidying;
}

let current: Ctx | undefined;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    console.error(`${signal}: removing what the bench made`);
    void tidy().finally(() => process.exit(130));
  });
}

await main();
process.exit(0);
