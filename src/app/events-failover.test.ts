import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { FakeTelemetry, createApi } from '../api/index.js';
import { adminAuthenticator, newInstance } from '../api/testing/fixtures.js';
import type { ResumedStream } from '../client/index.js';
import { BerthClient } from '../client/index.js';
import type { LogLine, NewServiceEvent, ServiceEvent, TimelineLine } from '../model/index.js';
import { parseServiceSpec } from '../model/index.js';
import { openSqliteStore } from '../store/index.js';
import { eventually, failoverServers } from '../../test/failover-servers.js';

/*
 * `berth --host A,B service events -f` follows a service's events through one server and, when that one
 * dies, resumes on the next after the last event id it got (client/stream-cursor.ts's EventCursor). Ids
 * are store revisions: an event the leader sent before etcd held it dies with the leader, and the next
 * leader gives its id to another event, which the resumed stream then skips. These servers run
 * in-process on one SqliteKv as etcd, the leader's etcd writes held where a SIGKILL would catch them.
 */

const event = (message: string): NewServiceEvent => ({ grid: 'default', service: 'web', type: 'service.scaled', severity: 'info', message });

void describe('a followed events stream across the death of the leader it followed', () => {
  void it('is never sent an event the leader had not made durable, so it gets the event the next leader records with that id', async () => {
    const { a, b } = await failoverServers();
    a.store.appendEvents([event('durable')]);
    await a.flushed();

    const client = new BerthClient({ baseUrl: [a.url, b.url], token: 'x' });
    const controller = new AbortController();
    after(() => controller.abort());
    const got: ServiceEvent[] = [];
    const resumed: ResumedStream[] = [];
    const following = (async () => {
      for await (const e of client.events('default', 'web', { follow: true, signal: controller.signal, onResume: (r) => resumed.push(r) })) got.push(e);
    })();
    assert.ok(await eventually(() => got.some((e) => e.message === 'durable'), 5000), 'the durable event came');

    // A records an event its writer has not put in etcd yet, and dies (SIGKILL) before it does.
    const durable = a.store.revision();
    a.hold();
    a.store.appendEvents([event('lost with the leader')]);
    // Long enough for the stream to have carried it, had it been sent (it is written at the commit).
    await eventually(() => got.length > 1, 1000);
    assert.deepEqual(got.map((e) => e.message), ['durable'], 'an event etcd does not hold is not sent');
    await a.die();

    // B leads from what etcd holds: its next event gets the id A's lost one had.
    const writerB = await b.takeLead();
    assert.equal(b.store.revision(), durable);
    b.store.appendEvents([event('recorded by the next leader')]);
    await writerB.flushed();
    const next = b.store.listEvents({ grid: 'default', service: 'web', afterId: durable });
    assert.equal(next[0]?.id, durable + 1, 'the next leader gave out the lost event\'s id again');

    const seen = await eventually(() => got.some((e) => e.message === 'recorded by the next leader'), 10_000);
    assert.ok(seen, `the resumed stream skipped the next leader's event ${durable + 1} (it got ${JSON.stringify(got.map((e) => [e.id, e.message]))})`);
    assert.deepEqual(got.map((e) => e.message), ['durable', 'recorded by the next leader']);
    assert.deepEqual(resumed.map((r) => [r.from, r.to]), [[a.url, b.url]], 'it went on at B');
    controller.abort();
    await following;
  });
});

void describe('a followed log timeline (logs --events) moved to another server', () => {
  const T = (s: number): string => `2026-03-01T12:00:0${s}.000Z`;
  const line = (s: number, text: string): LogLine => ({ time: T(s), stream: 'stdout', text, instance: 'web-1-a', slot: 1, container: 'main' });
  const label = (l: TimelineLine): string => ('kind' in l ? `E${l.event.id} ${l.event.message}` : `L ${l.text}`);

  void it('resumes its events after the last event id, so it gets an event recorded meanwhile with a time before its last line', async () => {
    // Two servers over one store (what a replica holds), each with its own clock: A's stands still, so
    // A puts an event in only before a later line (never on a quiet stream).
    const store = openSqliteStore(':memory:');
    store.createService({ grid: 'default', spec: parseServiceSpec({ name: 'web', containers: [{ command: ['sleep', '60'] }] }), deploy: true });
    store.applyControllerWrites({ createInstances: [newInstance({ id: 'web-1-a', slot: 1 })] });
    const telemetry = new FakeTelemetry();
    telemetry.lines = [line(1, 'one')];
    const serve = async (clock: { now(): number; sleep(ms: number): Promise<void> } | undefined) => {
      const app = createApi({ store, authenticator: adminAuthenticator, telemetry, node: 'n', version: 't', ...(clock ? { clock } : {}) });
      after(() => app.close());
      return { app, url: await app.listen({ host: '127.0.0.1', port: 0 }) };
    };
    const a = await serve({ now: () => Date.parse(T(0)), sleep: () => Promise.resolve() });
    const b = await serve(undefined);
    store.appendEvents([{ ...event('deployed'), time: T(2) }]);

    const client = new BerthClient({ baseUrl: [a.url, b.url], token: 'x' });
    const controller = new AbortController();
    after(() => controller.abort());
    const got: string[] = [];
    const resumed: ResumedStream[] = [];
    const following = (async () => {
      for await (const l of client.logs('default', 'web', { follow: true, events: true, signal: controller.signal, onResume: (r) => resumed.push(r) })) got.push(label(l));
    })();
    assert.ok(await eventually(() => telemetry.followers.size === 1, 5000), 'A follows the logs');
    telemetry.push(line(5, 'five'));
    assert.ok(await eventually(() => got.length === 3, 5000), `the first lines came (got ${JSON.stringify(got)})`);
    const [deployed] = store.listEvents({ grid: 'default', service: 'web' });
    assert.deepEqual(got, ['L one', `E${deployed?.id} deployed`, 'L five']);

    // An agent's report that came late: recorded now (a later id), with the time the exit happened
    // (before the client's last line). A holds it until a later line, and stops first.
    store.appendEvents([{ ...event('exited'), time: T(3) }]);
    const exited = store.revision();
    await a.app.close();
    assert.ok(await eventually(() => resumed.length === 1 && telemetry.followers.size === 1 && [...telemetry.followers].every((f) => f.signal?.aborted !== true), 5000), 'the stream went on at B');
    telemetry.push(line(6, 'six'));
    assert.ok(await eventually(() => got.includes('L six'), 5000), `B's next line came (got ${JSON.stringify(got)})`);
    assert.deepEqual(got, ['L one', `E${deployed?.id} deployed`, 'L five', `E${exited} exited`, 'L six'], 'the late event came once, before the next line');
    controller.abort();
    await following;
  });
});
