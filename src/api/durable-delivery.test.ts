import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { NewServiceEvent, ServiceEvent } from '../model/index.js';
import { parseServiceSpec } from '../model/index.js';
import { openSqliteStore } from '../store/index.js';
import { DurableDelivery } from './durable-delivery.js';
import { FakeTelemetry, createApi } from './index.js';
import type { LeaderRouting } from './leader-routing.js';
import { adminAuthenticator, newInstance } from './testing/fixtures.js';

/** Flushes that wait until the test settles them, in the order they were asked for. */
function manualFlushes() {
  const asked: { resolve: () => void; reject: (e: Error) => void }[] = [];
  let onAsk: (() => void) | undefined;
  return {
    flushed: (): Promise<unknown> =>
      new Promise<void>((resolve, reject) => {
        asked.push({ resolve, reject });
        onAsk?.();
      }),
    /** Resolves once `n` flushes in all were asked for. */
    asked: (n: number): Promise<void> =>
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (asked.length >= n) resolve();
        };
        onAsk = check;
        check();
      }),
    settle: (k: number, error?: Error) => (error ? asked[k]?.reject(error) : asked[k]?.resolve()),
    get count() {
      return asked.length;
    },
  };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

void describe('DurableDelivery: a stream sends only what etcd holds', () => {
  void it('holds what is pushed until a flush asked for after it resolves; later pushes wait for the next flush; the order is kept', async () => {
    const flushes = manualFlushes();
    const released: number[][] = [];
    const failed: unknown[] = [];
    const delivery = new DurableDelivery<number>(flushes.flushed, (items) => released.push([...items]), (e) => failed.push(e));
    delivery.push(1);
    delivery.push(2);
    await flushes.asked(1);
    delivery.push(3); // committed after the first flush was asked for: it does not cover 3
    await tick();
    assert.deepEqual(released, [], 'nothing before the flush resolves');
    assert.equal(flushes.count, 1, 'one flush for a batch');
    flushes.settle(0);
    await flushes.asked(2);
    assert.deepEqual(released, [[1, 2]]);
    flushes.settle(1);
    await tick();
    assert.deepEqual(released, [[1, 2], [3]]);
    delivery.push(4);
    await flushes.asked(3);
    flushes.settle(2);
    await tick();
    assert.deepEqual(released, [[1, 2], [3], [4]]);
    assert.deepEqual(failed, []);
  });

  void it('a flush that fails releases nothing more and says so once', async () => {
    const flushes = manualFlushes();
    const released: number[] = [];
    const failed: unknown[] = [];
    const delivery = new DurableDelivery<number>(flushes.flushed, (items) => released.push(...items), (e) => failed.push(e));
    delivery.push(1);
    await flushes.asked(1);
    delivery.push(2);
    flushes.settle(0, new Error('fence failed'));
    await tick();
    delivery.push(3);
    await tick();
    assert.deepEqual(released, []);
    assert.equal(failed.length, 1);
    assert.equal(flushes.count, 1, 'no flush asked for after the failure');
  });
});

/** A leader whose writes become durable when the test says (its flushes are manual). */
function leader(options: { heartbeatMs?: number } = {}) {
  const store = openSqliteStore(':memory:');
  const flushes = manualFlushes();
  const telemetry = new FakeTelemetry();
  const routing: LeaderRouting = { role: () => 'leader', leaderUrl: () => undefined, servers: () => [], flushed: () => flushes.flushed() as Promise<number>, caughtUp: async () => true };
  const app = createApi({ store, authenticator: adminAuthenticator, telemetry, node: 'n', version: 't', leaderRouting: routing, ...(options.heartbeatMs ? { heartbeatMs: options.heartbeatMs } : {}) });
  after(() => app.close());
  return { store, flushes, app, telemetry };
}

/** Reads NDJSON lines (heartbeats as ''). */
function lineReader(response: Response) {
  assert.ok(response.body);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  return async (): Promise<string> => {
    for (;;) {
      const at = buffer.indexOf('\n');
      if (at >= 0) {
        const line = buffer.slice(0, at);
        buffer = buffer.slice(at + 1);
        return line;
      }
      const chunk = await reader.read();
      if (chunk.done) throw new Error('the stream ended');
      buffer += decoder.decode(chunk.value, { stream: true });
    }
  };
}

void describe('API on the leader of several servers: watches and the listings they resume after hold what etcd does not have yet', () => {
  void it('GET /v1/watch sends a change only once the leader\'s writes are in etcd', async () => {
    const { store, flushes, app } = leader({ heartbeatMs: 20 });
    store.applyControllerWrites({ createInstances: [newInstance({ id: 'web-1-a', slot: 1 })] });
    const durable = store.revision();
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const next = lineReader(await fetch(`${url}/v1/watch?fromRevision=${durable + 1}`));
    assert.equal(await next(), '', 'a heartbeat: the stream is open');
    store.applyControllerWrites({ createInstances: [newInstance({ id: 'web-2-b', slot: 2 })] });
    // Every line written after the commit comes after its change, had it been sent at the commit.
    for (let beats = 0; beats < 2; ) {
      const line = await next();
      assert.equal(line, '', `nothing but heartbeats while the change is not in etcd (got ${line.slice(0, 80)})`);
      beats++;
    }
    await flushes.asked(1);
    flushes.settle(0);
    let line = '';
    while (line === '') line = await next();
    const change = JSON.parse(line) as { revision: number; kind: string; key: string };
    assert.equal(change.kind, 'instance');
    assert.equal(change.revision, durable + 1);
    assert.equal(change.key, 'web-2-b');
  });

  void it('the listings a watch continues (snapshot, a node\'s instances, services, a service\'s instances) answer once what they list is in etcd, and 503 when it cannot be', async () => {
    const { store, flushes, app } = leader();
    store.createService({ grid: 'default', spec: parseServiceSpec({ name: 'web', containers: [{ command: ['sleep', '60'] }] }), deploy: true });
    store.applyControllerWrites({ createInstances: [newInstance({ id: 'web-1-a', slot: 1, node: 'n1' })] });
    const listings = ['/v1/snapshot', '/v1/nodes/n1/instances', '/v1/grids/default/services', '/v1/grids/default/services/web/instances'];
    for (const [k, url] of listings.entries()) {
      let settled = false;
      const answer = app.inject({ method: 'GET', url, headers: { authorization: 'Bearer x' } }).finally(() => (settled = true));
      await Promise.race([flushes.asked(k + 1), answer.then(() => assert.fail(`${url} answered without waiting for etcd`))]);
      await tick();
      assert.equal(settled, false, `${url} waits for etcd`);
      flushes.settle(k);
      const res = await answer;
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().revision, store.revision());
    }
    const failing = app.inject({ method: 'GET', url: '/v1/snapshot', headers: { authorization: 'Bearer x' } });
    await flushes.asked(listings.length + 1);
    flushes.settle(listings.length, new Error('fence failed'));
    const res = await failing;
    assert.equal(res.statusCode, 503);
    assert.equal(res.json().code, 'STORE_UNAVAILABLE');
  });

  void it('a service\'s followed events go out only once etcd holds them, after the history, which waits too; the listing answers only then, 503 when it cannot', async () => {
    const { store, flushes, app } = leader({ heartbeatMs: 20 });
    store.createService({ grid: 'default', spec: parseServiceSpec({ name: 'web', containers: [{ command: ['sleep', '60'] }] }), deploy: true });
    store.appendEvents([scaled('listed')]);
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const opening = fetch(`${url}/v1/grids/default/services/web/events?follow=true`);
    await Promise.race([flushes.asked(1), opening.then(() => assert.fail('the history was sent without waiting for etcd'))]);
    flushes.settle(0);
    const next = lineReader(await opening);
    assert.equal(messageOf(await nextValue(next)), 'listed');
    store.appendEvents([scaled('followed')]);
    for (let beats = 0; beats < 2; beats++) {
      const line = await next();
      assert.equal(line, '', `nothing but heartbeats while the event is not in etcd (got ${line.slice(0, 80)})`);
    }
    await flushes.asked(2);
    flushes.settle(1);
    assert.equal(messageOf(await nextValue(next)), 'followed');

    const listing = app.inject({ method: 'GET', url: '/v1/grids/default/services/web/events', headers: { authorization: 'Bearer x' } });
    await Promise.race([flushes.asked(3), listing.then(() => assert.fail('the listing answered without waiting for etcd'))]);
    flushes.settle(2, new Error('fence failed'));
    const res = await listing;
    assert.equal(res.statusCode, 503);
    assert.equal(res.json().code, 'STORE_UNAVAILABLE');
  });

  void it('a followed log timeline (logs?events=true) puts an event in only once etcd holds it', async () => {
    const { store, flushes, app, telemetry } = leader({ heartbeatMs: 20 });
    store.createService({ grid: 'default', spec: parseServiceSpec({ name: 'web', containers: [{ command: ['sleep', '60'] }] }), deploy: true });
    store.applyControllerWrites({ createInstances: [newInstance({ id: 'web-1-a', slot: 1 })] });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const opening = fetch(`${url}/v1/grids/default/services/web/logs?events=true&follow=true`);
    await Promise.race([flushes.asked(1), opening.then(() => assert.fail('the timeline\'s events were listed without waiting for etcd'))]);
    flushes.settle(0);
    const next = lineReader(await opening);
    store.appendEvents([{ ...scaled('followed'), time: '2026-03-01T12:00:01.000Z' }]);
    // Had the event been in the timeline, it would go out before this later line.
    telemetry.push({ time: '2026-03-01T12:00:02.000Z', stream: 'stdout', text: 'a later line', instance: 'web-1-a', slot: 1, container: 'main' });
    const first = await nextValue(next);
    assert.equal((first as { text?: string }).text, 'a later line', `the event is not sent before etcd holds it (got ${JSON.stringify(first)})`);
    await flushes.asked(2);
    flushes.settle(1);
    telemetry.push({ time: '2026-03-01T12:00:03.000Z', stream: 'stdout', text: 'the next line', instance: 'web-1-a', slot: 1, container: 'main' });
    const second = (await nextValue(next)) as { kind?: string; event?: ServiceEvent };
    assert.equal(second.kind, 'event');
    assert.equal(second.event?.message, 'followed');
  });
});

const scaled = (message: string): NewServiceEvent => ({ grid: 'default', service: 'web', type: 'service.scaled', severity: 'info', message });

/** The next value of an NDJSON stream, past heartbeats. */
async function nextValue(next: () => Promise<string>): Promise<unknown> {
  let line = '';
  while (line === '') line = await next();
  return JSON.parse(line) as unknown;
}

const messageOf = (value: unknown): string | undefined => (value as { message?: string }).message;
