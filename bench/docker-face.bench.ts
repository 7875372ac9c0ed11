/**
 * The Docker API face (issue 11 "Performance"): the docker CLI driving berth next to the same CLI
 * driving Docker Swarm on this machine's engine, and the face's request overhead next to berth's own
 * API.
 *  1. `docker service create --detach --replicas 10` of busybox httpd (busybox:local, `httpd -f -p 8080
 *     -h /`) through the docker 28 CLI (/usr/local/bin/docker): DOCKER_HOST at berth's face (its default
 *     unix socket) vs the machine's engine in swarm mode (by image ID, `--no-resolve-image`: no registry).
 *     Timed from the CLI's start until the 10th task container's `start` event on the engine (the
 *     engine's clock; the same criterion for both, and no polling that would take CPU from the engine);
 *     then `docker service ps` confirms 10 running tasks (untimed). Goal: berth ≤ 0.5 × Swarm.
 *  2. Request overhead, with 20 services present: `GET /services` and `GET /services/{name}` on the
 *     face's unix socket vs `GET /v1/grids/default/services` and `GET /v1/grids/default/services/{name}`
 *     on berth's API (TCP on 127.0.0.1, the admin token), node's http client with a keep-alive agent
 *     for both (one socket sequentially; 8 sockets, 8 requests in flight concurrently). µs per request
 *     (wall time / requests). Goal: face ≤ 1.2 × berth's API.
 * The machine is shared: before every round the bench waits 3 s doing nothing and prints how busy the
 * cores were meanwhile (other people's work) and the 1-minute load average; each figure is the median
 * of BENCH_ROUNDS rounds (default 3), berth and its peer interleaved round by round.
 *
 * Everything is named `berth-bench-dkf-*` (the engine's containers of berth's services carry the
 * server's owner label) on a network of its own (berth-bench-dkf, 10.232.0.0/16); all of it is removed
 * at the end and on SIGINT/SIGTERM; the swarm is left as it was found (bench/swarm.ts).
 *
 * Run: npm run bench -- docker-face   (BENCH_ROUNDS=3; BENCH_SWARM=0 skips Swarm; BENCH_PARTS=create,requests;
 *      BENCH_REQUESTS=400 sequential requests per figure and round, four times that concurrently)
 */
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { dockerCliWith } from '../test/e2e/docker-cli.js';
import { cleanup, median } from './berth-rollouts.js';
import { benchService, GRID, leftBehind, removeService, startDockerBerth } from './docker-berth.js';
import { dockerCli, engine, type EngineEvent, EngineEvents, HTTPD, IMAGE, removeIds } from './docker-engine.js';
import { load, settle } from './machine-load.js';
import { Swarm } from './swarm.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PARTS = new Set((process.env.BENCH_PARTS ?? 'create,requests').split(','));
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 400);
const REPLICAS = 10;
const LIST_SERVICES = 20;
const CONCURRENCY = 8;
/** The prefix of everything the bench makes (Swarm services; berth's services live in the bench's own server). */
const PREFIX = 'berth-bench-dkf';
const NETWORK = { name: PREFIX, subnet: '10.232.0.0/16', serviceRange: '10.233.0.0/24' };
const INSTANCE_RANGE = '127.11.66.0/24';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const f0 = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : 'n/a');
const runs = (xs: readonly number[]): string => xs.map(f0).join(', ');
const verdict = (x: number, goal: number): string => `${x.toFixed(2)}x (goal ≤ ${goal.toFixed(2)}x) ${x <= goal ? 'met' : 'MISSED'}`;

// ---- 1. docker service create --replicas 10 ------------------------------------------------------

interface CreateFigures {
  berth: number[];
  swarm: number[];
  /** berth's own API (create with deploy), the same criterion: what the face adds to berth. */
  berthApi: number[];
  /** CLI start → the engine's first create event of the service's containers (berth: its first sandbox). */
  berthFirstCreate: number[];
  swarmFirstCreate: number[];
  /** CLI start → the 10th sandbox (pause container) of berth's instances started: each instance is a sandbox plus the app. */
  berthSandboxes: number[];
  /** The CLI's own time (it returns at once with --detach). */
  berthCli: number[];
  swarmCli: number[];
  loads: string[];
}

/** `docker service ps` of a service: how many of its tasks run (desired running, current running). */
async function runningTasks(run: (args: string[]) => Promise<string>, name: string): Promise<number> {
  const out = await run(['service', 'ps', '--filter', 'desired-state=running', '--format', '{{.CurrentState}}', name]);
  return out.split('\n').filter((l) => l.startsWith('Running')).length;
}

async function confirmRunning(run: (args: string[]) => Promise<string>, name: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while ((await runningTasks(run, name)) !== REPLICAS) {
    if (Date.now() > deadline) throw new Error(`${name}: docker service ps does not list ${REPLICAS} running tasks`);
    await sleep(250);
  }
}

async function create(ctx: Ctx): Promise<CreateFigures> {
  const f: CreateFigures = { berth: [], swarm: [], berthApi: [], berthFirstCreate: [], swarmFirstCreate: [], berthSandboxes: [], berthCli: [], swarmCli: [], loads: [] };
  const firstCreate = (t: number, match: (e: EngineEvent) => boolean): number => (ctx.events.events.find((e) => e.action === 'create' && e.atMs >= t && match(e))?.atMs ?? NaN) - t;
  const face = async (args: string[]): Promise<string> => {
    const r = await dockerCliWith({ host: ctx.dockerHost }, ...args);
    if (r.code !== 0) throw new Error(`docker ${args.join(' ')} (berth's face): ${r.stderr.trim()}`);
    return r.stdout.trim();
  };
  for (let r = 1; r <= ROUNDS; r++) {
    await settle();
    f.loads.push(load());
    const name = `${PREFIX}-c${r}`;
    const t = Date.now();
    await face(['service', 'create', '--detach', '--no-resolve-image', '--name', name, '--replicas', String(REPLICAS), '--stop-grace-period', '10s', IMAGE, ...HTTPD]);
    f.berthCli.push(Date.now() - t);
    const last = await ctx.events.nthStart(REPLICAS, t, (e) => e.attributes['io.berth.service'] === name && e.attributes['io.berth.role'] === 'container');
    f.berth.push(last - t);
    f.berthFirstCreate.push(firstCreate(t, (e) => e.attributes['io.berth.service'] === name));
    f.berthSandboxes.push((await ctx.events.nthStart(REPLICAS, t, (e) => e.attributes['io.berth.service'] === name && e.attributes['io.berth.role'] === 'sandbox')) - t);
    await confirmRunning(face, name);
    await removeService(ctx.berth.client, name);

    await settle();
    const aname = `${PREFIX}-a${r}`;
    const ta = Date.now();
    await ctx.berth.client.createService(GRID, benchService(aname, { replicas: REPLICAS }), { deploy: true });
    f.berthApi.push((await ctx.events.nthStart(REPLICAS, ta, (e) => e.attributes['io.berth.service'] === aname && e.attributes['io.berth.role'] === 'container')) - ta);
    await removeService(ctx.berth.client, aname);

    if (ctx.swarm) {
      await settle();
      const sname = `${PREFIX}-sw${r}`;
      const ts = Date.now();
      // The same command by image ID (Swarm asks no registry for an ID), with --init so that a stop is prompt.
      await ctx.swarm.createService(sname, { replicas: REPLICAS, image: ctx.imageId, args: HTTPD, noWait: true });
      f.swarmCli.push(Date.now() - ts);
      const lastS = await ctx.events.nthStart(REPLICAS, ts, (e) => e.attributes['com.docker.swarm.service.name'] === sname);
      f.swarm.push(lastS - ts);
      f.swarmFirstCreate.push(firstCreate(ts, (e) => e.attributes['com.docker.swarm.service.name'] === sname));
      await confirmRunning((args) => dockerCli(args), sname);
      await ctx.swarm.removeService(sname);
    }
  }
  return f;
}

function printCreate(f: CreateFigures, swarmNote: string): void {
  const m = (xs: number[]): string => `median ${f0(median(xs))} ms (best ${f0(Math.min(...xs))})   runs: ${runs(xs)}`;
  console.log(`docker service create --detach --replicas ${REPLICAS} (${IMAGE}, httpd), CLI start → ${REPLICAS}th task container started (engine event); ${f.berth.length} rounds (machine before each round: ${f.loads.join('; ')})`);
  console.log(`  berth, docker 28 CLI at the face:     ${m(f.berth)}; the CLI itself: ${runs(f.berthCli)} ms; → first container created: ${runs(f.berthFirstCreate)} ms, → ${REPLICAS}th sandbox started: ${runs(f.berthSandboxes)} ms (${REPLICAS * 2} containers: a sandbox and the app per instance)`);
  console.log(`  berth, its own API (create + deploy): ${m(f.berthApi)}   (what the face adds: ${f0(median(f.berth) - median(f.berthApi))} ms)`);
  if (f.swarm.length === 0) {
    console.log(`  Docker Swarm: not measured — ${swarmNote}`);
    return;
  }
  console.log(`  Docker Swarm, same CLI at the engine: ${m(f.swarm)}; the CLI itself: ${runs(f.swarmCli)} ms; → first container created: ${runs(f.swarmFirstCreate)} ms`);
  console.log(`  ratio berth / Swarm (medians): ${verdict(median(f.berth) / median(f.swarm), 0.5)}`);
}

// ---- 2. request overhead -------------------------------------------------------------------------

interface Target {
  readonly label: string;
  readonly agent: http.Agent;
  readonly base: http.RequestOptions;
  readonly path: string;
}

function get(t: Target): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ ...t.base, agent: t.agent, path: t.path, method: 'GET' }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => (res.statusCode === 200 ? resolve(bytes) : reject(new Error(`${t.label} ${t.path}: ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** µs per request over `n` requests, `inFlight` at a time. */
async function timeRequests(t: Target, n: number, inFlight: number): Promise<number> {
  let left = n;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (left-- > 0) await get(t);
    }),
  );
  return ((performance.now() - t0) * 1000) / n;
}

interface Pair {
  readonly what: string;
  readonly face: Target;
  readonly berth: Target;
}

async function requests(ctx: Ctx): Promise<void> {
  const names = Array.from({ length: LIST_SERVICES }, (_, i) => `${PREFIX}-l${String(i + 1).padStart(2, '0')}`);
  for (const n of names) await ctx.berth.client.createService(GRID, benchService(n, { replicas: 1 }));
  const socketPath = ctx.dockerHost.replace(/^unix:\/\//, '');
  const url = new URL(ctx.berth.url);
  const faceBase: http.RequestOptions = { socketPath };
  const berthBase: http.RequestOptions = { host: url.hostname, port: Number(url.port), headers: { authorization: `Bearer ${ctx.berth.token}` } };
  const version = JSON.parse(await new Promise<string>((resolve, reject) => {
    http.get({ socketPath, path: '/version' }, (res) => {
      let s = '';
      res.on('data', (c: Buffer) => (s += c.toString()));
      res.on('end', () => resolve(s));
    }).on('error', reject);
  })) as { ApiVersion: string };
  const v = `/v${version.ApiVersion}`;
  const inspected = names[7] as string;
  const results = new Map<string, { face: number[]; berth: number[]; faceBytes: number; berthBytes: number }>();
  const loads: string[] = [];
  for (const [mode, inFlight, n] of [
    ['sequential', 1, REQUESTS],
    [`concurrent (${CONCURRENCY} in flight)`, CONCURRENCY, REQUESTS * 4],
  ] as const) {
    // One keep-alive agent per API and mode, as many sockets as requests in flight: the same reuse policy for both.
    const agents = { face: new http.Agent({ keepAlive: true, maxSockets: inFlight }), berth: new http.Agent({ keepAlive: true, maxSockets: inFlight }) };
    const pairs: Pair[] = [
      { what: 'list', face: { label: 'face', agent: agents.face, base: faceBase, path: `${v}/services` }, berth: { label: 'berth', agent: agents.berth, base: berthBase, path: `/v1/grids/${GRID}/services` } },
      { what: 'inspect', face: { label: 'face', agent: agents.face, base: faceBase, path: `${v}/services/${inspected}` }, berth: { label: 'berth', agent: agents.berth, base: berthBase, path: `/v1/grids/${GRID}/services/${inspected}` } },
    ];
    for (const p of pairs) {
      const key = `${p.what}, ${mode}`;
      const entry = { face: [] as number[], berth: [] as number[], faceBytes: await get(p.face), berthBytes: await get(p.berth) };
      results.set(key, entry);
      // Warm-up: the JIT and the sockets.
      await timeRequests(p.face, 200, inFlight);
      await timeRequests(p.berth, 200, inFlight);
    }
    for (let r = 1; r <= ROUNDS; r++) {
      await settle();
      loads.push(`${mode} r${r}: ${load()}`);
      for (const p of pairs) {
        const e = results.get(`${p.what}, ${mode}`) as { face: number[]; berth: number[] };
        // Alternate who goes first, so that neither always follows the other.
        if (r % 2 === 1) {
          e.face.push(await timeRequests(p.face, n, inFlight));
          e.berth.push(await timeRequests(p.berth, n, inFlight));
        } else {
          e.berth.push(await timeRequests(p.berth, n, inFlight));
          e.face.push(await timeRequests(p.face, n, inFlight));
        }
      }
    }
    agents.face.destroy();
    agents.berth.destroy();
  }
  console.log(`request overhead: the face (unix socket ${socketPath}) vs berth's API (${ctx.berth.url}, bearer token), ${LIST_SERVICES} services present, node http with keep-alive; ${REQUESTS} requests sequentially / ${REQUESTS * 4} with ${CONCURRENCY} in flight per figure and round; µs per request, median of ${ROUNDS} rounds`);
  console.log(`  machine before each round: ${loads.join('; ')}`);
  for (const [key, e] of results) {
    const face = median(e.face);
    const berth = median(e.berth);
    console.log(`  ${key}: face ${f0(face)} µs (${f0(1e6 / face)} req/s; runs ${runs(e.face)}; ${e.faceBytes} B), berth API ${f0(berth)} µs (${f0(1e6 / berth)} req/s; runs ${runs(e.berth)}; ${e.berthBytes} B); ratio face / berth ${verdict(face / berth, 1.2)}`);
  }
  for (const n of names) await ctx.berth.client.removeService(GRID, n).catch(() => undefined);
}

// ---- main ----------------------------------------------------------------------------------------

interface Ctx {
  readonly berth: Awaited<ReturnType<typeof startDockerBerth>>;
  readonly dockerHost: string;
  readonly events: EngineEvents;
  readonly swarm: Swarm | undefined;
  readonly imageId: string;
}

const current: { berth?: Ctx['berth']; events?: EngineEvents; swarm?: Swarm } = {};

async function main(): Promise<void> {
  const imageId = await dockerCli(['image', 'inspect', '--format', '{{.Id}}', IMAGE]).catch(() => '');
  if (imageId === '') {
    console.error(`the image ${IMAGE} is missing: build it with scripts/build-images.sh ${IMAGE}`);
    process.exit(2);
  }
  const events = new EngineEvents();
  current.events = events;
  await events.open();
  const berth = await startDockerBerth({ dockerApi: true, network: NETWORK, instanceRange: INSTANCE_RANGE });
  current.berth = berth;
  if (!berth.dockerHost) throw new Error('the berth server printed no Docker API listener');
  const swarmOrWhy: Swarm | string = process.env.BENCH_SWARM === '0' ? 'skipped (BENCH_SWARM=0)' : await Swarm.open();
  const swarm = typeof swarmOrWhy === 'string' ? undefined : swarmOrWhy;
  if (swarm) current.swarm = swarm;
  const ctx: Ctx = { berth, dockerHost: berth.dockerHost, events, swarm, imageId };
  try {
    const version = await dockerCli(['version', '--format', '{{.Client.Version}} CLI, engine {{.Server.Version}}']);
    await settle();
    console.log(`Docker ${version} (${swarm?.description ?? 'no swarm'}); berth's face at DOCKER_HOST=${ctx.dockerHost}; ${readFileSync('/proc/cpuinfo', 'utf8').split('\n').filter((l) => l.startsWith('processor')).length} CPUs; ${load()} at the start`);
    if (PARTS.has('create')) printCreate(await create(ctx), typeof swarmOrWhy === 'string' ? swarmOrWhy : '');
    if (PARTS.has('requests')) await requests(ctx);
    if (leftBehind.size > 0) console.log(`NOTE: berth left exited containers behind after removing a service (removed by the bench): ${[...leftBehind.values()].flat().join(', ')}`);
  } finally {
    await tidy();
  }
}

let tidying: Promise<void> | undefined;
/** Removes what the bench made: berth's services, the server and its containers, the Swarm services, the network; once. */
function tidy(): Promise<void> {
  tidying ??= (async () => {
    const { berth, events, swarm } = current;
    events?.close();
    if (berth) {
      await cleanup(berth).catch((e: unknown) => console.error(`cleanup: ${(e as Error).message}`));
      // Whatever the server did not remove in time carries its owner label.
      const left = await engine.listContainers({ all: true, filters: JSON.stringify({ label: [`io.berth.owner=${berth.owner}`] }) });
      await removeIds(left.filter((c) => c.Labels['io.berth.role'] !== 'sandbox').map((c) => c.Id));
      await removeIds(left.filter((c) => c.Labels['io.berth.role'] === 'sandbox').map((c) => c.Id));
    }
    await swarm?.close();
    if (berth) await dockerCli(['network', 'rm', NETWORK.name]).catch((e: unknown) => console.error(`the network ${NETWORK.name} stays: ${(e as Error).message}`));
  })();
  return tidying;
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    console.error(`${signal}: removing what the bench made`);
    void tidy().finally(() => process.exit(130));
  });
}

await main();
process.exit(0);
