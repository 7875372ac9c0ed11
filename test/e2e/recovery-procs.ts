/**
 * What berth launched, read from /proc (for the crash tests): the shims of one data directory and the
 * containers under them. A container is recognised by a marker variable in its environment (the test
 * puts it in the spec), a shim by the data directory in its command line (`berth-shim --launcher
 * --data-dir DIR`: a shim is forked from its server's launcher without an exec, so it keeps the
 * launcher's command line) or by being the parent of a marked container.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface LaunchedContainer {
  readonly pid: number;
  readonly ppid: number;
  /** BERTH_INSTANCE and BERTH_CONTAINER of its environment. */
  readonly instance: string;
  readonly container: string;
  readonly service: string;
}

export interface LaunchedProcesses {
  readonly containers: readonly LaunchedContainer[];
  /** Shims (and launchers) of the data directory, and parents of marked containers; never zombies. */
  readonly shims: readonly { readonly pid: number; readonly ppid: number; readonly cmdline: string }[];
}

interface Stat {
  readonly pid: number;
  readonly ppid: number;
  readonly state: string;
  readonly comm: string;
}

function readStat(pid: string): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const open = text.indexOf('(');
    const close = text.lastIndexOf(')');
    const f = text.slice(close + 2).split(' ');
    return { pid: Number(pid), comm: text.slice(open + 1, close), state: f[0] ?? '?', ppid: Number(f[1]) };
  } catch {
    return undefined;
  }
}

function readNulList(path: string): string[] | undefined {
  try {
    return readFileSync(path, 'latin1').split('\0').filter((s) => s !== '');
  } catch {
    return undefined; // gone, or another user's (EACCES): not ours either way
  }
}

/**
 * Every live (non-zombie) process berth launched for `dataDir`: containers carrying
 * `markerName=markerValue` in their environment, and the shims of the data directory.
 */
export function launchedProcesses(dataDir: string, marker: { name: string; value: string }): LaunchedProcesses {
  const stats: Stat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(name);
    if (s && s.state !== 'Z') stats.push(s);
  }
  const containers: LaunchedContainer[] = [];
  const shimPids = new Set<number>();
  const cmdlines = new Map<number, string>();
  const tag = `${marker.name}=${marker.value}`;
  for (const s of stats) {
    const cmdline = (readNulList(`/proc/${s.pid}/cmdline`) ?? []).join(' ');
    cmdlines.set(s.pid, cmdline);
    if (s.comm === 'berth-shim' && cmdline.includes(dataDir)) shimPids.add(s.pid);
    const env = readNulList(`/proc/${s.pid}/environ`);
    if (!env?.includes(tag)) continue;
    const get = (key: string): string => env.find((e) => e.startsWith(`${key}=`))?.slice(key.length + 1) ?? '';
    containers.push({ pid: s.pid, ppid: s.ppid, instance: get('BERTH_INSTANCE'), container: get('BERTH_CONTAINER'), service: get('BERTH_SERVICE') });
  }
  const byPid = new Map(stats.map((s) => [s.pid, s]));
  for (const c of containers) if (byPid.get(c.ppid)?.comm === 'berth-shim') shimPids.add(c.ppid);
  const shims = [...shimPids].map((pid) => ({ pid, ppid: byPid.get(pid)?.ppid ?? 0, cmdline: cmdlines.get(pid) ?? '' }));
  return { containers, shims };
}
