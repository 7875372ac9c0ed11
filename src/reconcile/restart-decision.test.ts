import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../lib/manual-clock.js';
import type { Instance } from '../model/index.js';
import { instance, iso, node, service, T0 } from '../../test/fixtures.js';
import { planService } from './plan-service.js';
import { BACKOFF_RESET_AFTER_MS, MAX_RESTART_BACKOFF_MS, backoffResetAfterMs, restartDecision } from './restart-decision.js';

/*
 * A one-slot service driven by planService on an injected clock: the test kills the slot's instance
 * (as `kill -9` would) and measures how long the controller takes to start its replacement.
 */
class OneSlot {
  readonly clock = new ManualClock(T0);
  instances: Instance[] = [];

  constructor(private readonly svc: ReturnType<typeof service>) {}

  /** Runs controller passes every second until a replacement is created; returns how long that took (ms). */
  async heal(limitMs = 10 * 60_000): Promise<number> {
    const from = this.clock.now();
    while (this.clock.now() - from <= limitMs) {
      const plan = planService(this.svc, this.instances, { now: this.clock.now(), nodes: [node()] });
      const created = plan.create[0];
      if (created) {
        this.instances = [
          instance({ slot: 1, restarts: created.restarts, state: 'running', startedAt: this.clock.now(), createdAt: this.clock.now() }),
          ...this.instances.filter((i) => !plan.remove.includes(i.id)).map((i) => (plan.retire.includes(i.id) ? { ...i, desiredState: 'shutdown' as const } : i)),
        ];
        return this.clock.now() - from;
      }
      await this.clock.advance(1000);
    }
    assert.fail(`no replacement within ${limitMs} ms`);
  }

  /** Lets the running instance run for `ms`, then kills it (exit 137). */
  async runThenKill(ms: number): Promise<void> {
    await this.clock.advance(ms);
    const [newest, ...rest] = this.instances;
    assert.ok(newest && newest.status.state === 'running');
    const startedAt = newest.status.startedAt as string;
    this.instances = [{ ...newest, status: { state: 'failed', message: 'exited with code 137', exitCode: 137, signal: 'SIGKILL', startedAt, finishedAt: iso(this.clock.now()), timestamp: iso(this.clock.now()) } }, ...rest];
  }

  /** Kills the instance `times` times in a row, each right after it started: the back-off climbs to its cap. */
  async killRepeatedly(times: number): Promise<void> {
    await this.heal();
    for (let k = 0; k < times; k++) {
      await this.runThenKill(1000);
      await this.heal();
    }
  }
}

describe('restart back-off reset', () => {
  it('a slot killed repeatedly long ago heals at the first delay again after a run of 10 min (no window: Kubernetes\' rule)', async () => {
    const slot = new OneSlot(service({ replicas: 1, restartPolicy: { delay: '5s' } }));
    await slot.killRepeatedly(8);
    await slot.runThenKill(1000);
    assert.equal(await slot.heal(), MAX_RESTART_BACKOFF_MS, 'killed in a row: the back-off is at its cap');

    await slot.runThenKill(BACKOFF_RESET_AFTER_MS);
    assert.equal(await slot.heal(), 5000, 'after 10 min of running, the next crash waits the first delay');
    assert.equal(slot.instances[0]?.restarts, 1, 'and the consecutive count starts again');
  });

  it('a run shorter than the reset keeps the back-off where it was', async () => {
    const slot = new OneSlot(service({ replicas: 1, restartPolicy: { delay: '5s' } }));
    await slot.killRepeatedly(8);
    await slot.runThenKill(BACKOFF_RESET_AFTER_MS - 60_000);
    assert.equal(await slot.heal(), MAX_RESTART_BACKOFF_MS);
  });

  it('resets after restartPolicy.window when one is set: a slot that ran well for the 2 min window heals at once', async () => {
    const slot = new OneSlot(service({ replicas: 1, restartPolicy: { delay: '5s', window: '2m' } }));
    await slot.killRepeatedly(8);
    await slot.runThenKill(2 * 60_000);
    assert.equal(await slot.heal(), 5000);
    assert.equal(slot.instances[0]?.restarts, 1);
  });

  it('takes the reset span from the window, else 10 min', () => {
    const policy = { condition: 'any' as const, delay: '5s', maxAttempts: 0, window: '0s' };
    assert.equal(backoffResetAfterMs(policy), 10 * 60_000);
    assert.equal(backoffResetAfterMs({ ...policy, window: '90s' }), 90_000);
    const ended = instance({ slot: 1, restarts: 6, state: 'failed', exitCode: 1, startedAt: T0, finishedAt: T0 + 90_000 });
    assert.deepEqual(restartDecision({ ...policy, window: '90s' }, ended, [ended], T0 + 95_000), { kind: 'restart', restarts: 1, reason: 'exited with code 1; restart 1' });
  });
});
