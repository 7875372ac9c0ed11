import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { silentLogger } from '../lib/index.js';
import type { EndpointsSnapshot } from '../model/index.js';
import { parseServiceSpec } from '../model/index.js';
import type { Store } from '../store/index.js';
import { openSqliteStore } from '../store/index.js';
import { EndpointsPublisher } from './endpoints-publisher.js';

/** A sink that holds each snapshot until the test lets it through (or refuses it). */
class HeldSink {
  readonly seen: EndpointsSnapshot[] = [];
  private pending: { resolve: () => void; reject: (e: Error) => void }[] = [];
  readonly sink = (snapshot: EndpointsSnapshot): Promise<void> => {
    this.seen.push(snapshot);
    return new Promise<void>((resolve, reject) => this.pending.push({ resolve, reject }));
  };
  release(): void {
    for (const p of this.pending.splice(0)) p.resolve();
  }
  refuse(): void {
    for (const p of this.pending.splice(0)) p.reject(new Error('listener failed'));
  }
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
const settled = async (p: Promise<unknown>): Promise<boolean> => {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; i < 3; i++) await turn();
  return done;
};

void describe('EndpointsPublisher.whenApplied', () => {
  let store: Store;
  let proxy: HeldSink;
  let dnsSeen: EndpointsSnapshot[];
  let publisher: EndpointsPublisher;

  beforeEach(() => {
    store = openSqliteStore(':memory:');
    proxy = new HeldSink();
    dnsSeen = [];
    publisher = new EndpointsPublisher(store, [proxy.sink, (s) => void dnsSeen.push(s)], { nodeAddresses: ['127.0.0.1'], logger: silentLogger });
    publisher.start();
  });
  afterEach(() => {
    publisher.stop();
    store.close();
  });

  const change = (name: string): number => {
    store.createService({ grid: 'default', spec: parseServiceSpec({ name, containers: [{ command: ['srv'] }] }), deploy: true });
    return store.revision();
  };

  void it('advances appliedRevision only once every sink has taken the snapshot', async () => {
    const first = proxy.seen[0];
    assert.ok(first, 'start publishes at once');
    assert.equal(dnsSeen.length, 1, 'the DNS sink took it at once');
    await turn();
    assert.equal(publisher.appliedRevision, 0, 'the proxy has not applied it yet');
    proxy.release();
    await turn();
    assert.equal(publisher.appliedRevision, first.revision);
  });

  void it('resolves for a revision once a snapshot at least that new was applied everywhere', async () => {
    proxy.release();
    const revision = change('web');
    const waiting = publisher.whenApplied(revision);
    assert.equal(await settled(waiting), false, 'not before the next snapshot');
    await turn(); // the coalesced publish of the change
    assert.ok((proxy.seen.at(-1)?.revision ?? 0) >= revision);
    assert.equal(await settled(waiting), false, 'not while the proxy still applies it');
    proxy.release();
    assert.equal(await settled(waiting), true);
    assert.equal(await settled(publisher.whenApplied(revision)), true, 'an applied revision resolves at once');
  });

  void it('does not count a snapshot a sink refused; a later one that is taken does', async () => {
    proxy.release();
    const revision = change('web');
    const waiting = publisher.whenApplied(revision);
    await turn();
    proxy.refuse();
    assert.equal(await settled(waiting), false);
    assert.ok(publisher.appliedRevision < revision);
    change('api');
    await turn();
    proxy.release();
    assert.equal(await settled(waiting), true);
  });

  void it('rejects with the reason when aborted', async () => {
    const abort = new AbortController();
    const waiting = publisher.whenApplied(store.revision() + 100, abort.signal);
    abort.abort(new Error('drain timed out'));
    await assert.rejects(waiting, /drain timed out/);
  });
});

void describe('EndpointsPublisher retries and resyncs', () => {
  it('publishes again after a back-off while a sink asks for a retry, and stops once none asks', async () => {
    const store = openSqliteStore(':memory:');
    let asks = 3;
    const times: number[] = [];
    const sink = (): { retry: boolean } => {
      times.push(Date.now());
      return { retry: asks-- > 0 };
    };
    const publisher = new EndpointsPublisher(store, [sink], { nodeAddresses: ['127.0.0.1'], logger: silentLogger, timing: { retryMinMs: 50, retryMaxMs: 200, resyncMs: 0 } });
    publisher.start();
    try {
      const deadline = Date.now() + 5000;
      while (times.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.equal(times.length, 4, 'the first publish and three retries, with no store change');
      const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
      assert.ok(gaps.every((g) => g >= 45), `each retry waits the back-off: ${gaps.join(', ')} ms`);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(times.length, 4, 'no retry once the sink stopped asking');
    } finally {
      publisher.stop();
      store.close();
    }
  });

  it('publishes a whole snapshot every resync interval even when nothing changes', async () => {
    const store = openSqliteStore(':memory:');
    let published = 0;
    const publisher = new EndpointsPublisher(store, [() => void published++], { nodeAddresses: ['127.0.0.1'], logger: silentLogger, timing: { resyncMs: 40 } });
    publisher.start();
    try {
      const deadline = Date.now() + 5000;
      while (published < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.ok(published >= 4, `${published} publishes`);
    } finally {
      publisher.stop();
      store.close();
    }
  });
});
