import { constants } from 'node:os';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
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
  ListedContainer,
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
import { isSameProcess, ProcScanner, scanSubtree, systemUnits } from './proc-table.js';
import { launcherArgs } from './shim-census.js';
import { ShimLauncher, type ShimReport } from './shim-launcher.js';
import { parseShimState, recordPaths, recordPathsOfExitFile, removeRecords, writeIntent } from './shim-records.js';
import { listStartedContainers } from './shim-recovery.js';

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
   * separately. app/ sets `<data>/exits`. It also holds the driver's own records of what it started
   * (`.start.json` intents, the shims' `.shim` state files) and tags the launcher and its shims, so
   * that `list` finds every container started here: without it, `list` finds nothing.
   */
  readonly exitDir?: string;
  /** How long `list` waits for a launcher of an earlier berth to finish and exit, ms (default 3000). */
  readonly oldLauncherWaitMs?: number;
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
  private readonly oldLauncherWaitMs: number;
  private readonly startTimeoutMs: number;
  /** Intent files of starts in flight: `list` leaves them alone. */
  private readonly starting = new Set<string>();
  private exitDirMade: Promise<unknown> | undefined;

  constructor(options: ProcessDriverOptions = {}) {
    const shimPath = options.shimPath ?? nativeBinaryPath('berth-shim');
    this.clock = options.clock ?? systemClock;
    this.logger = (options.logger ?? silentLogger).child({ driver: 'process' });
    this.startTimeoutMs = options.startTimeoutMs ?? 10_000;
    this.launcher = new ShimLauncher(shimPath, { timeoutMs: this.startTimeoutMs, logger: this.logger, args: launcherArgs(options.exitDir) });
    this.oldLauncherWaitMs = options.oldLauncherWaitMs ?? 3000;
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
    const records = this.exitDir ? recordPaths(this.exitDir, `${fileSafe(config.instanceId)}.${name}`) : undefined;
    const exitFile = records ? records.exitFile : join(config.stateDir, `${name}.exit.json`);
    // Crash safety: the intent is on disk before the shim can exist, and the shim writes its state file
    // before it reports; so whenever berth dies, `list` finds the container (docs/drivers.md).
    if (records) {
      this.starting.add(records.intentFile);
      try {
        this.exitDirMade ??= mkdir(this.exitDir as string, { recursive: true });
        await this.exitDirMade;
        await writeIntent(records.intentFile, {
          instanceId: config.instanceId,
          containerName: config.containerName,
          logPath,
          exitFile,
          stateFile: records.stateFile,
          at: new Date(this.clock.now()).toISOString(),
        });
      } catch (e) {
        this.starting.delete(records.intentFile);
        this.exitDirMade = undefined;
        const why = `cannot start container "${config.containerName}": cannot record the start in ${records.intentFile}: ${(e as Error).message}`;
        throw new CodedError('CONTAINER_START_FAILED', why, { instanceId: config.instanceId, containerName: config.containerName });
      }
    }
    // The shim creates stateDir and logs/ (mkdir -p) and removes a stale exit file before it forks.
    let report: ShimReport;
    try {
      report = await this.launcher.launch({
        exitFile,
        ...(records ? { stateFile: records.stateFile } : {}),
        logPath,
        logMaxBytes: config.log.maxBytes,
        logMaxFiles: config.log.maxFiles,
        workingDir: config.workingDir,
        user: config.user,
        argv: config.argv,
        env: config.env,
      });
    } catch (e) {
      // A shim that said why it could not start runs nothing: its records go. One whose outcome is not
      // known (timed out, launcher died) may still start: it is killed if it does (killIfStartedLater).
      if (records && e instanceof CodedError) {
        if (e.details.maybeStarted === true) void this.killIfStartedLater(records, { logPath, exitFile });
        else await removeRecords(records).catch(() => undefined);
      }
      if (e instanceof CodedError) {
        throw new CodedError(e.code, `cannot start container "${config.containerName}": ${e.message}`, {
          ...e.details,
          instanceId: config.instanceId,
          containerName: config.containerName,
        });
      }
      throw e;
    } finally {
      if (records) this.starting.delete(records.intentFile);
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
    const records = this.exitDir ? recordPathsOfExitFile(handle.exitFile) : undefined;
    if (records) await removeRecords(records);
  }

  /**
   * Every container started with this driver's exit directory, by this berth or an earlier one, with its
   * handle: from the intents and the shims' state files, after any launcher an earlier berth left has
   * exited (so that no start is still in flight). A shim of the directory with no state file (its
   * launcher was killed mid-start) is SIGKILLed — its container dies with it —, and intents whose start
   * never ran are removed. Call it before starting anything (see `Driver.list`).
   */
  async list(): Promise<readonly ListedContainer[]> {
    if (!this.exitDir) return [];
    return listStartedContainers(this.exitDir, {
      ownLauncher: this.launcher.pid(),
      inFlight: this.starting,
      oldLauncherWaitMs: this.oldLauncherWaitMs,
      clock: this.clock,
      logger: this.logger,
    });
  }

  async stats(h: ContainerHandle): Promise<ContainerStats | undefined> {
    const handle = toProcessHandle(h);
    if (await exists(handle.exitFile)) return undefined;
    const units = await systemUnits();
    // The shim's subtree (a few files) when the kernel lists children and the shim still runs; else
    // all of /proc, shared by the callers of one sampling round.
    let table = scanSubtree(handle.shimPid);
    if (!table?.entries.has(handle.pid)) {
      table = await this.scanner.scan();
      if (!table.entries.has(handle.pid)) table = await this.scanner.rescan(table); // started after that scan
    }
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

  /**
   * A start whose outcome is unknown (its report did not come in time, or the launcher died): if the shim
   * writes its state file after all, nobody holds a handle to that container, so it is destroyed.
   */
  private async killIfStartedLater(records: { readonly stateFile: string; readonly intentFile: string }, paths: { readonly logPath: string; readonly exitFile: string }): Promise<void> {
    const deadline = this.clock.now() + this.startTimeoutMs;
    for (;;) {
      const state = await readFile(records.stateFile, 'utf8').then(parseShimState, () => undefined);
      if (state && state.pid > 1 && state.shimPid > 1) {
        this.logger.warn({ pid: state.pid }, 'a container whose start was given up started after all; killing it');
        const handle: ProcessHandle = { driver: 'process', pid: state.pid, pgid: state.pid, startTicks: state.startTicks, shimPid: state.shimPid, shimStartTicks: state.shimStartTicks, ...paths };
        await this.destroy(handle).catch((e: unknown) => this.logger.warn({ err: e }, 'killing it failed'));
        return;
      }
      if (this.clock.now() >= deadline) return; // never ran, or stuck: `list` finds it after a restart
      await this.clock.sleep(100);
    }
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
