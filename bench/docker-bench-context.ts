import type { startDockerBerth } from './docker-berth.js';
import type { EngineEvents } from './docker-engine.js';
import type { Swarm } from './swarm.js';

/*
 * What the parts of the Docker bench (docker.bench.ts: converge, failover, rollout, idle) share: the
 * rounds, what they run against, and how they print milliseconds.
 */

/** Rounds of each figure (BENCH_ROUNDS, default 3); each figure is printed as the median (and best). */
export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

/** What every part runs against, made once by the bench's main. */
export interface DockerBenchContext {
  readonly berth: Awaited<ReturnType<typeof startDockerBerth>>;
  readonly events: EngineEvents;
  readonly swarm: Swarm | undefined;
  /** busybox:local's image ID (Swarm asks no registry for an ID). */
  readonly imageId: string;
}

/** Whole milliseconds, or `n/a`. */
export const f0 = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : 'n/a');
/** Every round's figure, in whole milliseconds. */
export const runs = (xs: readonly number[]): string => xs.map(f0).join(', ');
