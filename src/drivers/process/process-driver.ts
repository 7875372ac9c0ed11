import { constants } from 'node:os';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CodedError, nativeBinaryPath, silentLogger, systemClock } from '../../lib/index.js';
import type { Clock, Disposable, Logger } from '../../lib/index.js';
import type {
  ContainerConfig,
  ContainerHandle,
  ContainerLogLine,
  ContainerStats,
  Driver,
  ExecOptions,
  ExecResult,
  ExitResult,
  LogReadOptions,
  RecoverResult,
  StopOptions,
} from '../driver.js';
import { execCommand, resolveUser } from './exec-command.js';
import { LOST_EXIT, readExitFile } from './exit-file.js';
import { ExitWatcher } from './exit-watcher.js';
import { readContainerLog } from './log-reader.js';
import { toProcessHandle, type ProcessHandle } from './process-handle.js';
import { containerTree, treeUsage } from './process-tree.js';
import { isSameProcess, ProcScanner, systemUnits } from './proc-table.js';
import { ShimLauncher, type ShimReport } from './shim-launcher.js';

export interface ProcessDriverOptions {
  /** The compiled supervisor; default `build/berth-shim` under the package root. */
  readonly shimPath?: string;
  /** Times the SIGKILL escalation of `stop`. */
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Liveness poll of waited containers, ms (default 1000): one kill(pid, 0) each per tick. */
  readonly pollMs?: number;
  /** How long the shim may take to report that the container started, ms (default 10000). */
  readonly startTimeoutMs?: number;
  /** Poll period of `logs({ follow })` besides fs.watch, ms (default 250). */
  readonly logPollMs?: number;
  /**
   * One directory for every container's exit file (`<instanceId>.<name>.exit.json`), so that a single
   * inotify watch covers them all; without it each container's state directory holds its own, watched
   * separately. app/ sets `<data>/exits`.
   */
  readonly exitDir?: string;
}

/**
 * Runs containers as plain processes, each under its own berth-shim (native/berth-shim.c), which keeps
 * it running, logged and accounted for while berth itself is down; see docs/drivers.md.
 *
 * Files per container in `config.stateDir`: `<name>.exit.json` (written by the shim when the container
 * ends) and `logs/<name>.log` plus at most K rotated `.N` (CRI format; N only grows, a larger N is a
 * newer file, and a rotated file is never renamed). `<name>` is the container name with characters
 * outside [A-Za-z0-9._-] replaced by '_'.
 *
 * Invariants: a pid is only signalled after its start ticks matched (pids are recycled); a container
 * never outlives its shim; the exit file, once present, is final.
 */
export class ProcessDriver implements Driver, Disposable {
  readonly name = 'process';
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly logPollMs: number;
  private readonly exitDir: string | undefined;
  private readonly exits: ExitWatcher;
  private readonly launcher: ShimLauncher;
  private readonly scanner = new ProcScanner(50);

  constructor(options: ProcessDriverOptions = {}) {
    const shimPath = options.shimPath ?? nativeBinaryPath('berth-shim');
    this.clock = options.clock ?? systemClock;
    this.logger = (options.logger ?? silentLogger).child({ driver: 'process' });
    this.launcher = new ShimLauncher(shimPath, { timeoutMs: options.startTimeoutMs ?? 10_000, logger: this.logger });
    this.logPollMs = options.logPollMs ?? 250;
    this.exitDir = options.exitDir;
    this.exits = new ExitWatcher({ pollMs: options.pollMs ?? 1000, verifyEvery: 15, logger: this.logger });
  }

  /** @throws CodedError `CONTAINER_START_FAILED` (empty argv, command not found, bad working dir or user …). */
  async start(config: ContainerConfig): Promise<ContainerHandle> {
    const command = config.argv[0];
    if (command === undefined || command === '') {
      throw new CodedError('CONTAINER_START_FAILED', `cannot start container "${config.containerName}": no command`);
    }
    const name = fileSafe(config.containerName);
    // With a shared exit directory, nothing in stateDir is watched, so the log sits there directly (one
    // directory less to create per start); otherwise logs/ keeps log writes from waking the exit watch.
    const logPath = this.exitDir ? join(config.stateDir, `${name}.log`) : join(config.stateDir, 'logs', `${name}.log`);
    const exitFile = this.exitDir
      ? join(this.exitDir, `${fileSafe(config.instanceId)}.${name}.exit.json`)
      : join(config.stateDir, `${name}.exit.json`);
    // The shim creates stateDir and logs/ (mkdir -p) and removes a stale exit file before it forks.
    let report: ShimReport;
    try {
      report = await this.launcher.launch({
        exitFile,
        logPath,
        logMaxBytes: config.log.maxBytes,
        logMaxFiles: config.log.maxFiles,
        workingDir: config.workingDir,
        user: config.user,
        argv: config.argv,
        env: config.env,
      });
    } catch (e) {
      if (e instanceof CodedError) {
        throw new CodedError(e.code, `cannot start container "${config.containerName}": ${e.message}`, {
          ...e.details,
          instanceId: config.instanceId,
          containerName: config.containerName,
        });
      }
      throw e;
    }
    const handle: ProcessHandle = {
      driver: 'process',
      pid: report.pid,
      pgid: report.pid,
      startTicks: report.startTicks,
      shimPid: report.shimPid,
      shimStartTicks: report.shimStartTicks,
      logPath,
      exitFile,
    };
    this.logger.debug({ instanceId: config.instanceId, container: config.containerName, pid: report.pid }, 'container started');
    return handle;
  }

  async recover(h: ContainerHandle): Promise<RecoverResult> {
    const handle = toProcessHandle(h);
    const exit = await readExitFile(handle.exitFile);
    if (exit) return { state: 'exited', exit };
    if (await isSameProcess(handle.shimPid, handle.shimStartTicks)) return { state: 'running' };
    return { state: 'exited', exit: await this.lostOrLate(handle) };
  }

  wait(h: ContainerHandle, signal?: AbortSignal): Promise<ExitResult> {
    return this.exits.wait(toProcessHandle(h), signal);
  }

  /** @throws CodedError `REQUEST_INVALID` for a signal name Node does not know. */
  async stop(h: ContainerHandle, options: StopOptions): Promise<ExitResult> {
    const handle = toProcessHandle(h);
    if (!Object.hasOwn(constants.signals, options.signal)) {
      throw new CodedError('REQUEST_INVALID', `unknown signal "${options.signal}"`, { signal: options.signal });
    }
    const exit = await readExitFile(handle.exitFile);
    if (exit) return exit;
    if (!(await isSameProcess(handle.shimPid, handle.shimStartTicks))) return this.lostOrLate(handle);
    signalGroup(handle.pgid, options.signal);
    const graceful = await this.waitAtMost(handle, options.timeoutMs);
    if (graceful) return graceful;
    this.logger.info({ pid: handle.pid, signal: options.signal, timeoutMs: options.timeoutMs }, 'container ignored stop signal; killing');
    await this.killTree(handle);
    return this.wait(handle);
  }

  /** Kills the container first if it still runs; leaves the logs (the agent rotates them away). */
  async destroy(h: ContainerHandle): Promise<void> {
    const handle = toProcessHandle(h);
    if (!(await readExitFile(handle.exitFile)) && (await isSameProcess(handle.shimPid, handle.shimStartTicks))) {
      await this.killTree(handle);
      await this.wait(handle);
    }
    await rm(handle.exitFile, { force: true });
    await rm(`${handle.exitFile}.tmp`, { force: true });
  }

  async stats(h: ContainerHandle): Promise<ContainerStats | undefined> {
    const handle = toProcessHandle(h);
    if (await exists(handle.exitFile)) return undefined;
    const units = await systemUnits();
    let table = await this.scanner.scan();
    if (!table.entries.has(handle.pid)) table = await this.scanner.rescan(table); // started after that scan
    const pids = containerTree(table, handle);
    if (pids.length === 0) return undefined;
    return { ...treeUsage(table, pids, units), sampledAt: table.takenAt };
  }

  logs(h: ContainerHandle, options: LogReadOptions): AsyncIterable<ContainerLogLine> {
    const handle = toProcessHandle(h);
    return readContainerLog(handle, { ...options, pollMs: this.logPollMs });
  }

  /**
   * Runs a command beside the container as a child of berth (not of the shim: it is short-lived and
   * berth waits for it), in its own process group, killed at `timeoutMs`. See execCommand.
   * @throws CodedError `CONTAINER_NOT_RUNNING` once the container has exited.
   */
  async exec(h: ContainerHandle, argv: readonly string[], options: ExecOptions): Promise<ExecResult> {
    const handle = toProcessHandle(h);
    if ((await exists(handle.exitFile)) || !(await isSameProcess(handle.shimPid, handle.shimStartTicks))) {
      throw new CodedError('CONTAINER_NOT_RUNNING', 'cannot exec in a container that has exited', { pid: handle.pid });
    }
    let ids: { uid: number; gid: number } | undefined;
    try {
      ids = await resolveUser(options.user);
    } catch (error) {
      return { exitCode: 126, output: (error as Error).message, timedOut: false };
    }
    return execCommand(argv, { ...options, ...ids });
  }

  /** Stops watching and ends the launcher; pending `wait`s reject. Containers run on under their shims. */
  dispose(): void {
    this.exits.dispose();
    this.launcher.dispose();
  }

  private async waitAtMost(handle: ProcessHandle, ms: number): Promise<ExitResult | undefined> {
    const done = new AbortController();
    try {
      return await Promise.race([
        this.exits.wait(handle, done.signal),
        this.clock.sleep(Math.max(0, ms), done.signal).then(() => undefined),
      ]);
    } finally {
      done.abort();
    }
  }

  /** SIGKILLs the group and every other process of the tree (a member may have left the group). */
  private async killTree(handle: ProcessHandle): Promise<void> {
    signalGroup(handle.pgid, 'SIGKILL');
    for (const pid of containerTree(await this.scanner.scan(true), handle)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  }

  /**
   * The shim is gone: its exit file may have landed just now; otherwise the exit is lost. Whatever of
   * the container might still run unsupervised is killed, so that a restart never makes a duplicate.
   */
  private async lostOrLate(handle: ProcessHandle): Promise<ExitResult> {
    const late = await readExitFile(handle.exitFile);
    if (late) return late;
    if (await isSameProcess(handle.pid, handle.startTicks)) {
      this.logger.warn({ pid: handle.pid }, 'container outlived its shim; killing it');
      signalGroup(handle.pgid, 'SIGKILL');
    }
    return LOST_EXIT;
  }
}

/** Signals a process group; a group that no longer exists is not an error. */
function signalGroup(pgid: number, signal: string): void {
  if (pgid <= 1) return; // kill(-1) would reach every process we may signal
  try {
    process.kill(-pgid, signal);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

function fileSafe(name: string): string {
  const safe = name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
  return safe === '' ? 'container' : safe;
}
