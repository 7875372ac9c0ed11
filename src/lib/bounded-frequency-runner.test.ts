import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BoundedFrequencyRunner } from './bounded-frequency-runner.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('BoundedFrequencyRunner', () => {
  it('coalesces any number of run() calls into one run on a later turn', async () => {
    let runs = 0;
    const runner = new BoundedFrequencyRunner(() => runs++, { minIntervalMs: 0, maxIntervalMs: 0 });
    runner.start();
    for (let i = 0; i < 10; i++) runner.run();
    assert.equal(runs, 0, 'never inside run()');
    await turn();
    assert.equal(runs, 1);
    runner.stop();
  });

  it('keeps the min interval between runs', async () => {
    const times: number[] = [];
    const runner = new BoundedFrequencyRunner(() => times.push(Date.now()), { minIntervalMs: 80, maxIntervalMs: 0 });
    runner.start();
    runner.run();
    await turn();
    runner.run();
    await sleep(150);
    runner.stop();
    assert.equal(times.length, 2);
    assert.ok((times[1] as number) - (times[0] as number) >= 75, `${(times[1] as number) - (times[0] as number)} ms apart`);
  });

  it('runs after retryAfter(ms) without being asked again, and an earlier pending run stands', async () => {
    let runs = 0;
    const runner = new BoundedFrequencyRunner(() => runs++, { minIntervalMs: 0, maxIntervalMs: 0 });
    runner.start();
    runner.retryAfter(40);
    await sleep(10);
    assert.equal(runs, 0);
    await sleep(60);
    assert.equal(runs, 1);
    runner.run();
    runner.retryAfter(1000); // the pending immediate run wins
    await turn();
    assert.equal(runs, 2);
    runner.stop();
  });

  it('runs every max interval unasked, and not at all after stop', (t) => {
    // Node's mock timers and a clock of the test's own: the intervals are exact, whatever the machine's load.
    t.mock.timers.enable({ apis: ['setTimeout', 'setImmediate'] });
    let now = 0;
    const at: number[] = [];
    const runner = new BoundedFrequencyRunner(() => at.push(now), { minIntervalMs: 0, maxIntervalMs: 30, now: () => now });
    runner.start();
    for (let ms = 0; ms < 140; ms += 10) {
      now += 10;
      t.mock.timers.tick(10);
    }
    assert.deepEqual(at, [30, 60, 90, 120], 'a run every 30 ms, unasked');
    runner.stop();
    runner.run();
    now += 80;
    t.mock.timers.tick(80);
    assert.deepEqual(at, [30, 60, 90, 120], 'nothing after stop');
  });

  it('passes a throwing run to onError and keeps going', async () => {
    const errors: unknown[] = [];
    let runs = 0;
    const runner = new BoundedFrequencyRunner(() => {
      runs++;
      throw new Error('boom');
    }, { minIntervalMs: 0, maxIntervalMs: 0, onError: (e) => errors.push(e) });
    runner.start();
    runner.run();
    await turn();
    runner.run();
    await turn();
    runner.stop();
    assert.equal(runs, 2);
    assert.equal(errors.length, 2);
  });
});
