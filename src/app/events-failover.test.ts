import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { ResumedStream } from '../client/index.js';
import { BerthClient } from '../client/index.js';
import type { NewServiceEvent, ServiceEvent } from '../model/index.js';
import { failoverServers, until } from './testing/failover-servers.js';

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
    assert.ok(await until(() => got.some((e) => e.message === 'durable'), 5000), 'the durable event came');

    // A records an event its writer has not put in etcd yet, and dies (SIGKILL) before it does.
    const durable = a.store.revision();
    a.hold();
    a.store.appendEvents([event('lost with the leader')]);
    // Long enough for the stream to have carried it, had it been sent (it is written at the commit).
    await until(() => got.length > 1, 1000);
    assert.deepEqual(got.map((e) => e.message), ['durable'], 'an event etcd does not hold is not sent');
    await a.die();

    // B leads from what etcd holds: its next event gets the id A's lost one had.
    const writerB = await b.takeLead();
    assert.equal(b.store.revision(), durable);
    b.store.appendEvents([event('recorded by the next leader')]);
    await writerB.flushed();
    const next = b.store.listEvents({ grid: 'default', service: 'web', afterId: durable });
    assert.equal(next[0]?.id, durable + 1, 'the next leader gave out the lost event\'s id again');

    const seen = await until(() => got.some((e) => e.message === 'recorded by the next leader'), 10_000);
    assert.ok(seen, `the resumed stream skipped the next leader's event ${durable + 1} (it got ${JSON.stringify(got.map((e) => [e.id, e.message]))})`);
    assert.deepEqual(got.map((e) => e.message), ['durable', 'recorded by the next leader']);
    assert.deepEqual(resumed.map((r) => [r.from, r.to]), [[a.url, b.url]], 'it went on at B');
    controller.abort();
    await following;
  });
});
