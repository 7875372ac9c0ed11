import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DataPlaneBarrier } from './data-plane-barrier.js';

void describe('DataPlaneBarrier (the drain barrier across nodes)', () => {
  const setup = (ready = ['a', 'b', 'c']) => {
    let now = 1_000_000;
    const readyNodes = new Set(ready);
    const barrier = new DataPlaneBarrier({ readyNodes: () => readyNodes, staleMs: 10_000, now: () => now });
    return { barrier, readyNodes, advance: (ms: number) => (now += ms) };
  };

  void it('names the nodes whose data plane has not applied a revision; not the asking node, a down node, a stale report, or a node that never reported', () => {
    const { barrier, readyNodes, advance } = setup(['a', 'b', 'c', 'd', 'e']);
    barrier.report('a', 5);
    barrier.report('b', 9);
    barrier.report('c', 7);
    barrier.report('e', 1);
    assert.deepEqual(barrier.behind(8), ['a', 'c', 'e']);
    assert.deepEqual(barrier.behind(8, 'a'), ['c', 'e'], 'the asking node waits on its own data plane itself');
    readyNodes.delete('c');
    assert.deepEqual(barrier.behind(8), ['a', 'e'], 'a down node is not waited for');
    advance(6000);
    barrier.report('a', 8);
    advance(6000);
    assert.deepEqual(barrier.behind(8), [], 'e\'s report is 12 s old: its data plane is gone');
    barrier.report('a', 3);
    assert.deepEqual(barrier.behind(8), [], 'reports never go backwards');
  });

  void it('wait resolves with [] once the last node reports, and with the laggards after the timeout or on abort', async () => {
    const { barrier } = setup();
    barrier.report('a', 1);
    barrier.report('b', 1);
    const waiting = barrier.wait(4, { timeoutMs: 5000 });
    let done: string[] | undefined;
    void waiting.then((v) => (done = v));
    await new Promise((r) => setTimeout(r, 20));
    barrier.report('a', 4);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(done, undefined, 'b has not applied it yet');
    barrier.report('b', 6);
    assert.deepEqual(await waiting, []);

    assert.deepEqual(await barrier.wait(9, { timeoutMs: 30 }), ['a', 'b']);
    const abort = new AbortController();
    const aborted = barrier.wait(9, { except: 'a', timeoutMs: 5000, signal: abort.signal });
    abort.abort();
    assert.deepEqual(await aborted, ['b']);
    assert.deepEqual(await barrier.wait(2, { timeoutMs: 5000 }), [], 'already applied everywhere: at once');
  });
});
