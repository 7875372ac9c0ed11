import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from '../../lib/index.js';
import type { ExitResult } from '../driver.js';
import { LOST_EXIT, readExitFile } from './exit-file.js';
import type { ProcessHandle } from './process-handle.js';
import { isSameProcess } from './proc-table.js';

export interface ExitWatcherOptions {
  /** Liveness poll period, ms; each tick costs one kill(shimPid, 0) per waited container. */
  readonly pollMs: number;
  /** Every that many ticks the poll also compares the shim's start ticks (a recycled pid looks alive). */
  readonly verifyEvery: number;
  readonly logger: Logger;
}

interface Entry {
  readonly handle: ProcessHandle;
  readonly promise: Promise<ExitResult>;
  readonly settle: (exit: ExitResult) => void;
  readonly fail: (error: Error) => void;
  /** Callers still waiting; at 0 the entry is dropped even if the container runs on. */
  waiters: number;
  checking: boolean;
  recheck: boolean;
  done: boolean;
}

/**
 * Learns when containers end, without busy polling: the exit file appearing is seen through `fs.watch`
 * on its directory (one inotify watch per directory, shared by its waiters), and a slow liveness poll is
 * the safety net (a watch can miss events, and a shim killed by SIGKILL writes no file at all). Shims
 * are never berth's children (the launcher forks them), so there is no 'exit' event to use, and
 * a container started by this process and one adopted after a restart are waited on alike.
 */
export class ExitWatcher {
  private readonly entries = new Map<string, Entry>();
  private readonly dirs = new Map<string, { watcher: FSWatcher | undefined; refs: number }>();
  private timer: NodeJS.Timeout | undefined;
  private ticks = 0;
  private disposed = false;

  constructor(private readonly options: ExitWatcherOptions) {}

  /** Resolves with the container's exit; rejects with `signal.reason` when aborted (the container runs on). */
  wait(handle: ProcessHandle, signal?: AbortSignal): Promise<ExitResult> {
    if (this.disposed) return Promise.reject(new Error('process driver disposed'));
    if (signal?.aborted) return Promise.reject(signal.reason);
    const entry = this.entries.get(handle.exitFile) ?? this.add(handle);
    entry.waiters++;
    if (!signal) return entry.promise;
    return new Promise<ExitResult>((resolve, reject) => {
      const onAbort = (): void => {
        reject(signal.reason);
        entry.waiters--;
        if (entry.waiters === 0 && !entry.done) this.remove(entry);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      entry.promise.then(
        (exit) => {
          signal.removeEventListener('abort', onAbort);
          resolve(exit);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      );
    });
  }

  dispose(): void {
    this.disposed = true;
    for (const entry of [...this.entries.values()]) {
      entry.fail(new Error('process driver disposed'));
      this.remove(entry);
    }
  }

  private add(handle: ProcessHandle): Entry {
    let settle!: (exit: ExitResult) => void;
    let fail!: (error: Error) => void;
    const promise = new Promise<ExitResult>((resolve, reject) => {
      settle = resolve;
      fail = reject;
    });
    promise.catch(() => {}); // a waiter that aborted must not leave an unhandled rejection behind
    const entry: Entry = { handle, promise, settle, fail, waiters: 0, checking: false, recheck: false, done: false };
    this.entries.set(handle.exitFile, entry);
    this.watchDir(dirname(handle.exitFile));
    this.timer ??= setInterval(() => this.tick(), this.options.pollMs);
    void this.check(entry, true); // the file may have appeared before the watch started
    return entry;
  }

  private remove(entry: Entry): void {
    if (this.entries.get(entry.handle.exitFile) !== entry) return;
    this.entries.delete(entry.handle.exitFile);
    this.unwatchDir(dirname(entry.handle.exitFile));
    if (this.entries.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private tick(): void {
    this.ticks++;
    const verify = this.ticks % this.options.verifyEvery === 0;
    for (const entry of this.entries.values()) {
      if (verify || !signalZero(entry.handle.shimPid)) void this.check(entry, verify);
    }
  }

  /** Reads the exit file; without one, a shim that is gone means the exit was lost. Never rejects. */
  private async check(entry: Entry, verifyShim: boolean): Promise<void> {
    if (entry.checking) {
      entry.recheck = true;
      return;
    }
    entry.checking = true;
    try {
      do {
        entry.recheck = false;
        const { handle } = entry;
        let exit = await readExitFile(handle.exitFile);
        if (!exit) {
          const alive = signalZero(handle.shimPid) && (!verifyShim || (await isSameProcess(handle.shimPid, handle.shimStartTicks)));
          if (alive) continue;
          exit = (await readExitFile(handle.exitFile)) ?? LOST_EXIT; // it may have written just before exiting
        }
        entry.done = true;
        entry.settle(exit);
        this.remove(entry);
        return;
      } while (entry.recheck);
    } catch (e) {
      this.options.logger.warn({ err: e, exitFile: entry.handle.exitFile }, 'exit check failed; the poll retries');
    } finally {
      entry.checking = false;
    }
  }

  private watchDir(dir: string): void {
    const known = this.dirs.get(dir);
    if (known) {
      known.refs++;
      return;
    }
    let watcher: FSWatcher | undefined;
    try {
      watcher = watch(dir, { persistent: false }, (_event, filename) => {
        for (const entry of this.entries.values()) {
          if (dirname(entry.handle.exitFile) !== dir) continue;
          // The shim writes `${exitFile}.tmp` and renames it, so match the base name's prefix.
          if (filename === null || filename.startsWith(basename(entry.handle.exitFile))) void this.check(entry, false);
        }
      });
      watcher.on('error', (e) => {
        this.options.logger.debug({ err: e, dir }, 'exit watch ended; polling');
        watcher?.close();
        const slot = this.dirs.get(dir);
        if (slot) slot.watcher = undefined;
      });
    } catch (e) {
      this.options.logger.debug({ err: e, dir }, 'cannot watch; polling');
    }
    this.dirs.set(dir, { watcher, refs: 1 });
  }

  private unwatchDir(dir: string): void {
    const slot = this.dirs.get(dir);
    if (!slot) return;
    slot.refs--;
    if (slot.refs > 0) return;
    slot.watcher?.close();
    this.dirs.delete(dir);
  }
}

/** kill(pid, 0): false only when no such process exists (EPERM means it exists, as someone else's). */
function signalZero(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
