import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../lib/index.js';
import type { EngineProbeResult } from './docker-engine-watch.js';
import { DockerEngineWatch } from './docker-engine-watch.js';

/** Node 20 has no Promise.withResolvers. */
function deferred(): { readonly promise: Promise<void>; readonly resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

interface FakeEngine {
  readonly id: number;
  released: boolean;
}

/**
 * An engine whose ping fails `failures` times, then answers (each probe takes `probeMs`), with counters
 * of what the watch did, and a promise per probe count reached.
 */
function fakeEngine(o: { readonly failures: number; readonly probeMs?: number; readonly adoptFails?: number }) {
  const state = { probes: 0, inFlight: 0, maxInFlight: 0, adopted: [] as FakeEngine[], made: [] as FakeEngine[], adoptCalls: 0, aborted: 0 };
  const waiters: { readonly probes: number; readonly resolve: () => void }[] = [];
  const ping = async (signal: AbortSignal): Promise<void> => {
    const n = state.probes++;
    state.inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    for (const w of waiters.filter((w) => state.probes >= w.probes)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
    try {
      if (o.probeMs) {
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(resolve, o.probeMs);
          signal.addEventListener('abort', () => {
            clearTimeout(t);
            state.aborted++;
            reject(signal.reason);
          }, { once: true });
        });
      }
      if (n < o.failures) throw new Error('connect ENOENT /tmp/none.sock');
    } finally {
      state.inFlight--;
    }
  };
  const probe = async (signal: AbortSignal): Promise<EngineProbeResult<FakeEngine>> => {
    try {
      await ping(signal);
    } catch (error) {
      return { unavailable: (error as Error).message };
    }
    const engine = { id: state.made.length + 1, released: false };
    state.made.push(engine);
    return { found: engine };
  };
  let adoptFails = o.adoptFails ?? 0;
  const adopted = deferred();
  const watch = new DockerEngineWatch<FakeEngine>({
    probe,
    adopt: async (engine) => {
      state.adoptCalls++;
      if (adoptFails-- > 0) throw new Error('the network cannot be set up');
      state.adopted.push(engine);
      adopted.resolve();
    },
    release: (engine) => {
      engine.released = true;
    },
    intervalMs: 5,
    logger: silentLogger,
  });
  const probesReached = (probes: number): Promise<void> => (state.probes >= probes ? Promise.resolve() : new Promise((resolve) => waiters.push({ probes, resolve })));
  return { state, watch, adopted: adopted.promise, probesReached };
}

describe('DockerEngineWatch', () => {
  // The watch's timer is unref'd (it never keeps a stopping server alive): this keeps the test's loop up.
  let keepAlive: NodeJS.Timeout | undefined;
  before(() => {
    keepAlive = setInterval(() => undefined, 1000);
  });
  after(() => clearInterval(keepAlive));

  it('asks again until the engine answers, takes it in once, and asks no more', async () => {
    const { state, watch, adopted } = fakeEngine({ failures: 3 });
    watch.start();
    await adopted;
    assert.equal(state.probes, 4);
    // Many intervals later: still one probe that found it, one engine taken in, none released.
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(watch.finished, true);
    assert.equal(state.probes, 4);
    assert.equal(state.adoptCalls, 1);
    assert.deepEqual(state.adopted.map((e) => e.id), [1]);
    assert.equal(state.made[0]?.released, false);
    await watch.stop();
  });

  it('never runs two probes at once, even when a probe takes longer than the interval', async () => {
    const { state, watch, adopted } = fakeEngine({ failures: 4, probeMs: 30 });
    watch.start();
    await adopted;
    assert.equal(state.probes, 5);
    assert.equal(state.maxInFlight, 1);
    await watch.stop();
  });

  it('releases an engine it could not take in, and takes in the next one that answers', async () => {
    const { state, watch, adopted } = fakeEngine({ failures: 1, adoptFails: 2 });
    watch.start();
    await adopted;
    assert.equal(state.adoptCalls, 3);
    assert.deepEqual(state.made.map((e) => e.released), [true, true, false]);
    assert.deepEqual(state.adopted.map((e) => e.id), [3]);
    await watch.stop();
  });

  it('stops at shutdown: a probe in flight is aborted and awaited, nothing is taken in, and no probe follows', async () => {
    const { state, watch, probesReached } = fakeEngine({ failures: 2, probeMs: 10_000 });
    watch.start();
    await probesReached(1);
    assert.equal(state.inFlight, 1);
    await watch.stop();
    assert.equal(state.inFlight, 0, 'stop() resolved before the probe in flight ended');
    assert.equal(state.aborted, 1);
    await new Promise((r) => setTimeout(r, 40));
    assert.equal(state.probes, 1);
    assert.equal(state.adoptCalls, 0);
  });

  it('releases an engine found by a probe that ends after stop() began', async () => {
    // The probe answers after stop() was called, ignoring the abort (a slow network set-up): its engine is not taken in.
    const engine = { id: 1, released: false };
    const probeStarted = deferred();
    const answer = deferred();
    let adoptCalls = 0;
    const watch = new DockerEngineWatch<typeof engine>({
      probe: async () => {
        probeStarted.resolve();
        await answer.promise;
        return { found: engine };
      },
      adopt: async () => {
        adoptCalls++;
      },
      release: (e) => {
        e.released = true;
      },
      intervalMs: 1,
      logger: silentLogger,
    });
    watch.start();
    await probeStarted.promise;
    const stopped = watch.stop();
    answer.resolve();
    await stopped;
    assert.equal(adoptCalls, 0);
    assert.equal(engine.released, true);
  });
});
