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
import { readFileSync } from 'node:fs';
import { ensurePauseImage } from '../src/drivers/docker/pause-image.js';
import { cleanup } from './berth-rollouts.js';
import { leftBehind, NETWORK, startDockerBerth } from './docker-berth.js';
import type { DockerBenchContext } from './docker-bench-context.js';
import { f0 } from './docker-bench-context.js';
import { converge, printConverge } from './docker-converge.js';
import { dockerCli, engine, EngineEvents, IMAGE, PREFIX, profileStarts, removeIds, removeNamed } from './docker-engine.js';
import { failover, printFailover } from './docker-failover.js';
import { idle, printIdle } from './docker-idle.js';
import { printRollout, rollout } from './docker-rollout.js';
import { load, settle } from './machine-load.js';
import { Swarm } from './swarm.js';

const SIZES = (process.env.BENCH_SIZES ?? '30,10').split(',').map(Number);
const PARTS = new Set((process.env.BENCH_PARTS ?? 'profile,converge,failover,rollout,idle').split(','));

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
  const ctx: DockerBenchContext = { berth, events, swarm, imageId };
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
      printFailover(fo, k9);
    }
    if (PARTS.has('rollout')) {
      printRollout(await rollout(ctx));
    }
    if (PARTS.has('idle')) {
      printIdle(await idle(ctx));
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

let current: DockerBenchContext | undefined;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    console.error(`${signal}: removing what the bench made`);
    void tidy().finally(() => process.exit(130));
  });
}

await main();
process.exit(0);
