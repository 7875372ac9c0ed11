import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { ManualClock } from '../lib/index.js';
import type { InstanceHealth, Probe, ProbeKind } from '../model/index.js';
import type { ProbeOutcome } from './probe-handlers.js';
import { runProbe } from './probe-handlers.js';
import type { HealthTransition, ProbeSpec } from './prober.js';
import { Prober } from './prober.js';

/** A probe whose answer the test sets; records the clock time of every run. */
class Scripted {
  answer: ProbeOutcome = { ok: true, output: 'HTTP 200' };
  readonly runs: number[] = [];
  constructor(
    private readonly clock: ManualClock,
    readonly kind: ProbeKind,
    readonly probe: Probe,
    readonly container = 'web',
  ) {}
  spec(): ProbeSpec {
    return {
      kind: this.kind,
      container: this.container,
      probe: this.probe,
      target: `${this.kind} target`,
      run: async () => {
        this.runs.push(this.clock.now());
        return this.answer;
      },
    };
  }
  fail(output = 'HTTP 503: not ready'): void {
    this.answer = { ok: false, output };
  }
  pass(output = 'HTTP 200'): void {
    this.answer = { ok: true, output };
  }
}

const probe = (overrides: Partial<Probe> = {}): Probe => ({
  httpGet: { path: '/health', port: 8080, scheme: 'HTTP', httpHeaders: [] },
  initialDelaySeconds: 0,
  periodSeconds: 1,
  timeoutSeconds: 1,
  successThreshold: 1,
  failureThreshold: 3,
  ...overrides,
});

/** A prober on a manual clock, with every onChange call recorded as "type@time". */
function setup(probes: Scripted[], options: { fastStartMs?: number; previous?: InstanceHealth; clock: ManualClock }) {
  const changes: { at: number; transitions: readonly HealthTransition[]; health: InstanceHealth }[] = [];
  const prober = new Prober({
    probes: probes.map((p) => p.spec()),
    clock: options.clock,
    fastStartMs: options.fastStartMs ?? 0,
    ...(options.previous ? { previous: options.previous } : {}),
    onChange: (transitions, health) => changes.push({ at: options.clock.now(), transitions, health }),
  });
  const log = (): string[] => changes.flatMap((c) => c.transitions.map((t) => `${t.type}@${c.at}`));
  return { prober, changes, log };
}

void describe('Prober', () => {
  void it('runs the first probe after initialDelaySeconds, then every periodSeconds', async () => {
    const clock = new ManualClock();
    const readiness = new Scripted(clock, 'readiness', probe({ initialDelaySeconds: 2, periodSeconds: 1 }));
    const { prober } = setup([readiness], { clock });
    prober.start();
    await clock.advance(4500);
    prober.stop();
    assert.deepEqual(readiness.runs, [2000, 3000, 4000]);
  });

  void it('is not ready until successThreshold consecutive successes, and reports the flip once', async () => {
    const clock = new ManualClock();
    const readiness = new Scripted(clock, 'readiness', probe({ successThreshold: 2 }));
    const { prober, log } = setup([readiness], { clock });
    assert.equal(prober.health().ready, false, 'not ready before any result');
    assert.equal(prober.health().probes[0]?.result, 'unknown');
    prober.start();
    await clock.advance(500);
    assert.equal(prober.health().ready, false, 'one success of two');
    await clock.advance(3000);
    prober.stop();
    assert.deepEqual(log(), ['ready@1000'], 'one report at the second success, none for later successes');
  });

  void it('takes a ready instance out after failureThreshold consecutive failures and back after a success', async () => {
    const clock = new ManualClock();
    const readiness = new Scripted(clock, 'readiness', probe({ failureThreshold: 3 }));
    const { prober, log, changes } = setup([readiness], { clock });
    prober.start();
    await clock.advance(500);
    readiness.fail('HTTP 503: draining the cache');
    await clock.advance(2000); // failures at 1000 and 2000: still ready
    assert.equal(prober.health().ready, true);
    await clock.advance(1000); // the third, at 3000
    assert.equal(prober.health().ready, false);
    readiness.pass();
    await clock.advance(1000);
    prober.stop();
    assert.deepEqual(log(), ['ready@0', 'unready@3000', 'ready@4000']);
    const unready = changes[1]?.transitions[0];
    assert.equal(unready?.probe.consecutiveFailures, 3);
    assert.equal(unready?.probe.lastOutput, 'HTTP 503: draining the cache');
    assert.equal(changes[1]?.health.probes[0]?.result, 'failure');
    assert.deepEqual(
      changes.map((c) => c.transitions[0]?.type === 'ready' && c.transitions[0].first),
      [true, false, false],
      'only the first ready is the first',
    );
    assert.equal(changes[2]?.health.readySince, new Date(4000).toISOString());
  });

  void it('fast start: probes readiness every 100 ms until first ready, and failures between ticks never count', async () => {
    const clock = new ManualClock();
    const readiness = new Scripted(clock, 'readiness', probe({ periodSeconds: 10, failureThreshold: 2 }));
    readiness.fail('connect ECONNREFUSED');
    const { prober, log } = setup([readiness], { clock, fastStartMs: 100 });
    prober.start();
    await clock.advance(1050);
    assert.equal(readiness.runs.length, 11, `runs at ${readiness.runs.join(', ')}`);
    assert.equal(prober.health().probes[0]?.consecutiveFailures, 0, 'the first run, at 0, was a fast one too');
    assert.equal(prober.health().probes[0]?.result, 'unknown', 'eleven fast failures did not count');
    readiness.pass(); // the server listens from 1050
    await clock.advance(100);
    assert.deepEqual(log(), ['ready@1100']);
    await clock.advance(9000);
    assert.deepEqual(readiness.runs.slice(11), [1100, 10_000], 'after the first ready, only the regular ticks');
    prober.stop();
  });

  void it('fast start: counts failures from one period after the initial delay, at the regular ticks only', async () => {
    const clock = new ManualClock();
    const readiness = new Scripted(clock, 'readiness', probe({ initialDelaySeconds: 1, periodSeconds: 2, failureThreshold: 2 }));
    readiness.fail('connect ECONNREFUSED');
    const { prober, log } = setup([readiness], { clock, fastStartMs: 100 });
    prober.start();
    await clock.advance(999);
    assert.deepEqual(readiness.runs, [], 'nothing before the initial delay');
    await clock.advance(5500);
    prober.stop();
    assert.equal(readiness.runs[0], 1000);
    assert.deepEqual(log(), ['unready@5000'], 'counted failures at 3000 and 5000');
  });

  void it('never fast-probes liveness', async () => {
    const clock = new ManualClock();
    const liveness = new Scripted(clock, 'liveness', probe({ periodSeconds: 1 }));
    const readiness = new Scripted(clock, 'readiness', probe({ periodSeconds: 1 }));
    readiness.fail();
    const { prober } = setup([liveness, readiness], { clock, fastStartMs: 100 });
    prober.start();
    await clock.advance(2500);
    prober.stop();
    assert.deepEqual(liveness.runs, [0, 1000, 2000]);
    assert.ok(readiness.runs.length > 20);
  });

  void it('holds readiness and liveness back until the startup probe passes, then runs them at once', async () => {
    const clock = new ManualClock();
    const startup = new Scripted(clock, 'startup', probe({ periodSeconds: 1, failureThreshold: 5 }));
    const readiness = new Scripted(clock, 'readiness', probe({ periodSeconds: 10 }));
    const liveness = new Scripted(clock, 'liveness', probe({ periodSeconds: 10 }));
    startup.fail('exit 1: not yet');
    const { prober, log } = setup([startup, readiness, liveness], { clock });
    prober.start();
    await clock.advance(2500);
    assert.deepEqual(readiness.runs, []);
    assert.deepEqual(liveness.runs, []);
    assert.deepEqual(prober.health(), { ...prober.health(), started: false, ready: false, live: true });
    startup.pass();
    await clock.advance(1000);
    assert.deepEqual(log(), ['started@3000', 'ready@3000', 'probe@3000'], 'readiness passed; liveness went unknown → success');
    assert.deepEqual(startup.runs, [0, 1000, 2000, 3000], 'a passed startup probe runs no more');
    assert.deepEqual(readiness.runs, [3000], 'readiness ran as soon as startup passed');
    assert.deepEqual(liveness.runs, [3000], 'and so did liveness');
    await clock.advance(10_000);
    prober.stop();
    assert.deepEqual(startup.runs.length, 4);
  });

  void it('makes the instance unhealthy when a startup probe fails failureThreshold times, and stops probing', async () => {
    const clock = new ManualClock();
    const startup = new Scripted(clock, 'startup', probe({ periodSeconds: 1, failureThreshold: 3 }));
    startup.fail('exit 2: no database');
    const { prober, log, changes } = setup([startup], { clock, fastStartMs: 100 });
    prober.start();
    await clock.advance(5000);
    assert.deepEqual(log(), ['unhealthy@3000'], 'three counted failures, from one period after the start; fast ones did not hasten it');
    assert.equal(changes[0]?.health.live, false);
    assert.equal(changes[0]?.transitions[0]?.probe.lastOutput, 'exit 2: no database');
    assert.ok(startup.runs.every((t) => t <= 3000), 'nothing ran after it');
  });

  void it('makes the instance unhealthy and not ready when liveness fails failureThreshold times', async () => {
    const clock = new ManualClock();
    const liveness = new Scripted(clock, 'liveness', probe({ failureThreshold: 2 }));
    const readiness = new Scripted(clock, 'readiness', probe());
    const { prober, changes, log } = setup([liveness, readiness], { clock });
    prober.start();
    await clock.advance(100);
    liveness.fail('HTTP 500: deadlock');
    await clock.advance(5000);
    assert.deepEqual(log(), ['probe@0', 'ready@0', 'unhealthy@2000']);
    const last = changes.at(-1)?.health;
    assert.deepEqual([last?.live, last?.ready], [false, false]);
    assert.ok(readiness.runs.every((t) => t <= 2000) && liveness.runs.every((t) => t <= 2000), 'probing stopped');
  });

  void it('runs nothing and reports nothing after stop, even for a run in progress', async () => {
    const clock = new ManualClock();
    let release: (() => void) | undefined;
    let runs = 0;
    const spec: ProbeSpec = {
      kind: 'readiness',
      container: 'web',
      probe: probe(),
      target: 'slow',
      run: () => {
        runs++;
        return new Promise((resolve) => (release = () => resolve({ ok: true, output: 'HTTP 200' })));
      },
    };
    const changes: unknown[] = [];
    const prober = new Prober({ probes: [spec], clock, fastStartMs: 100, onChange: (t) => changes.push(t) });
    prober.start();
    await clock.advance(10);
    assert.equal(runs, 1);
    prober.stop();
    release?.(); // the run ends after the stop: its success is dropped
    await clock.advance(60_000);
    assert.equal(runs, 1);
    assert.deepEqual(changes, []);
    assert.equal(clock.pending(), 0, 'no timer left behind');
  });

  void it("keeps a re-adopted instance's readiness until new results say otherwise", async () => {
    const clock = new ManualClock(50_000);
    const readiness = new Scripted(clock, 'readiness', probe({ failureThreshold: 3 }));
    const previous: InstanceHealth = {
      started: true,
      ready: true,
      live: true,
      readySince: new Date(1000).toISOString(),
      probes: [{ kind: 'readiness', container: 'web', target: 'readiness target', result: 'success', consecutiveSuccesses: 40, consecutiveFailures: 0, lastOutput: 'HTTP 200' }],
    };
    readiness.fail();
    const { prober, log } = setup([readiness], { clock, previous, fastStartMs: 100 });
    assert.equal(prober.health().ready, true, 'ready before any new result');
    prober.start();
    await clock.advance(1500);
    assert.equal(prober.health().ready, true, 'two failures of three');
    assert.deepEqual(readiness.runs, [50_000, 51_000], 'no fast start: it had been ready');
    await clock.advance(1000);
    prober.stop();
    assert.deepEqual(log(), ['unready@52000']);
    assert.equal(prober.health().readySince, new Date(1000).toISOString(), 'readySince is when it last became ready');
  });

  void it('counts an instance with only a liveness probe as ready from its start', () => {
    const clock = new ManualClock(7000);
    const liveness = new Scripted(clock, 'liveness', probe());
    const { prober } = setup([liveness], { clock });
    assert.deepEqual(prober.health(), {
      started: true,
      ready: true,
      live: true,
      readySince: new Date(7000).toISOString(),
      probes: [{ kind: 'liveness', container: 'web', target: 'liveness target', result: 'unknown', consecutiveSuccesses: 0, consecutiveFailures: 0, lastOutput: '' }],
    });
  });

  void it('makes a real HTTP server ready at the first fast-start probe after it starts listening, with a 10 s period', async () => {
    // Wall-clock latency is a benchmark's business (a loaded CI machine stretches any bound); this
    // checks the mechanism on a real server: runs ~100 ms apart while nothing listens, none counted as a
    // failure, and the first run that starts after listen() makes it ready, long before the 10 s tick.
    const server = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve())); // nothing listens there now
    const runs: { at: number; ok: boolean }[] = [];
    const spec: ProbeSpec = {
      kind: 'readiness',
      container: 'web',
      probe: probe({ httpGet: { path: '/', port, scheme: 'HTTP', httpHeaders: [] }, periodSeconds: 10 }),
      target: `GET http://127.0.0.1:${port}/`,
      run: async (signal) => {
        const at = performance.now();
        const outcome = await runProbe(spec.probe, { address: '127.0.0.1', resolvePort: (p) => (typeof p === 'number' ? p : undefined) }, 1000, signal);
        runs.push({ at, ok: outcome.ok });
        return outcome;
      },
    };
    const startedAt = performance.now();
    let prober: Prober | undefined;
    const ready = new Promise<number>((resolve) => {
      prober = new Prober({
        probes: [spec],
        onChange: (transitions) => {
          if (transitions.some((t) => t.type === 'ready')) {
            prober?.stop();
            resolve(performance.now());
          }
        },
      });
      prober.start();
    });
    await new Promise((r) => setTimeout(r, 250));
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    const listeningAt = performance.now();
    try {
      const readyAt = await ready;
      const before = runs.filter((r) => r.at < listeningAt);
      const after = runs.filter((r) => r.at >= listeningAt);
      assert.ok(before.length >= 1, 'it probed while nothing listened');
      assert.ok(before.every((r) => !r.ok), 'nothing listened, so every run before listen() failed');
      for (let i = 1; i < before.length; i++) {
        const gap = before[i]!.at - before[i - 1]!.at;
        assert.ok(gap >= 90, `fast-start runs are fastStartMs (100 ms) apart, not closer: ${gap.toFixed(0)} ms`);
      }
      assert.equal(prober?.health().probes[0]?.consecutiveFailures, 0, 'fast-start failures did not count');
      assert.deepEqual(after.map((r) => r.ok), [true], 'the first run after listen() made it ready');
      assert.ok(readyAt - startedAt < 10_000, 'ready before the first regular tick (10 s)');
    } finally {
      server.close();
    }
  });
});
