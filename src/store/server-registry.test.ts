import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { KvLease } from './backend/index.js';
import { SqliteKv } from './backend/sqlite-kv.js';
import { ServerRegistry, parseServerRecord } from './server-registry.js';
import { until } from '../../test/until.js';

const PREFIX = '/berth/servers/';
const record = (id: string) => ({ id, url: `https://127.0.0.1:${7000 + id.length}`, startedAt: '2026-12-05T00:00:00.000Z', version: '0.0.0-test' });


describe('ServerRegistry', () => {
  const kv = new SqliteKv({ leaseCheckMs: 20 });
  after(() => kv.close());

  it('lists every registered server on every server, and a server that stops leaves at once', async () => {
    const a = new ServerRegistry(kv, { prefix: PREFIX, self: record('aaaa'), ttlSeconds: 5 });
    const b = new ServerRegistry(kv, { prefix: PREFIX, self: record('bbbbbb'), ttlSeconds: 5 });
    await a.start();
    await b.start();
    try {
      await until('both servers on both lists', () => a.list().length === 2 && b.list().length === 2);
      assert.deepEqual(a.list(), [record('aaaa'), record('bbbbbb')], 'sorted by id, records as registered');
      assert.deepEqual(b.list(), a.list());
      await b.stop();
      await until('b gone from a', () => a.list().length === 1);
      assert.deepEqual(a.list(), [record('aaaa')]);
      assert.equal((await kv.range(PREFIX)).items.length, 1, 'its key is deleted with its lease');
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it('a server whose lease is lost (revoked or expired) leaves the list, then registers again with a new lease', async () => {
    const a = new ServerRegistry(kv, { prefix: PREFIX, self: record('cc'), ttlSeconds: 1 });
    const watcher = new ServerRegistry(kv, { prefix: PREFIX, self: record('watcher'), ttlSeconds: 5 });
    await a.start();
    await watcher.start();
    try {
      await until('cc registered', () => watcher.list().some((s) => s.id === 'cc'));
      const first = (a as unknown as { lease: KvLease }).lease;
      const seen: boolean[] = [];
      const timer = setInterval(() => seen.push(watcher.list().some((s) => s.id === 'cc')), 5);
      // Revoked elsewhere (etcd's `lease revoke`, or expired while this server was cut off): its next
      // keep-alive fails, and the lease reports itself lost.
      (kv as unknown as { revokeLease(id: string): void }).revokeLease(first.id);
      await until('cc back with another lease', () => {
        const now = (a as unknown as { lease?: KvLease }).lease;
        return now !== undefined && now.id !== first.id && watcher.list().some((s) => s.id === 'cc');
      });
      clearInterval(timer);
      assert.ok(seen.includes(false), 'it was off the list while its lease was gone');
      assert.equal((await kv.get(`${PREFIX}cc`))?.lease, (a as unknown as { lease: KvLease }).lease.id, 'its key is on the new lease');
    } finally {
      await a.stop();
      await watcher.stop();
    }
  });

  it('keeps trying while the store refuses the registration, and lists nothing that is not a record', async () => {
    await kv.put(`${PREFIX}junk`, 'not json');
    await kv.put(`${PREFIX}half`, JSON.stringify({ id: 'half' }));
    let refusals = 0;
    const flaky = Object.create(kv, {
      grantLease: {
        value: async (ttl: number) => {
          if (++refusals <= 2) throw new Error('etcd unavailable');
          return kv.grantLease(ttl);
        },
      },
    }) as SqliteKv;
    const a = new ServerRegistry(flaky, { prefix: PREFIX, self: record('dd'), ttlSeconds: 5 });
    await a.start();
    try {
      await until('dd registered after two refusals', () => a.list().some((s) => s.id === 'dd'));
      assert.equal(refusals, 3);
      assert.deepEqual(a.list().map((s) => s.id), ['dd'], 'junk and half records are not servers');
    } finally {
      await a.stop();
      await kv.delete(`${PREFIX}junk`);
      await kv.delete(`${PREFIX}half`);
    }
  });

  it('parses only records with an id and a URL', () => {
    assert.equal(parseServerRecord('{'), undefined);
    assert.equal(parseServerRecord('{"id":"x"}'), undefined);
    assert.deepEqual(parseServerRecord('{"id":"x","url":"http://h:1"}'), { id: 'x', url: 'http://h:1', startedAt: '', version: '' });
  });
});
