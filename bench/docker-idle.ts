import { readdirSync, readFileSync } from 'node:fs';
import { benchService, GRID, removeService, untilReady } from './docker-berth.js';
import type { DockerBenchContext } from './docker-bench-context.js';
import { cpuMsOf, engine, loadAverage, pidOfProgram } from './docker-engine.js';
import { load, settle } from './machine-load.js';

/*
 * Part 4 of the Docker bench (docker.bench.ts says what each figure is): the server's own CPU (its
 * process and its proxy relay) over 30 s with 50 running instances; goal < 1 %. dockerd's alongside.
 */

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Percent of one core over the idle period. */
export interface IdleFigures { server: number; relay: number; dockerd: number; containers: number; load: string }

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

/** Runs `IDLE_REPLICAS` instances, then measures the CPU of the server, its relays and dockerd over `IDLE_MS`. */
export async function idle(ctx: DockerBenchContext): Promise<IdleFigures> {
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

/** Prints the figures of `idle` with the goal. */
export function printIdle(id: IdleFigures): void {
  console.log(`idle: ${IDLE_REPLICAS} running instances (${id.containers} containers with their sandboxes), over ${IDLE_MS / 1000} s (${id.load})`);
  console.log(`  berth server: ${id.server.toFixed(2)} % of one core; its proxy relay: ${id.relay.toFixed(2)} %   (goal < 1 %) ${id.server + id.relay < 1 ? 'met' : 'MISSED'}`);
  console.log(`  dockerd meanwhile: ${id.dockerd.toFixed(2)} % (the engine's own idle cost, not berth's; it shows no polling storm)`);
}
