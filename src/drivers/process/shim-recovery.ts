import type { Clock, Logger } from '../../lib/index.js';
import type { ListedContainer } from '../driver.js';
import type { ProcessHandle } from './process-handle.js';
import { isSameProcess } from './proc-table.js';
import { findTaggedProcesses, type TaggedProcess } from './shim-census.js';
import { readStartRecords, recordPathsOfExitFile, removeRecords, type StartRecord } from './shim-records.js';

export interface ListOptions {
  /** Pid of this driver's own launcher, when it has one (it is not waited for). */
  readonly ownLauncher: number | undefined;
  /** Intent files of starts this driver has in flight: never removed. */
  readonly inFlight: ReadonlySet<string>;
  /** How long to wait for an earlier berth's launcher to exit before it is SIGKILLed, ms. */
  readonly oldLauncherWaitMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
}

/**
 * The recovery procedure of the process driver (docs/drivers.md, "Crash safety"), in three steps:
 *
 * 1. Waits until every launcher an earlier berth left for `exitDir` has exited (SIGKILL after
 *    `oldLauncherWaitMs`). A launcher whose berth died serves the requests berth wrote, then waits for
 *    the report of each shim it started and kills that container; once it is gone, no shim of the
 *    directory is still being started, and each one alive has written its state file.
 * 2. Reads the intents and state files: one container per state file.
 * 3. Finds the shims of the directory in /proc (their command line carries the exit directory): one
 *    that no state file names (its launcher was killed between the fork and the state file) is
 *    SIGKILLed, and its container dies with it (PDEATHSIG). Intents with no state file name a start
 *    that never ran and are removed.
 *
 * @returns every recorded container, running or ended, with its handle.
 */
export async function listStartedContainers(exitDir: string, options: ListOptions): Promise<ListedContainer[]> {
  await awaitOldLaunchers(exitDir, options);
  let records = await readStartRecords(exitDir);
  let strays = unrecordedShims(await findTaggedProcesses(exitDir), records);
  if (strays.length > 0) {
    // A state file may be on its way (tmp, rename): look once more before killing.
    await options.clock.sleep(200);
    records = await readStartRecords(exitDir);
    strays = unrecordedShims(await findTaggedProcesses(exitDir), records);
    for (const shim of strays) {
      options.logger.warn({ shimPid: shim.pid, exitDir }, 'a shim of this data directory has no state file: killing it and its container');
      await killIfSame(shim.pid, shim.startTicks);
    }
  }
  const listed: ListedContainer[] = [];
  for (const record of records) {
    const { intent, state } = record;
    if (!state) {
      if (!options.inFlight.has(record.intentFile)) await removeRecords({ intentFile: record.intentFile, stateFile: intent.stateFile });
      continue;
    }
    if (state.pid <= 1 || state.shimPid <= 1) continue;
    const handle: ProcessHandle = {
      driver: 'process',
      pid: state.pid,
      pgid: state.pid,
      startTicks: state.startTicks,
      shimPid: state.shimPid,
      shimStartTicks: state.shimStartTicks,
      logPath: intent.logPath,
      exitFile: intent.exitFile,
    };
    if (!recordPathsOfExitFile(handle.exitFile)) continue; // not one of ours
    listed.push({ instanceId: intent.instanceId, containerName: intent.containerName, handle });
  }
  return listed;
}

async function awaitOldLaunchers(exitDir: string, options: ListOptions): Promise<void> {
  const deadline = options.clock.now() + options.oldLauncherWaitMs;
  for (;;) {
    const launchers = (await findTaggedProcesses(exitDir)).filter((p) => p.role === 'launcher' && p.pid !== options.ownLauncher);
    if (launchers.length === 0) return;
    if (options.clock.now() >= deadline) {
      options.logger.warn({ pids: launchers.map((l) => l.pid), exitDir }, 'a launcher of an earlier berth is still running: killing it');
      for (const l of launchers) await killIfSame(l.pid, l.startTicks);
      return;
    }
    await options.clock.sleep(20);
  }
}

function unrecordedShims(found: readonly TaggedProcess[], records: readonly StartRecord[]): TaggedProcess[] {
  const known = new Set(records.flatMap((r) => (r.state ? [`${r.state.shimPid}:${r.state.shimStartTicks}`] : [])));
  return found.filter((p) => p.role === 'shim' && !known.has(`${p.pid}:${p.startTicks}`));
}

async function killIfSame(pid: number, startTicks: number): Promise<void> {
  if (pid <= 1 || !(await isSameProcess(pid, startTicks))) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone meanwhile
  }
}
