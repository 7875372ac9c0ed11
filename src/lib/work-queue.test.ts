import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WorkQueue } from './work-queue.js';

describe('WorkQueue', () => {
  it('never runs a handler inside the call that added its key', async () => {
    const ran: string[] = [];
    const q = new WorkQueue(async (key) => void ran.push(key));
    q.add('a');
    assert.deepEqual(ran, []);
    await q.idle();
    assert.deepEqual(ran, ['a']);
  });

  it('handles every add made while a pass runs in one later pass', async () => {
    const ran: string[] = [];
    const q: WorkQueue = new WorkQueue(async (key) => {
      ran.push(key);
      // A burst of changes during the pass (the handler's own writes, agents' reports).
      if (ran.length === 1) for (let i = 0; i < 100; i++) q.add('a');
    });
    q.add('a');
    q.add('a');
    await q.idle();
    assert.deepEqual(ran, ['a', 'a']);
  });

  it('lets the event loop run between two passes of a key that stays busy', async () => {
    const order: string[] = [];
    let passes = 0;
    const q: WorkQueue = new WorkQueue(async (key) => {
      order.push(`pass ${++passes}`);
      if (passes === 1) {
        // Re-dirtied by its own pass; a timer that fell due meanwhile (as a heartbeat or a lease
        // keep-alive would) must run before the next pass.
        setTimeout(() => order.push('timer'), 1);
        q.add(key);
        const until = Date.now() + 5;
        while (Date.now() < until);
      }
    });
    q.add('a');
    await q.idle();
    assert.deepEqual(order, ['pass 1', 'timer', 'pass 2']);
  });

  it('retries a failing key with back-off and resolves idle() once it succeeds', async () => {
    let calls = 0;
    const errors: unknown[] = [];
    const q = new WorkQueue(
      async () => {
        if (++calls === 1) throw new Error('boom');
      },
      { baseRetryMs: 5, onError: (_k, e) => errors.push(e) },
    );
    q.add('a');
    await q.idle();
    assert.equal(calls, 1);
    await new Promise((r) => setTimeout(r, 30));
    await q.idle();
    assert.equal(calls, 2);
    assert.equal(errors.length, 1);
  });

  it('counts a busy delayed add as queued: idle() waits for it, and an add at once cancels it', async () => {
    const ran: number[] = [];
    const t0 = Date.now();
    const q = new WorkQueue(async () => void ran.push(Date.now() - t0));
    q.addAfter('a', 40, { busy: true });
    await q.idle();
    assert.equal(ran.length, 1, 'idle() waited for the busy add');
    assert.ok((ran[0] as number) >= 35, `ran after its delay (${ran[0]} ms)`);
    // An add at once replaces a pending busy add: one pass, now, and idle() does not wait for the timer.
    q.addAfter('b', 10_000, { busy: true });
    q.add('b');
    const before = Date.now();
    await q.idle();
    assert.equal(ran.length, 2);
    assert.ok(Date.now() - before < 1000, 'the cancelled timer no longer holds idle()');
    // A back-off (not busy) never holds idle().
    q.addAfter('c', 10_000);
    await q.idle();
    assert.equal(ran.length, 2);
    q.stop();
  });

  it('stop() releases whoever waits for idle() on a busy delayed add', async () => {
    const q = new WorkQueue(async () => undefined);
    q.addAfter('a', 10_000, { busy: true });
    const idle = q.idle();
    q.stop();
    await idle;
  });
});
