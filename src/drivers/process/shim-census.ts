import { readdirSync, readFileSync } from 'node:fs';
import { parseProcStat } from './proc-table.js';

/** A process of one exit directory's launcher family, as /proc shows it. */
export interface TaggedProcess {
  readonly pid: number;
  readonly startTicks: number;
  /** `berth-launcher` for a launcher, `berth-shim` for a shim. */
  readonly role: 'launcher' | 'shim';
}

/** The launcher's arguments: `--launcher` and a tag naming the exit directory, kept by every shim it forks. */
export function launcherArgs(exitDir: string | undefined): string[] {
  return exitDir ? ['--launcher', '--exit-dir', exitDir] : ['--launcher'];
}

interface LauncherFamilyProcess extends TaggedProcess {
  /** The exit directory of its tag. */
  readonly exitDir: string;
}

/*
 * Synchronous on purpose, as ProcScanner: /proc is served from kernel memory, and one pass of sync
 * reads over a few hundred processes costs a few ms where the promise API costs 10–50× that on a loaded
 * machine (a thread-pool hop per file). Only processes named berth-shim or berth-launcher get their
 * command line and stat read.
 */
function scanLauncherFamily(): LauncherFamilyProcess[] {
  const found: LauncherFamilyProcess[] = [];
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const name of names) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    try {
      const comm = readFileSync(`/proc/${name}/comm`, 'latin1').trim();
      if (comm !== 'berth-shim' && comm !== 'berth-launcher') continue;
      const args = readFileSync(`/proc/${name}/cmdline`, 'latin1').split('\0').slice(1, -1);
      if (args.length !== 3 || args[0] !== '--launcher' || args[1] !== '--exit-dir' || !args[2]) continue;
      const entry = parseProcStat(readFileSync(`/proc/${name}/stat`, 'latin1'));
      if (!entry || entry.state === 'Z') continue;
      found.push({ pid: entry.pid, startTicks: entry.startTicks, role: comm === 'berth-launcher' ? 'launcher' : 'shim', exitDir: args[2] });
    } catch {
      // exited meanwhile, or another user's process that /proc hides: not ours
    }
  }
  return found;
}

/**
 * Every live launcher and shim started for `exitDir`, by any berth process before this one: a shim is
 * forked from its launcher without an exec, so its /proc/PID/cmdline is the launcher's
 * (`berth-shim --launcher --exit-dir DIR`); the process name (/proc/PID/comm) tells the two apart.
 */
export async function findTaggedProcesses(exitDir: string): Promise<TaggedProcess[]> {
  return scanLauncherFamily()
    .filter((p) => p.exitDir === exitDir)
    .map(({ pid, startTicks, role }) => ({ pid, startTicks, role }));
}

/**
 * The exit directories whose launchers or shims run now (one pass over /proc): a data directory whose
 * exit directory is in the set still has containers running (or a server starting them).
 */
export async function exitDirsInUse(): Promise<Set<string>> {
  return new Set(scanLauncherFamily().map((p) => p.exitDir));
}
