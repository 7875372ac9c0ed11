import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Clock } from '../../lib/index.js';
import type { ContainerConfig } from '../driver.js';
import { runDriverConformance, type ConformanceProgram } from '../driver-conformance.js';
import { FakeDriver, type FakeBehavior } from './fake-driver.js';

function config(instanceId: string, overrides: Partial<ContainerConfig> = {}): ContainerConfig {
  return {
    instanceId,
    containerName: 'main',
    argv: ['app'],
    env: {},
    workingDir: '/',
    address: '127.10.0.2',
    stateDir: `/nonexistent/${instanceId}`,
    log: { maxBytes: 1024 * 1024, maxFiles: 2 },
    ...overrides,
  };
}

const programs: Record<ConformanceProgram, FakeBehavior> = {
  runs: {},
  'exits-3': { runForMs: 20, exitCode: 3 },
  'ignores-stop': { ignoreStopSignal: true, logs: [{ stream: 'stdout', text: 'ready' }] },
  'bad-command': { startError: 'app: No such file or directory' },
  'writes-logs': {
    runForMs: 5,
    exitCode: 0,
    logs: [
      { stream: 'stdout', text: 'one' },
      { stream: 'stdout', text: 'two' },
      { stream: 'stderr', text: 'oops' },
      { stream: 'stdout', text: 'three' },
    ],
  },
};

runDriverConformance<FakeDriver>({
  name: 'fake',
  makeDriver: () => {
    const driver = new FakeDriver();
    // The exec programs, played: one prints what it was given, the other never ends.
    driver.onExec((call) => (call.argv[0] === 'prints' ? { exitCode: 3, output: `${call.env.PROBE_VAR}\n${call.workingDir}\n` } : new Promise(() => {})));
    return driver;
  },
  execArgv: (program) => (program === 'hangs' ? ['hangs'] : ['prints']),
  makeConfig: (program, { driver, id }) => {
    driver.configure(id, programs[program]);
    return config(id);
  },
});

/** A clock that only moves when told: sleeps resolve in due order as `advance` passes them. */
class ManualClock implements Clock {
  private t = 0;
  private sleepers: { at: number; resolve: () => void }[] = [];
  now(): number {
    return this.t;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const entry = { at: this.t + ms, resolve };
      this.sleepers.push(entry);
      signal?.addEventListener('abort', () => {
        this.sleepers = this.sleepers.filter((s) => s !== entry);
        reject(signal.reason);
      });
    });
  }
  async advance(ms: number): Promise<void> {
    this.t += ms;
    const due = this.sleepers.filter((s) => s.at <= this.t);
    this.sleepers = this.sleepers.filter((s) => s.at > this.t);
    for (const s of due) s.resolve();
    await new Promise((r) => setImmediate(r));
  }
}

void describe('FakeDriver', () => {
  void it('exits with the configured code once runForMs has passed on the injected clock', async () => {
    const clock = new ManualClock();
    const driver = new FakeDriver({ clock, defaults: { runForMs: 1000, exitCode: 7 } });
    const handle = await driver.start(config('i1'));
    await clock.advance(999);
    assert.deepEqual(await driver.recover(handle), { state: 'running' });
    await clock.advance(1);
    assert.equal((await driver.wait(handle)).exitCode, 7);
  });

  void it('crash ends the latest container of an instance with the given code', async () => {
    const driver = new FakeDriver();
    const handle = await driver.start(config('i1'));
    const waiting = driver.wait(handle);
    driver.crash('i1', 42);
    assert.equal((await waiting).exitCode, 42);
    assert.deepEqual(driver.running(), []);
  });

  void it('prefers a container-level behaviour over the instance one and the defaults', async () => {
    const driver = new FakeDriver({ defaults: { startError: 'default' } });
    driver.configure('i1', { startError: 'instance' });
    driver.configure('i1', {}, 'sidecar');
    await assert.rejects(driver.start(config('i1')), /instance/);
    await driver.start(config('i1', { containerName: 'sidecar' }));
    await assert.rejects(driver.start(config('i2')), /default/);
  });

  void it('records every call in order, with stop options', async () => {
    const driver = new FakeDriver();
    const handle = await driver.start(config('i1'));
    await driver.stats(handle);
    await driver.stop(handle, { signal: 'SIGTERM', timeoutMs: 10 });
    await driver.destroy(handle);
    assert.deepEqual(
      driver.calls.map((c) => c.method),
      ['start', 'stats', 'stop', 'destroy'],
    );
    assert.deepEqual(driver.callsOf('stop')[0]?.stop, { signal: 'SIGTERM', timeoutMs: 10 });
  });

  void it('waits startDelayMs on its clock before start resolves', async () => {
    const clock = new ManualClock();
    const driver = new FakeDriver({ clock, defaults: { startDelayMs: 500 } });
    let started = false;
    const starting = driver.start(config('i1')).then((h) => ((started = true), h));
    await clock.advance(499);
    assert.equal(started, false);
    await clock.advance(1);
    await starting;
    assert.equal(started, true);
  });

  void it('kills an ignoring container only when the stop timeout passes', async () => {
    const clock = new ManualClock();
    const driver = new FakeDriver({ clock, defaults: { ignoreStopSignal: true } });
    const handle = await driver.start(config('i1'));
    const stopping = driver.stop(handle, { signal: 'SIGTERM', timeoutMs: 10_000 });
    await clock.advance(9_999);
    assert.deepEqual(await driver.recover(handle), { state: 'running' });
    await clock.advance(1);
    assert.deepEqual(
      { ...(await stopping), finishedAt: undefined },
      { exitCode: 137, signal: 'SIGKILL', finishedAt: undefined },
    );
  });

  void it('emitLog feeds a follower, and the follower ends when the container exits', async () => {
    const driver = new FakeDriver();
    const handle = await driver.start(config('i1'));
    const lines: string[] = [];
    const following = (async () => {
      for await (const line of driver.logs(handle, { follow: true })) lines.push(`${line.stream}:${line.text}`);
    })();
    driver.emitLog('i1', 'stdout', 'hello');
    driver.emitLog('i1', 'stderr', 'bad');
    driver.crash('i1', 1);
    await following;
    assert.deepEqual(lines, ['stdout:hello', 'stderr:bad']);
  });

  void it('returns fixed stats, overridable per behaviour, and none once exited', async () => {
    const driver = new FakeDriver({ defaults: { stats: { processes: 3 } } });
    const handle = await driver.start(config('i1'));
    const stats = await driver.stats(handle);
    assert.equal(stats?.processes, 3);
    assert.equal(stats?.cpuTimeMs, 100);
    driver.crash('i1');
    assert.equal(await driver.stats(handle), undefined);
  });

  void it('reports an unknown handle as exited with a lost status', async () => {
    const driver = new FakeDriver();
    const recovered = await driver.recover({ driver: 'fake', id: 'fake-99', instanceId: 'x', containerName: 'main' });
    assert.equal(recovered.state, 'exited');
    assert.equal(recovered.state === 'exited' && recovered.exit.exitCode, 255);
  });
});
