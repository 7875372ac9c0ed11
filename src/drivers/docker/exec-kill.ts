import { readdir, readFile } from 'node:fs/promises';

/*
 * Killing what a `docker exec` started. The engine has no "kill exec" call, so berth, which runs on the
 * engine's machine, signals the exec's host pid itself (ExecInspect.Pid). runc makes an exec'd process
 * the leader of a new session (and process group), and its children inherit both; a child that
 * left the group still has the session, and one that started its own session is still a descendant.
 */

interface ProcStat {
  readonly ppid: number;
  readonly pgrp: number;
  readonly sid: number;
}

function parseStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const f = text.slice(close + 2).split(' '); // f[0] is field 3 (state)
  const stat = { ppid: Number(f[1]), pgrp: Number(f[2]), sid: Number(f[3]) };
  return Number.isInteger(stat.ppid) && Number.isInteger(stat.sid) ? stat : undefined;
}

/** Every process of the host: pid → ppid, pgrp, sid (a process gone while reading is left out). */
async function scanProcesses(): Promise<Map<number, ProcStat>> {
  const table = new Map<number, ProcStat>();
  const names = await readdir('/proc').catch(() => [] as string[]);
  await Promise.all(
    names
      .filter((n) => /^\d+$/.test(n))
      .map(async (n) => {
        const stat = parseStat(await readFile(`/proc/${n}/stat`, 'latin1').catch(() => ''));
        if (stat) table.set(Number(n), stat);
      }),
  );
  return table;
}

/**
 * Whether host process `pid` belongs to container `containerId` (full id), by its cgroup path — which
 * names the container with every cgroup driver. `gone` when there is no such process.
 */
export async function processOfContainer(pid: number, containerId: string): Promise<'yes' | 'no' | 'gone'> {
  if (!(pid > 1)) return 'no';
  try {
    return (await readFile(`/proc/${pid}/cgroup`, 'utf8')).includes(containerId) ? 'yes' : 'no';
  } catch {
    return 'gone';
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone already
  }
}

/**
 * SIGKILLs the session that exec'd process `leader` leads, and every descendant of it: the group and
 * its descendants are first stopped (SIGSTOP: a stopped process cannot fork), the set is re-read until
 * it no longer grows (at most 10 rounds), then all of it is killed. `leader` must have been checked to
 * be the container's (processOfContainer). Cost: one or two scans of /proc.
 * @returns how many processes were signalled.
 */
export async function killExecSession(leader: number): Promise<number> {
  if (!(leader > 1)) return 0;
  signal(-leader, 'SIGSTOP');
  const members = new Set<number>([leader]);
  for (let round = 0; round < 10; round++) {
    const table = await scanProcesses();
    const children = new Map<number, number[]>();
    for (const [pid, s] of table) children.set(s.ppid, [...(children.get(s.ppid) ?? []), pid]);
    const found = new Set<number>();
    for (const [pid, s] of table) if (s.sid === leader || s.pgrp === leader) found.add(pid);
    for (const root of [...found, ...members]) {
      const stack = [root];
      while (stack.length > 0) {
        const pid = stack.pop() as number;
        for (const child of children.get(pid) ?? []) {
          if (!found.has(child)) {
            found.add(child);
            stack.push(child);
          }
        }
      }
    }
    const fresh = [...found].filter((pid) => !members.has(pid));
    for (const pid of fresh) {
      members.add(pid);
      signal(pid, 'SIGSTOP');
    }
    if (fresh.length === 0) break;
  }
  signal(-leader, 'SIGKILL');
  for (const pid of members) if (pid > 1) signal(pid, 'SIGKILL');
  return members.size;
}

/**
 * After an exec'd command exited: SIGKILLs what is left of its process group (a daemon it started), as
 * the process driver does. Skipped when `leader` is now another process (a pid reused outside the
 * container); while any member of the group lives, the kernel does not reuse its id.
 */
export async function killExecLeftovers(leader: number, containerId: string): Promise<void> {
  if (!(leader > 1)) return;
  if ((await processOfContainer(leader, containerId)) === 'no') return;
  signal(-leader, 'SIGKILL');
}
