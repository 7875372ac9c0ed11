import { watch, type FSWatcher } from 'node:fs';
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { ContainerLogLine, LogReadOptions } from '../driver.js';
import { LineJoiner, parseCriRecord } from './cri-log.js';

export interface LogFiles {
  /**
   * Current log; rotated ones are `${logPath}.N`, a larger N being a newer file. The shim rotates the
   * current file to one more than the highest N present and deletes the lowest Ns; a rotated file is
   * never renamed, so its N names it for life.
   */
  readonly logPath: string;
  /** Present once the container has ended, after the shim wrote its last record. */
  readonly exitFile: string;
}

const CHUNK = 64 * 1024;
const NEWLINE = 0x0a;

/**
 * Reads a container's CRI log: the rotated files oldest first, then the current one, joining P pieces.
 * `tail` keeps the last N lines of what exists now, `since` drops lines older than an RFC 3339 time
 * (string compare), `follow` then yields new lines — surviving rotation — until `signal` aborts or the
 * container has ended and its log is read to the end. An abort ends the iteration quietly.
 * Cost: without `follow`, one pass over the retained log (at most maxBytes × (maxFiles + 1)).
 */
export async function* readContainerLog(
  files: LogFiles,
  options: LogReadOptions & { readonly pollMs?: number },
): AsyncGenerator<ContainerLogLine> {
  const { tail, since, follow, signal } = options;
  const joiner = new LineJoiner();
  const keep = (line: ContainerLogLine | undefined): line is ContainerLogLine =>
    line !== undefined && (since === undefined || line.time >= since);
  const ring = tail === undefined ? undefined : new Ring<ContainerLogLine>(Math.max(0, Math.floor(tail)));
  // Watch before reading, so that a line written during the history pass wakes the follow loop.
  const wake = follow && !signal?.aborted ? new Wakeup(dirname(files.logPath), options.pollMs ?? 250, signal) : undefined;
  const history = await openHistory(files.logPath);
  let current = history.current;
  try {
    for (const file of [...history.rotated.map((r) => r.file), ...(current ? [current] : [])]) {
      for await (const records of file.records()) {
        for (const record of records) {
          const line = joiner.push(record);
          if (!keep(line)) continue;
          if (ring) ring.push(line);
          else yield line;
        }
      }
    }
    for (const { file } of history.rotated.splice(0)) await file.close();
    if (ring) yield* ring.drain();
    if (!wake) return;

    // The N of the newest rotated file read to its end (0: none). A rotated file keeps its name, so the
    // files rotated since are those with a larger N, even when that file itself was deleted meanwhile;
    // a reader that falls behind several rotations thus loses only what retention deleted, and re-reads nothing.
    let lastN = history.lastN;
    while (!signal?.aborted) {
      const ended = await exists(files.exitFile); // checked before the read: what the read finds is then all
      const batches: CriRecord[][] = [];
      if (!current) {
        // Catch up on the files rotated after `lastN`, then take the live file; if another rotation
        // slipped in between, go round again.
        for (;;) {
          for (const { n, file } of await openRotatedAfter(files.logPath, lastN)) {
            try {
              for await (const records of file.records()) batches.push(records);
              lastN = n;
            } finally {
              await file.close();
            }
          }
          current = await LogFile.open(files.logPath);
          if (!(await missedRotation(files.logPath, lastN, current))) break;
          await current?.close();
          current = undefined;
        }
      }
      let rotated = false;
      if (current) {
        for await (const records of current.records()) batches.push(records);
        const now = await stat(files.logPath).catch(() => undefined);
        if (now?.ino !== current.ino) {
          // Rotated: finish the old inode; the files rotated after it are read on the next round. Its N is
          // looked up while it is still open, so that its inode number cannot have been reused.
          rotated = true;
          for await (const records of current.records()) batches.push(records);
          lastN = (await rotatedNumberOf(files.logPath, current.ino, lastN)) ?? lastN;
          await current.close();
          current = undefined;
        }
      }
      for (const records of batches) {
        for (const record of records) {
          const line = joiner.push(record);
          if (!keep(line)) continue;
          yield line;
          if (signal?.aborted) return;
        }
      }
      if (rotated) continue;
      if (ended) return;
      await wake.next();
    }
  } finally {
    wake?.close();
    for (const { file } of history.rotated) await file.close();
    await current?.close();
  }
}

type CriRecord = NonNullable<ReturnType<typeof parseCriRecord>>;

/** One log file read forward; keeps the bytes of a record still being written for the next read. */
class LogFile {
  private offset = 0;
  private carry: Buffer = Buffer.alloc(0);

  private constructor(
    private readonly fh: FileHandle,
    readonly ino: number,
  ) {}

  static async open(path: string): Promise<LogFile | undefined> {
    try {
      const fh = await open(path, 'r');
      return new LogFile(fh, (await fh.stat()).ino);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  /** Complete records up to the current end of file, in batches of one read each. */
  async *records(): AsyncGenerator<CriRecord[]> {
    for (;;) {
      const buf = Buffer.allocUnsafe(CHUNK);
      const { bytesRead } = await this.fh.read(buf, 0, CHUNK, this.offset);
      if (bytesRead === 0) return;
      this.offset += bytesRead;
      const data = this.carry.length > 0 ? Buffer.concat([this.carry, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
      const out: CriRecord[] = [];
      let start = 0;
      for (let nl = data.indexOf(NEWLINE); nl >= 0; nl = data.indexOf(NEWLINE, start)) {
        const record = parseCriRecord(data.subarray(start, nl));
        if (record) out.push(record);
        start = nl + 1;
      }
      this.carry = Buffer.from(data.subarray(start));
      if (out.length > 0) yield out;
    }
  }

  close(): Promise<void> {
    return this.fh.close().catch(() => {});
  }
}

/** A rotated file, `${logPath}.${n}`, opened. */
interface RotatedFile {
  readonly n: number;
  readonly file: LogFile;
}

/**
 * Opens the rotated files (oldest first) and then the current one. A rotation between listing the
 * rotated files and opening the current one would hide a file between them: then the files rotated
 * since are opened too and the current one is opened again. `lastN` is the N of the newest rotated file.
 */
async function openHistory(logPath: string): Promise<{ rotated: RotatedFile[]; current: LogFile | undefined; lastN: number }> {
  const rotated: RotatedFile[] = [];
  let lastN = 0;
  for (;;) {
    for (const opened of await openRotatedAfter(logPath, lastN)) {
      rotated.push(opened);
      lastN = opened.n;
    }
    const current = await LogFile.open(logPath);
    if (!(await missedRotation(logPath, lastN, current))) return { rotated, current, lastN };
    await current?.close();
  }
}

/**
 * Opens the rotated files with an N greater than `after`, oldest first: those rotated after that file,
 * whether or not it still exists. A file deleted (by retention) between listing and opening is skipped.
 */
async function openRotatedAfter(logPath: string, after: number): Promise<RotatedFile[]> {
  const files: RotatedFile[] = [];
  for (const n of await rotatedNumbers(logPath, after)) {
    const file = await LogFile.open(`${logPath}.${n}`);
    if (file) files.push({ n, file });
  }
  return files;
}

/**
 * True when a file was rotated after N `after` and before `current` was opened as the live file: the
 * oldest rotated file past `after` is then not `current` (nor is there none).
 */
async function missedRotation(logPath: string, after: number, current: LogFile | undefined): Promise<boolean> {
  for (const n of await rotatedNumbers(logPath, after)) {
    const st = await stat(`${logPath}.${n}`).catch(() => undefined);
    if (st) return st.ino !== current?.ino;
  }
  return false;
}

/**
 * The N of the rotated file with inode `ino`, looked for past N `after`; undefined when there is none
 * (deleted, or not rotated). Only meaningful while `ino` is held open, so that it cannot be reused.
 */
async function rotatedNumberOf(logPath: string, ino: number, after: number): Promise<number | undefined> {
  for (const n of await rotatedNumbers(logPath, after)) {
    const st = await stat(`${logPath}.${n}`).catch(() => undefined);
    if (st?.ino === ino) return n;
  }
  return undefined;
}

/**
 * The N of every `${logPath}.N` with N greater than `after`, ascending (oldest first). Only the names the
 * shim writes count: decimal without a leading zero, at most 15 digits.
 */
async function rotatedNumbers(logPath: string, after = 0): Promise<number[]> {
  const base = `${basename(logPath)}.`;
  let names: string[];
  try {
    names = await readdir(dirname(logPath));
  } catch {
    return [];
  }
  return names
    .filter((n) => n.startsWith(base) && /^[1-9]\d{0,14}$/.test(n.slice(base.length)))
    .map((n) => Number(n.slice(base.length)))
    .filter((n) => n > after)
    .sort((a, b) => a - b);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Resolves `next()` on a change in `dir`, after `pollMs` (a watch may miss events), or on abort. */
class Wakeup {
  private readonly watcher: FSWatcher | undefined;
  private pending = false;
  private resolve: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    dir: string,
    private readonly pollMs: number,
    private readonly signal: AbortSignal | undefined,
  ) {
    try {
      this.watcher = watch(dir, { persistent: false }, () => this.fire());
      this.watcher.on('error', () => this.watcher?.close());
    } catch {
      this.watcher = undefined; // no directory yet: the poll covers it
    }
    signal?.addEventListener('abort', this.fire, { once: true });
  }

  next(): Promise<void> {
    if (this.pending || this.signal?.aborted) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.resolve = resolve;
      this.timer = setTimeout(this.fire, this.pollMs);
    });
  }

  close(): void {
    this.watcher?.close();
    this.signal?.removeEventListener('abort', this.fire);
    if (this.timer) clearTimeout(this.timer);
    this.resolve?.();
  }

  private readonly fire = (): void => {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const resolve = this.resolve;
    this.resolve = undefined;
    if (resolve) resolve();
    else this.pending = true;
  };
}

/** Fixed-size ring keeping the last `size` items pushed. */
class Ring<T> {
  private readonly items: T[] = [];
  private next = 0;

  constructor(private readonly size: number) {}

  push(item: T): void {
    if (this.size === 0) return;
    if (this.items.length < this.size) this.items.push(item);
    else this.items[this.next] = item;
    this.next = (this.next + 1) % this.size;
  }

  *drain(): Generator<T> {
    if (this.items.length < this.size) {
      yield* this.items;
      return;
    }
    for (let i = 0; i < this.size; i++) yield this.items[(this.next + i) % this.size] as T;
  }
}
