/**
 * The engine side of the Docker driver bench (bench/docker.bench.ts): the floors berth is held to —
 * what the same Docker Engine needs for the same containers without berth — and the engine's own
 * record of when containers started and died (its events stream, the daemon's clock).
 *
 * Floors:
 *  - `runParallel`: N `docker run -d --init --network NET busybox:local httpd …` started at once, as
 *    a user would (the floor: one docker CLI process per container);
 *  - `podsParallel`: N instances made of the very engine calls berth's Docker driver makes — a pause
 *    sandbox on the network with a fixed address, then the app container in its network namespace
 *    (`container:<sandbox>`) — straight through the Engine API, without berth: the part of berth's
 *    time that is the engine's work for its instance model;
 *  - `rollParallel`: replacing N plain containers `parallelism` at a time (docker stop, then docker run
 *    of the replacement), waiting `monitorMs` after each batch, as a rolling update does.
 *
 * Everything made here is named `berth-bench-dk-*`; `removeNamed` removes it again.
 */
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import Dockerode from 'dockerode';
import { toolPath } from './bench-tools.js';

export const PREFIX = 'berth-bench-dk';
/** The bench's image (scripts/build-images.sh builds it) and the program every container runs: busybox httpd on :8080, under init. */
export const IMAGE = 'busybox:local';
export const HTTPD = ['httpd', '-f', '-p', '8080', '-h', '/'] as const;

export const engine = new Dockerode({ socketPath: process.env.DOCKER_HOST?.replace(/^unix:\/\//, '') || '/var/run/docker.sock' });

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs the docker CLI; rejects with its stderr. */
export function dockerCli(args: readonly string[], timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(toolPath('docker'), args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`docker ${args.join(' ')}: ${stderr.trim() || error.message}`));
      else resolve(stdout.trim());
    });
  });
}

/** One container event as the engine logged it. */
export interface EngineEvent {
  readonly action: string;
  readonly id: string;
  readonly name: string;
  readonly attributes: Readonly<Record<string, string>>;
  /** The daemon's time, epoch ms (the same clock as Date.now() on this machine). */
  readonly atMs: number;
}

/** The engine's container create/start/kill/die/destroy events from `open()` on, kept in memory for the bench to query. */
export class EngineEvents {
  readonly events: EngineEvent[] = [];
  private stream: NodeJS.ReadableStream | undefined;

  async open(): Promise<void> {
    const stream = (await engine.getEvents({ filters: JSON.stringify({ type: ['container'], event: ['create', 'start', 'kill', 'die', 'destroy'] }) })) as NodeJS.ReadableStream;
    this.stream = stream;
    let buffered = '';
    stream.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          const e = JSON.parse(line) as { Action?: string; Actor?: { ID?: string; Attributes?: Record<string, string> }; timeNano?: number };
          const attributes = e.Actor?.Attributes ?? {};
          this.events.push({ action: e.Action ?? '', id: e.Actor?.ID ?? '', name: attributes.name ?? '', attributes, atMs: (e.timeNano ?? 0) / 1e6 });
        } catch {
          // not an event line
        }
      }
    });
    stream.on('error', () => undefined);
  }

  close(): void {
    (this.stream as { destroy?: () => void } | undefined)?.destroy?.();
  }

  /** Start events since `sinceMs` (epoch) that `match` accepts. */
  starts(sinceMs: number, match: (e: EngineEvent) => boolean): EngineEvent[] {
    return this.events.filter((e) => e.action === 'start' && e.atMs >= sinceMs && match(e));
  }

  /** Waits until `n` start events since `sinceMs` match; returns the time of the n-th (epoch ms). */
  async nthStart(n: number, sinceMs: number, match: (e: EngineEvent) => boolean, timeoutMs = 300_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.starts(sinceMs, match);
      if (found.length >= n) return Math.max(...found.slice(0, n).map((e) => e.atMs));
      if (Date.now() > deadline) throw new Error(`${found.length} of ${n} containers started after ${timeoutMs} ms`);
      await sleep(20);
    }
  }
}

/**
 * Removes every container whose name starts with `prefix` (force, with anonymous volumes), the ones
 * in another's network namespace before the sandboxes they joined, a few at a time (the engine's
 * network bookkeeping is not fond of a sandbox removed while its joined container goes too);
 * resolves when none is left.
 */
export async function removeNamed(prefix: string): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const left = await engine.listContainers({ all: true, filters: JSON.stringify({ name: [prefix] }) });
    const ours = left.filter((c) => c.Names.some((n) => n.replace(/^\//, '').startsWith(prefix)));
    if (ours.length === 0) return;
    const joined = ours.filter((c) => c.HostConfig.NetworkMode.startsWith('container:'));
    await removeIds(joined.map((c) => c.Id));
    await removeIds(ours.filter((c) => !joined.includes(c)).map((c) => c.Id));
  }
}

/** Removes containers (force, anonymous volumes), at most 4 at a time. */
export async function removeIds(ids: readonly string[]): Promise<void> {
  const queue = [...ids];
  await Promise.all(
    Array.from({ length: Math.min(4, queue.length) }, async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) await engine.getContainer(id).remove({ force: true, v: true }).catch(() => undefined);
    }),
  );
}

export interface FloorRun {
  /** Request → the n-th container's start event (engine clock). */
  readonly startedMs: number;
  /** Request → every `docker run -d` returned (for the CLI floor). */
  readonly returnedMs?: number;
}

/** N `docker run -d --init` of the bench image on `network`, all at once (one CLI process each). */
export async function runParallel(events: EngineEvents, n: number, network: string, tag: string): Promise<FloorRun> {
  const prefix = `${PREFIX}-${tag}-`;
  const t0 = Date.now();
  await Promise.all(Array.from({ length: n }, (_, i) => dockerCli(['run', '-d', '--init', '--network', network, '--name', `${prefix}${i + 1}`, IMAGE, ...HTTPD])));
  const returnedMs = Date.now() - t0;
  const last = await events.nthStart(n, t0, (e) => e.name.startsWith(prefix));
  return { startedMs: last - t0, returnedMs };
}

/**
 * N berth-style instances through the Engine API, all at once: per instance, create + start a pause
 * sandbox on `network` at a fixed address (from `addresses`), then create + start the app container in
 * the sandbox's network namespace, under init. No command check, no image inspect: the engine's part only.
 */
export async function podsParallel(events: EngineEvents, n: number, network: string, pauseImage: string, addresses: readonly string[], tag: string): Promise<FloorRun> {
  const prefix = `${PREFIX}-${tag}-`;
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const sandbox = await engine.createContainer({
        name: `${prefix}${i + 1}-sandbox`,
        Image: pauseImage,
        HostConfig: { NetworkMode: network, RestartPolicy: { Name: 'no' } },
        NetworkingConfig: { EndpointsConfig: { [network]: { IPAMConfig: { IPv4Address: addresses[i] as string } } } },
      });
      await sandbox.start();
      const app = await engine.createContainer({
        name: `${prefix}${i + 1}-app`,
        Image: IMAGE,
        Cmd: [...HTTPD],
        HostConfig: { NetworkMode: `container:${sandbox.id}`, Init: true, RestartPolicy: { Name: 'no' } },
      });
      await app.start();
    }),
  );
  const last = await events.nthStart(n, t0, (e) => e.name.startsWith(prefix) && e.name.endsWith('-app'));
  return { startedMs: last - t0 };
}

/**
 * The floor of a rolling update: `n` plain containers (started first, not timed), replaced
 * `parallelism` at a time — `docker stop` of the old one, `docker run -d` of its replacement — with a
 * wait of `monitorMs` after each batch (the update's monitor period, which berth and Swarm wait too).
 * @returns the time of the whole replacement, ms.
 */
export async function rollParallel(n: number, parallelism: number, monitorMs: number, network: string, tag: string): Promise<number> {
  const prefix = `${PREFIX}-${tag}-`;
  const run = (name: string): Promise<string> => dockerCli(['run', '-d', '--init', '--stop-timeout', '10', '--network', network, '--name', name, IMAGE, ...HTTPD]);
  await Promise.all(Array.from({ length: n }, (_, i) => run(`${prefix}${i + 1}-v0`)));
  const t0 = performance.now();
  for (let b = 0; b < n; b += parallelism) {
    const batch = Array.from({ length: Math.min(parallelism, n - b) }, (_, k) => b + k + 1);
    await Promise.all(batch.map(async (slot) => {
      await dockerCli(['stop', `${prefix}${slot}-v0`]);
      await run(`${prefix}${slot}-v1`);
    }));
    await sleep(monitorMs);
  }
  return performance.now() - t0;
}

/** CPU time (user + system) a process has used so far, ms (/proc/<pid>/stat, 100 ticks per second). */
export function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** The pid of a running program by its exact name (dockerd, containerd), or undefined. */
export function pidOfProgram(name: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === name) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/** The 1-minute load average (other work on the machine shows here). */
export function loadAverage(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

/** Median time of each engine call over the profiled starts, ms. */
export type CallTimes = Record<string, number>;

/**
 * Where a start's time goes on this engine: `n` starts one after another (no contention), each call
 * timed. `plain:<network>`: create + start of one container on that network (`none` for no network);
 * `pod`: berth's instance — sandbox create + start on `network` at a fixed address, then the app
 * container's create, berth's command check (HEAD of the archive at each PATH directory), and start
 * in the sandbox's network namespace. Containers are removed afterwards (not timed).
 */
export async function profileStarts(kind: string, n: number, network: string, pauseImage: string): Promise<CallTimes> {
  const times: Record<string, number[]> = {};
  const timed = async <T>(k: string, fn: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    try {
      return await fn();
    } finally {
      (times[k] ??= []).push(performance.now() - t);
    }
  };
  const made: string[] = [];
  const tag = `${PREFIX}-prof-${kind.replace(/[^a-z0-9]/g, '')}`;
  try {
    for (let i = 0; i < n; i++) {
      if (kind.startsWith('plain:')) {
        const net = kind.slice('plain:'.length);
        const c = await timed('create', () => engine.createContainer({ name: `${tag}-${i}`, Image: IMAGE, Cmd: [...HTTPD], HostConfig: { NetworkMode: net, Init: true } }));
        made.push(c.id);
        await timed('start', () => c.start());
      } else {
        const sandbox = await timed('sandbox create', () =>
          engine.createContainer({
            name: `${tag}-${i}-sandbox`,
            Image: pauseImage,
            HostConfig: { NetworkMode: network },
            NetworkingConfig: { EndpointsConfig: { [network]: { IPAMConfig: { IPv4Address: `10.230.201.${i + 2}` } } } },
          }),
        );
        made.push(sandbox.id);
        await timed('sandbox start', () => sandbox.start());
        const app = await timed('app create', () => engine.createContainer({ name: `${tag}-${i}-app`, Image: IMAGE, Cmd: [...HTTPD], HostConfig: { NetworkMode: `container:${sandbox.id}`, Init: true } }));
        made.push(app.id);
        const dirs = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
        await timed('app command check', () => Promise.all([engine.getImage(IMAGE).inspect(), ...dirs.map((d) => app.infoArchive({ path: `${d}/httpd` }).catch(() => undefined))]));
        await timed('app start', () => app.start());
      }
    }
  } finally {
    await Promise.all(made.reverse().map((id) => engine.getContainer(id).remove({ force: true, v: true }).catch(() => undefined)));
  }
  const out: CallTimes = {};
  for (const [k, v] of Object.entries(times)) out[k] = [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] as number;
  return out;
}
