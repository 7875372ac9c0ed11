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
});
