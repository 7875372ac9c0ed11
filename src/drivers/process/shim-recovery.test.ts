import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { nativeBinaryPath } from '../../lib/index.js';
import type { ContainerHandle } from '../driver.js';
import { ProcessDriver } from './process-driver.js';
import { toProcessHandle } from './process-handle.js';
import { isSameProcess, readProcEntry } from './proc-table.js';
import { launcherArgs } from './shim-census.js';
import { parseShimState, recordPaths, writeIntent } from './shim-records.js';
import { buildShim, eventually, processConfig, scratchDir } from './test-support.js';

/*
 * The process driver's recovery (Driver.list): every container started with an exit directory is found
 * again by a later driver, including one whose start berth never heard back from; nothing it started
 * is left running unrecorded.
 */

buildShim();
const scratch = scratchDir('shim-recovery');
const TIMEOUT = { timeout: 20_000 };
const pids: number[] = [];
const drivers: ProcessDriver[] = [];
after(async () => {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  for (const d of drivers) d.dispose();
  // Shims carry their exit directory in their command line: wait until none of this test's is left
  // (a shim whose container was just killed still writes its exit file there), then remove the files.
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && shimsUnder(scratch.path).length > 0) await new Promise((r) => setTimeout(r, 50));
  scratch.dispose();
});

/** Pids of processes whose command line names a path under `dir`. */
function shimsUnder(dir: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(dir)) found.push(Number(entry));
    } catch {
      // ended meanwhile
    }
  }
  return found;
}

let dirs = 0;
/** A fresh exit directory, as `<data>/exits` of one data directory. */
const exitDirOf = (): string => join(scratch.path, `exits-${++dirs}`);
const driverOn = (exitDir: string): ProcessDriver => {
  const d = new ProcessDriver({ exitDir, pollMs: 100, oldLauncherWaitMs: 3000 });
  drivers.push(d);
  return d;
};

/**
 * A launcher as an earlier berth ran it, spoken to through its stdin protocol (native/berth-shim.c,
 * "launcher mode"): `launch` asks for one shim and resolves with its report line once the launcher
 * passed it on; `end` closes stdin, as berth's death does.
 */
function rawLauncher(exitDir: string): { launch(id: number, args: string[]): Promise<string>; end(): void; child: ChildProcessWithoutNullStreams } {
  const child = spawn(nativeBinaryPath('berth-shim'), launcherArgs(exitDir), { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  const waiting = new Map<number, (line: string) => void>();
  let buffered = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buffered += chunk;
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const space = line.indexOf(' ');
      waiting.get(Number(line.slice(0, space)))?.(line.slice(space + 1));
    }
  });
  return {
    child,
    launch(id, args) {
      const env = [`PATH=${process.env.PATH ?? '/usr/bin:/bin'}`];
      const body = [...args, ...env].map((s) => `${s}\0`).join('');
      child.stdin.write(`${id} ${args.length} ${env.length} ${Buffer.byteLength(body)}\n`);
      child.stdin.write(body);
      return new Promise((resolve) => waiting.set(id, resolve));
    },
    end: () => child.stdin.end(),
  };
}

/** The shim arguments the driver sends for a `sleep` container of `instanceId` (with or without a state file). */
async function shimArgs(exitDir: string, instanceId: string, withState: boolean): Promise<string[]> {
  const paths = recordPaths(exitDir, `${instanceId}.main`);
  const logPath = join(scratch.path, instanceId, 'main.log');
  mkdirSync(exitDir, { recursive: true });
  await writeIntent(paths.intentFile, { instanceId, containerName: 'main', logPath, exitFile: paths.exitFile, stateFile: paths.stateFile, at: new Date().toISOString() });
  return ['--exit-file', paths.exitFile, ...(withState ? ['--state-file', paths.stateFile] : []), '--log', logPath, '--log-max-bytes', '0', '--log-max-files', '0', '--cwd', scratch.path, '--', 'sleep', '1000'];
}

void describe('ProcessDriver.list: recovery after a crash', () => {
  void it('lists a container an earlier driver started, with the handle its start returned, until it is destroyed', TIMEOUT, async () => {
    const exitDir = exitDirOf();
    const first = driverOn(exitDir);
    const config = processConfig(scratch.path, ['sleep', '1000']);
    const handle = await first.start(config);
    pids.push(toProcessHandle(handle).pid);
    first.dispose(); // berth is gone; the container is not
    const second = driverOn(exitDir);
    const listed = await second.list();
    assert.deepEqual(listed, [{ instanceId: config.instanceId, containerName: 'main', handle }]);
    await second.destroy(listed[0]?.handle as ContainerHandle);
    assert.equal(await isSameProcess(toProcessHandle(handle).pid, toProcessHandle(handle).startTicks), false, 'destroy killed it');
    assert.deepEqual(await second.list(), [], 'and forgot it');
    assert.deepEqual(readdirSync(exitDir), [], 'no record is left');
  });

  void it('finds a container whose report berth never read (berth died between the start and its handle)', TIMEOUT, async () => {
    const exitDir = exitDirOf();
    const launcher = rawLauncher(exitDir);
    const report = await launcher.launch(1, await shimArgs(exitDir, 'unheard', true));
    const state = parseShimState(report);
    assert.ok(state, `the shim started: ${report}`);
    pids.push(state.pid);
    launcher.end(); // the report was passed on to a berth that died before it read it
    const listed = await driverOn(exitDir).list();
    assert.equal(listed.length, 1);
    assert.equal(listed[0]?.instanceId, 'unheard');
    assert.equal(listed[0]?.handle.pid, state.pid);
    assert.equal(await isSameProcess(state.pid, state.startTicks), true, 'it runs on, to be adopted');
  });

  void it('waits for the launcher of a dead berth, so that the container it was still starting is on record to be adopted', TIMEOUT, async () => {
    const exitDir = exitDirOf();
    const launcher = rawLauncher(exitDir);
    void launcher.launch(1, await shimArgs(exitDir, 'in-flight', true));
    launcher.end(); // berth died right after it asked for the shim
    const driver = driverOn(exitDir);
    const listed = await driver.list();
    const launcherState = await readProcEntry(launcher.child.pid ?? 0);
    assert.ok(launcherState === undefined || launcherState.state === 'Z', 'the old launcher had exited (a zombie until this test reaps it)');
    assert.equal(listed.length, 1, 'the shim wrote its state file before it reported');
    const handle = toProcessHandle(listed[0]?.handle as ContainerHandle);
    pids.push(handle.pid);
    assert.deepEqual(await driver.recover(handle), { state: 'running' }, 'it runs, for its instance to adopt');
  });

  void it('kills a shim of its exit directory that wrote no state file, and its container with it', TIMEOUT, async () => {
    const exitDir = exitDirOf();
    const launcher = rawLauncher(exitDir);
    const state = parseShimState(await launcher.launch(1, await shimArgs(exitDir, 'unrecorded', false)));
    assert.ok(state);
    pids.push(state.pid);
    launcher.end();
    assert.deepEqual(await driverOn(exitDir).list(), [], 'nothing recorded to adopt');
    await eventually(async () => !(await isSameProcess(state.pid, state.startTicks)), 3000, 'the container to die with its shim');
    assert.equal(await isSameProcess(state.shimPid, state.shimStartTicks), false, 'the shim was killed');
  });

  void it('removes an intent whose start never ran', TIMEOUT, async () => {
    const exitDir = exitDirOf();
    await shimArgs(exitDir, 'never', true);
    assert.deepEqual(readdirSync(exitDir), ['never.main.start.json']);
    assert.deepEqual(await driverOn(exitDir).list(), []);
    assert.deepEqual(readdirSync(exitDir), []);
  });
});
