/**
 * How busy the shared machine is around a bench's rounds: `settle()` idles 3 s (the engine finishes
 * removals meanwhile) and measures how busy both cores were — other people's work, since the bench
 * itself did nothing; `load()` prints that with the 1-minute load average.
 */
import { readFileSync } from 'node:fs';
import { loadAverage } from './docker-engine.js';

/** Busy % of all cores over the last `settle()`; NaN before the first. */
let busyBefore = NaN;

/** `12 % busy before, load 1.3` (or only the load before the first settle). */
export function load(): string {
  return `${Number.isFinite(busyBefore) ? `${busyBefore.toFixed(0)} % busy before, ` : ''}load ${loadAverage().toFixed(1)}`;
}

/** [busy, total] jiffies of all CPUs since boot (/proc/stat). */
function cpuJiffies(): [number, number] {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return [total - ((f[3] ?? 0) + (f[4] ?? 0)), total];
}

/** Waits 3 s doing nothing and measures how busy the cores were meanwhile (see `load`). */
export async function settle(): Promise<void> {
  const [b0, t0] = cpuJiffies();
  await new Promise((r) => setTimeout(r, 3000));
  const [b1, t1] = cpuJiffies();
  busyBefore = ((b1 - b0) * 100) / Math.max(1, t1 - t0);
}
