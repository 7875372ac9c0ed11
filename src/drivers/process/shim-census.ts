import { readdir, readFile } from 'node:fs/promises';
import { readProcEntry } from './proc-table.js';

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

/**
 * Every live launcher and shim started for `exitDir`, by any berth process before this one: a shim is
 * forked from its launcher without an exec, so its /proc/PID/cmdline is the launcher's
 * (`berth-shim --launcher --exit-dir DIR`); the process name (/proc/PID/comm) tells the two apart.
 * Processes of other users that /proc hides are not ours. One pass over /proc (a few ms).
 */
export async function findTaggedProcesses(exitDir: string): Promise<TaggedProcess[]> {
  const want = launcherArgs(exitDir);
  const found: TaggedProcess[] = [];
  let names: string[];
  try {
    names = await readdir('/proc');
  } catch {
    return [];
  }
  for (const name of names) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const comm = await readFile(`/proc/${name}/comm`, 'latin1').then((t) => t.trim(), () => '');
    if (comm !== 'berth-shim' && comm !== 'berth-launcher') continue;
    const args = await readFile(`/proc/${name}/cmdline`, 'latin1').then((t) => t.split('\0').slice(1, -1), () => []);
    if (args.length !== want.length || args.some((a, i) => a !== want[i])) continue;
    const entry = await readProcEntry(Number(name));
    if (!entry || entry.state === 'Z') continue;
    found.push({ pid: entry.pid, startTicks: entry.startTicks, role: comm === 'berth-launcher' ? 'launcher' : 'shim' });
  }
  return found;
}

/** True while a launcher or shim started for `exitDir` runs: containers of that data directory may be running. */
export async function shimsRunFor(exitDir: string): Promise<boolean> {
  return (await findTaggedProcesses(exitDir)).length > 0;
}
