import type { ProcessHandle } from './process-handle.js';
import type { ProcTable, SystemUnits } from './proc-table.js';

/**
 * The processes of one container in a /proc snapshot: its process group, the descendants of its main
 * process, and the orphans its shim adopted as subreaper (daemons that left the group). Never the shim.
 * Empty when the main process is gone or is another process under a recycled pid.
 */
export function containerTree(table: ProcTable, handle: ProcessHandle): number[] {
  const main = table.entries.get(handle.pid);
  if (!main || main.startTicks !== handle.startTicks || main.state === 'Z') return [];
  const pids = new Set<number>([handle.pid, ...table.group(handle.pgid), ...table.descendants(handle.pid)]);
  const shim = table.entries.get(handle.shimPid);
  if (shim && shim.startTicks === handle.shimStartTicks) for (const pid of table.descendants(handle.shimPid)) pids.add(pid);
  pids.delete(handle.shimPid);
  return [...pids];
}

export interface TreeUsage {
  readonly cpuTimeMs: number;
  readonly memoryBytes: number;
  readonly processes: number;
}

/** Sums CPU time (utime + stime) and resident memory over `pids`; zombies count for CPU only. */
export function treeUsage(table: ProcTable, pids: readonly number[], units: SystemUnits): TreeUsage {
  let ticks = 0;
  let pages = 0;
  let processes = 0;
  for (const pid of pids) {
    const e = table.entries.get(pid);
    if (!e) continue;
    ticks += e.cpuTicks;
    if (e.state === 'Z') continue;
    pages += e.rssPages;
    processes++;
  }
  return {
    cpuTimeMs: (ticks * 1000) / units.clockTicksPerSecond,
    memoryBytes: pages * units.pageSizeBytes,
    processes,
  };
}
