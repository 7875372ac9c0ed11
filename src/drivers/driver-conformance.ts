import assert from 'node:assert/strict';
import { constants, tmpdir } from 'node:os';
import { afterEach, describe, it } from 'node:test';
import { hasCode } from '../lib/index.js';
import type { ContainerConfig, ContainerHandle, ContainerLogLine, Driver, LogReadOptions } from './driver.js';

/**
 * The programs the suite runs; each driver's `makeConfig` says how to run them (argv for the process
 * driver, knobs for the fake one):
 * - `runs`: runs until stopped and is ended by any terminating signal (e.g. `sleep 1000`);
 * - `exits-3`: exits by itself with code 3, within a second;
 * - `ignores-stop`: ignores SIGTERM in every one of its processes and writes "ready" on stdout once it
 *   does, then runs until killed;
 * - `bad-command`: cannot start (command not found);
 * - `writes-logs`: writes "one", "two", "three" on stdout and "oops" on stderr, then exits 0.
 */
export type ConformanceProgram = 'runs' | 'exits-3' | 'ignores-stop' | 'bad-command' | 'writes-logs';

/**
 * The commands the exec cases run beside a container (`execArgv` says how, per driver):
 * - `prints-env-exits-3`: writes $PROBE_VAR and its working directory (one per line), exits 3;
 * - `hangs`: runs for ever, and starts a child that does too (both must die at the timeout).
 */
export type ConformanceExec = 'prints-env-exits-3' | 'hangs';

export interface DriverConformanceOptions<D extends Driver> {
  /** Names the describe block: `driver conformance: <name>`. */
  readonly name: string;
  /** A fresh driver per case. */
  readonly makeDriver: () => D | Promise<D>;
  /** A valid config running `program` on `driver`; `id` is unique per call (use it for ids and dirs). */
  readonly makeConfig: (program: ConformanceProgram, context: { readonly driver: D; readonly id: string }) => ContainerConfig | Promise<ContainerConfig>;
  /** argv of an exec command; a driver without `exec` leaves it out and skips those cases. */
  readonly execArgv?: (program: ConformanceExec) => readonly string[];
  /** Releases a driver after its case (e.g. `dispose`). */
  readonly disposeDriver?: (driver: D) => void | Promise<void>;
  /** Time limit of each case, ms (default 15000). */
  readonly timeoutMs?: number;
  /** Skips the suite, with the reason (e.g. no Docker engine answers, outside CI). */
  readonly skip?: string;
}

/**
 * Registers the node:test cases every driver must pass (Nomad's driver harness, Hono's shared suite).
 * Containers a case started are killed after it, whatever its outcome.
 */
export function runDriverConformance<D extends Driver>(options: DriverConformanceOptions<D>): void {
  const timeout = options.timeoutMs ?? 15_000;
  let seq = 0;

  void describe(`driver conformance: ${options.name}`, { ...(options.skip ? { skip: options.skip } : {}) }, () => {
    let cleanup: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const step of cleanup.reverse()) await step().catch(() => {});
      cleanup = [];
    });

    /** A driver for this case, and a `start` that remembers what to kill afterwards. */
    async function setup(): Promise<{ driver: D; start: (program: ConformanceProgram) => Promise<ContainerHandle> }> {
      const driver = await options.makeDriver();
      cleanup.push(async () => options.disposeDriver?.(driver));
      const start = async (program: ConformanceProgram): Promise<ContainerHandle> => {
        const config = await options.makeConfig(program, { driver, id: `conf-${process.pid}-${++seq}` });
        const handle = await driver.start(config);
        cleanup.push(async () => {
          await driver.stop(handle, { signal: 'SIGKILL', timeoutMs: 0 });
          await driver.destroy(handle);
        });
        return handle;
      };
      return { driver, start };
    }

    void it('reports a started container as running when recovered', { timeout }, async () => {
      const { driver, start } = await setup();
      const handle = await start('runs');
      assert.deepEqual(JSON.parse(JSON.stringify(handle)), handle, 'the handle is plain JSON');
      assert.equal(handle.driver, driver.name);
      assert.deepEqual(await driver.recover(handle), { state: 'running' });
    });

    void it('resolves wait with the exit code of a program that exits 3', { timeout }, async () => {
      const { driver, start } = await setup();
      const handle = await start('exits-3');
      const exit = await driver.wait(handle);
      assert.equal(exit.exitCode, 3);
      assert.equal(exit.signal, undefined);
      assert.equal((await driver.wait(handle)).exitCode, 3, 'a second wait resolves at once');
      const recovered = await driver.recover(handle);
      assert.equal(recovered.state, 'exited');
      assert.equal(recovered.state === 'exited' && recovered.exit.exitCode, 3);
      assert.equal(await driver.stats(handle), undefined, 'an exited container has no stats');
    });

    void it('stops with the given signal and resolves with 128 + its number', { timeout }, async () => {
      const { driver, start } = await setup();
      const handle = await start('runs');
      const exit = await driver.stop(handle, { signal: 'SIGUSR1', timeoutMs: 10_000 });
      assert.equal(exit.exitCode, 128 + constants.signals.SIGUSR1);
      assert.equal(exit.signal, 'SIGUSR1');
      const again = await driver.stop(handle, { signal: 'SIGTERM', timeoutMs: 10_000 });
      assert.equal(again.exitCode, exit.exitCode, 'stopping an exited container resolves with its exit');
    });

    void it('escalates to SIGKILL after timeoutMs when the stop signal is ignored', { timeout }, async () => {
      const { driver, start } = await setup();
      const handle = await start('ignores-stop');
      await firstLine(driver, handle, 'ready');
      const began = performance.now();
      const exit = await driver.stop(handle, { signal: 'SIGTERM', timeoutMs: 300 });
      const took = performance.now() - began;
      assert.equal(exit.exitCode, 137);
      assert.equal(exit.signal, 'SIGKILL');
      assert.ok(took >= 250, `killed after ${took.toFixed(0)} ms, before the 300 ms grace ended`);
    });

    void it('rejects start with CONTAINER_START_FAILED when the command cannot run', { timeout }, async () => {
      const { driver } = await setup();
      const config = await options.makeConfig('bad-command', { driver, id: `conf-${process.pid}-${++seq}` });
      await assert.rejects(driver.start(config), (e: unknown) => {
        assert.ok(hasCode(e, 'CONTAINER_START_FAILED'), `got ${String(e)}`);
        assert.ok((e as Error).message.length > 0);
        return true;
      });
    });

    void it('returns the lines written, in order, tagged with their stream', { timeout }, async () => {
      const { driver, start } = await setup();
      const handle = await start('writes-logs');
      assert.equal((await driver.wait(handle)).exitCode, 0);
      const lines = await collect(driver, handle, {});
      assert.deepEqual(lines.filter((l) => l.stream === 'stdout').map((l) => l.text), ['one', 'two', 'three']);
      assert.deepEqual(lines.filter((l) => l.stream === 'stderr').map((l) => l.text), ['oops']);
      for (const line of lines) assert.match(line.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
      assert.deepEqual([...lines].sort((a, b) => a.time.localeCompare(b.time)), lines, 'in time order');
      assert.deepEqual(await collect(driver, handle, { tail: 2 }), lines.slice(-2), 'tail keeps the last lines');
      const last = lines.at(-1) as ContainerLogLine;
      const since = await collect(driver, handle, { since: last.time });
      assert.ok(since.length >= 1 && since.every((l) => l.time >= last.time), 'since drops older lines');
      const followed = await collect(driver, handle, { follow: true, signal: AbortSignal.timeout(5000) });
      assert.deepEqual(followed, lines, 'follow ends once an exited container is read to the end');
    });

    void it('follows new lines until aborted', { timeout }, async () => {
      const { driver, start } = await setup();
      const handle = await start('ignores-stop');
      const abort = new AbortController();
      const seen: string[] = [];
      for await (const line of driver.logs(handle, { follow: true, signal: abort.signal })) {
        seen.push(line.text);
        if (line.text === 'ready') abort.abort();
      }
      assert.deepEqual(seen, ['ready']);
    });

    void it('samples stats of a running container and stops sampling once it exits', { timeout }, async () => {
      const { driver, start } = await setup();
      const handle = await start('runs');
      const stats = await driver.stats(handle);
      assert.ok(stats, 'a running container has stats');
      assert.ok(stats.processes >= 1 && stats.memoryBytes > 0 && stats.cpuTimeMs >= 0);
      await driver.stop(handle, { signal: 'SIGKILL', timeoutMs: 0 });
      assert.equal(await driver.stats(handle), undefined);
    });

    const execCase = options.execArgv ? it : it.skip;
    const execArgv = (program: ConformanceExec): readonly string[] => options.execArgv?.(program) ?? [];

    void execCase('execs a command beside a running container with the env and working directory given', { timeout }, async () => {
      const { driver, start } = await setup();
      const handle = await start('runs');
      assert.ok(driver.exec, 'a driver with execArgv implements exec');
      const workingDir = tmpdir();
      const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', PROBE_VAR: 'probe-42' };
      const result = await driver.exec(handle, execArgv('prints-env-exits-3'), { env, workingDir, timeoutMs: 5000 });
      assert.equal(result.exitCode, 3);
      assert.equal(result.timedOut, false);
      assert.deepEqual(result.output.trim().split('\n'), ['probe-42', workingDir]);
      assert.deepEqual(await driver.recover(handle), { state: 'running' }, 'the container runs on');
    });

    void execCase('kills an exec command at its timeout and when aborted', { timeout }, async () => {
      const { driver, start } = await setup();
      const handle = await start('runs');
      assert.ok(driver.exec);
      const options = { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, workingDir: tmpdir() };
      const began = performance.now();
      const result = await driver.exec(handle, execArgv('hangs'), { ...options, timeoutMs: 300 });
      const took = performance.now() - began;
      assert.equal(result.timedOut, true);
      assert.notEqual(result.exitCode, 0);
      assert.ok(took >= 250 && took < 3000, `settled after ${took.toFixed(0)} ms with a 300 ms timeout`);
      const abort = new AbortController();
      const pending = driver.exec(handle, execArgv('hangs'), { ...options, timeoutMs: 60_000, signal: abort.signal });
      abort.abort();
      assert.equal((await pending).timedOut, true, 'an aborted command counts as timed out');
    });

    void execCase('refuses to exec in a container that has exited, with CONTAINER_NOT_RUNNING', { timeout }, async () => {
      const { driver, start } = await setup();
      const handle = await start('exits-3');
      await driver.wait(handle);
      assert.ok(driver.exec);
      await assert.rejects(driver.exec(handle, execArgv('prints-env-exits-3'), { env: {}, workingDir: tmpdir(), timeoutMs: 1000 }), (e: unknown) => hasCode(e, 'CONTAINER_NOT_RUNNING'));
    });

    void it('stops waiting, not the container, when wait is aborted', { timeout }, async () => {
      const { driver, start } = await setup();
      const handle = await start('runs');
      const abort = new AbortController();
      const waiting = driver.wait(handle, abort.signal);
      abort.abort(new Error('enough'));
      await assert.rejects(waiting, /enough/);
      assert.deepEqual(await driver.recover(handle), { state: 'running' });
    });
  });
}

async function collect(driver: Driver, handle: ContainerHandle, options: LogReadOptions): Promise<ContainerLogLine[]> {
  const out: ContainerLogLine[] = [];
  for await (const line of driver.logs(handle, options)) out.push(line);
  return out;
}

/** Follows the log until `text` appears (a program's readiness), for at most 5 s. */
async function firstLine(driver: Driver, handle: ContainerHandle, text: string): Promise<void> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 5000);
  try {
    for await (const line of driver.logs(handle, { follow: true, signal: abort.signal })) {
      if (line.text === text) return;
    }
    throw new Error(`"${text}" never appeared in the log`);
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}
