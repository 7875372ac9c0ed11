import { execFile } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readdirSync, readSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';

/** The fields berth reads from one /proc/PID/stat line (proc(5)). */
export interface ProcEntry {
  readonly pid: number;
  /** One letter: R, S, D, Z (zombie: exited, not yet reaped) … */
  readonly state: string;
  readonly ppid: number;
  readonly pgrp: number;
  /** utime + stime, clock ticks. */
  readonly cpuTicks: number;
  /** Clock ticks after boot at which the process started: with the pid, an identity that survives recycling. */
  readonly startTicks: number;
  readonly rssPages: number;
}

/**
 * Parses one /proc/PID/stat text. The command name (field 2) sits in parentheses and may itself hold
 * spaces and parentheses, so fields are counted from the *last* ')'.
 */
export function parseProcStat(text: string): ProcEntry | undefined {
  const close = text.lastIndexOf(')');
  const open = text.indexOf(' (');
  if (close < 0 || open < 0) return undefined;
  const f = text.slice(close + 2).split(' '); // f[0] is field 3
  const num = (field: number): number => Number(f[field - 3]);
  const entry: ProcEntry = {
    pid: Number(text.slice(0, open)),
    state: f[0] ?? '?',
    ppid: num(4),
    pgrp: num(5),
    cpuTicks: num(14) + num(15),
    startTicks: num(22),
    rssPages: num(24),
  };
  return Number.isFinite(entry.startTicks) && Number.isFinite(entry.cpuTicks) ? entry : undefined;
}

/** Reads /proc/PID/stat; undefined when the process is gone. */
export async function readProcEntry(pid: number): Promise<ProcEntry | undefined> {
  try {
    return parseProcStat(await readFile(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return undefined;
  }
}

/** True when `pid` is still the process that started at `startTicks` and has not exited (not a zombie). */
export async function isSameProcess(pid: number, startTicks: number): Promise<boolean> {
  const entry = await readProcEntry(pid);
  return entry !== undefined && entry.startTicks === startTicks && entry.state !== 'Z';
}

/** One snapshot of every process, with a parent → children index. */
export class ProcTable {
  private readonly children = new Map<number, number[]>();

  constructor(
    readonly entries: ReadonlyMap<number, ProcEntry>,
    /** `performance.now()` when the scan began. */
    readonly takenAt = performance.now(),
  ) {
    for (const e of entries.values()) {
      const list = this.children.get(e.ppid);
      if (list) list.push(e.pid);
      else this.children.set(e.ppid, [e.pid]);
    }
  }

  /** Every process that descends from `pid` (not `pid` itself). */
  descendants(pid: number): number[] {
    const out: number[] = [];
    const todo = [...(this.children.get(pid) ?? [])];
    for (let next = todo.pop(); next !== undefined; next = todo.pop()) {
      out.push(next);
      todo.push(...(this.children.get(next) ?? []));
    }
    return out;
  }

  /** Members of process group `pgid`. */
  group(pgid: number): number[] {
    const out: number[] = [];
    for (const e of this.entries.values()) if (e.pgrp === pgid) out.push(e.pid);
    return out;
  }
}

/**
 * Scans /proc at most once per `maxAgeMs` (default 50 ms): sampling the stats of 100 containers in one
 * pass then costs one scan, not 100. Concurrent callers share the scan in flight.
 */
export class ProcScanner {
  private last: { at: number; table: Promise<ProcTable> } | undefined;

  constructor(private readonly maxAgeMs = 50) {}

  scan(fresh = false): Promise<ProcTable> {
    const now = performance.now();
    if (!fresh && this.last && now - this.last.at < this.maxAgeMs) return this.last.table;
    const table = scanProc(now);
    this.last = { at: now, table };
    return table;
  }

  /**
   * A scan newer than `stale` (a process started after it is missing from it): the one already taken
   * since, if any, so that 100 callers holding the same stale table cause one new scan, not 100.
   */
  rescan(stale: ProcTable): Promise<ProcTable> {
    return this.last && this.last.at > stale.takenAt ? this.last.table : this.scan(true);
  }
}

/*
 * Synchronous on purpose: /proc is served from kernel memory and never waits on a disk, and one pass of
 * openSync/readSync over 500 processes costs ~2–7 ms of CPU where the promise API costs 5–10× that in
 * thread-pool hops. Blocking the loop that long once per sampling round is the cheaper trade.
 */
const statBuffer = Buffer.alloc(4096);

async function scanProc(takenAt: number): Promise<ProcTable> {
  const entries = new Map<number, ProcEntry>();
  for (const name of readdirSync('/proc')) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const entry = readStat(name);
    if (entry) entries.set(entry.pid, entry);
  }
  return new ProcTable(entries, takenAt);
}

/** One process's /proc/PID/stat, or undefined when it exited meanwhile. */
function readStat(pid: string | number): ProcEntry | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(`/proc/${pid}/stat`, 'r');
    const n = readSync(fd, statBuffer, 0, statBuffer.length, 0);
    return parseProcStat(statBuffer.toString('latin1', 0, n));
  } catch {
    return undefined; // exited between listing and reading
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Processes a subtree read may hold at most (a fork bomb under one shim must not hold the loop). */
const SUBTREE_MAX = 10_000;

/**
 * `root` and its descendants, found through /proc/PID/task/TID/children (proc(5); Linux ≥ 3.5 with
 * CONFIG_PROC_CHILDREN) instead of every process on the host: a shim is its container's subreaper,
 * so everything the container ran is below it. With 1,000 instances (2,000+ processes) a stats
 * request then reads a handful of files instead of all of /proc (~40 ms of CPU each; the console's
 * stats, every 5 s per open page, made that a measurable cost: bench/console.bench.ts).
 * A process that forks while this runs may be missed, as in a whole scan.
 * @returns undefined when the kernel has no children files: scan all of /proc then
 */
export function scanSubtree(root: number, takenAt = performance.now()): ProcTable | undefined {
  const entries = new Map<number, ProcEntry>();
  const queue = [root];
  while (queue.length > 0 && entries.size < SUBTREE_MAX) {
    const pid = queue.pop() as number;
    if (entries.has(pid)) continue;
    const entry = readStat(pid);
    if (!entry) continue;
    entries.set(pid, entry);
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue; // exited meanwhile
    }
    for (const tid of tasks) {
      let text: string;
      try {
        text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'latin1');
      } catch (error) {
        if (pid === root && (error as NodeJS.ErrnoException).code === 'ENOENT' && existsSync(`/proc/${pid}/task/${tid}`)) return undefined;
        continue;
      }
      for (const child of text.split(' ')) if (child.trim() !== '') queue.push(Number(child));
    }
  }
  return new ProcTable(entries, takenAt);
}

/** Units of /proc numbers: clock ticks per second and bytes per page, asked of `getconf` once. */
export interface SystemUnits {
  readonly clockTicksPerSecond: number;
  readonly pageSizeBytes: number;
}

let units: Promise<SystemUnits> | undefined;

/** Reads CLK_TCK and PAGESIZE once per process; falls back to 100 and 4096 (Linux's usual values). */
export function systemUnits(): Promise<SystemUnits> {
  units ??= Promise.all([getconf('CLK_TCK', 100), getconf('PAGESIZE', 4096)]).then(([tck, page]) => ({
    clockTicksPerSecond: tck,
    pageSizeBytes: page,
  }));
  return units;
}

function getconf(name: string, fallback: number): Promise<number> {
  return new Promise((resolve) => {
    execFile('getconf', [name], { timeout: 2000 }, (error, stdout) => {
      const n = Number(String(stdout).trim());
      resolve(!error && Number.isInteger(n) && n > 0 ? n : fallback);
    });
  });
}
