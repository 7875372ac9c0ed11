import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { hasCode } from '../../lib/index.js';
import type { KeyValue, KvBackend, KvEvent } from './kv-backend.js';
import { nextKey } from './kv-backend.js';
import { collectWatch, retrying, waitFor } from './conformance-tools.js';

/**
 * What the conformance suite runs against. `open` gives a backend on one shared store (each test uses
 * its own key prefix); `disrupt` breaks the connection under a live watch and returns the backend to
 * go on with: etcd kills and restarts members (the same backend, its watches must survive); SQLite
 * closes the backend and opens a new one on the same file (`watchSurvives: false`: the caller watches
 * again from the last revision it got).
 */
export interface ConformanceTarget {
  readonly name: string;
  open(): Promise<KvBackend>;
  disrupt(backend: KvBackend): Promise<KvBackend>;
  readonly watchSurvives: boolean;
  /** Longest time a lease of 2 s may take to vanish after release (etcd checks expiry every 500 ms). */
  readonly leaseSlackMs: number;
}

/**
 * The one suite both backends pass (Hono's pattern; drivers/ has the same for drivers): ordering, CAS
 * conflicts, txn atomicity, watch replay and liveness without gaps, compaction and resync, leases, watch
 * across a reconnect, large and odd keys and values. Registers node:test cases.
 */
export function runKvConformance(target: ConformanceTarget): void {
  describe(`KvBackend conformance: ${target.name}`, () => {
    let kv: KvBackend;
    const prefix = (): string => `/conf/${randomUUID().slice(0, 8)}/`;
    before(async () => {
      kv = await target.open();
    });
    after(async () => {
      await kv.close();
    });

    it('gives every write a strictly higher revision, one per transaction, and keeps etcd key versions', async () => {
      const p = prefix();
      const a = await kv.put(`${p}a`, '1');
      const b = await kv.put(`${p}a`, '2');
      assert.ok(a.ok && b.ok);
      assert.ok(b.revision > a.revision, `${b.revision} > ${a.revision}`);
      const got = (await kv.get(`${p}a`)) as KeyValue;
      assert.deepEqual([got.value, got.createRevision, got.modRevision, got.version], ['2', a.revision, b.revision, 2]);
      const t = await kv.txn({ compare: [], success: [{ op: 'put', key: `${p}b`, value: 'x' }, { op: 'put', key: `${p}c`, value: 'y' }] });
      assert.equal(t.revision, b.revision + 1);
      assert.equal((await kv.get(`${p}b`))?.modRevision, t.revision);
      assert.equal((await kv.get(`${p}c`))?.modRevision, t.revision);
      const before = await kv.revision();
      const gone = await kv.delete(`${p}nothing`);
      assert.ok(gone.ok);
      assert.equal(await kv.revision(), before, 'deleting an absent key uses no revision');
      const d = await kv.delete(`${p}a`);
      assert.equal(d.revision, before + 1);
      const again = await kv.put(`${p}a`, '3');
      const fresh = (await kv.get(`${p}a`)) as KeyValue;
      assert.deepEqual([fresh.createRevision, fresh.version], [again.revision, 1], 'a delete resets createRevision and version');
    });

    it('pages a range at one revision, even when keys change between pages', async () => {
      const p = prefix();
      for (const k of ['a', 'b', 'c', 'd', 'e']) await kv.put(`${p}${k}`, `v${k}`);
      const first = await kv.range(p, { limit: 2 });
      assert.deepEqual(first.items.map((i) => i.key), [`${p}a`, `${p}b`]);
      assert.equal(first.more, true);
      await kv.put(`${p}c`, 'changed');
      await kv.delete(`${p}d`);
      await kv.put(`${p}cc`, 'new');
      const keys = [...first.items];
      let page = first;
      while (page.more) {
        page = await kv.range(p, { limit: 2, fromKey: nextKey((page.items.at(-1) as KeyValue).key), revision: first.revision });
        assert.equal(page.revision, first.revision);
        keys.push(...page.items);
      }
      assert.deepEqual(keys.map((i) => [i.key, i.value]), ['a', 'b', 'c', 'd', 'e'].map((k) => [`${p}${k}`, `v${k}`]));
      const now = await kv.range(p);
      assert.deepEqual(now.items.map((i) => i.key.slice(p.length)), ['a', 'b', 'c', 'cc', 'e']);
      assert.deepEqual(await kv.count(p), { count: 5, revision: now.revision });
    });

    it('lets exactly one of two writers with the same modRevision win', async () => {
      const p = prefix();
      const base = await kv.put(`${p}x`, 'base');
      const results = await Promise.all(['w1', 'w2'].map((w) => kv.put(`${p}x`, w, { ifModRevision: base.revision })));
      assert.equal(results.filter((r) => r.ok).length, 1, JSON.stringify(results));
      const loser = results.find((r) => !r.ok);
      const winner = results.find((r) => r.ok);
      assert.ok(loser && !loser.ok && winner?.ok);
      assert.equal(loser.current?.modRevision, winner.revision, 'the loser learns the current modRevision');
      const create = await Promise.all([1, 2, 3].map((n) => kv.put(`${p}new`, String(n), { ifModRevision: 0 })));
      assert.equal(create.filter((r) => r.ok).length, 1, 'ifModRevision 0 creates only once');
      const del = await kv.delete(`${p}x`, { ifModRevision: base.revision });
      assert.equal(del.ok, false);
      assert.ok(await kv.get(`${p}x`));
    });

    it('writes nothing of a transaction whose compare fails, and runs its failure branch', async () => {
      const p = prefix();
      const seed = await kv.put(`${p}k`, '1');
      const r = await kv.txn({
        compare: [{ key: `${p}k`, modRevision: seed.revision }, { key: `${p}other`, exists: true }],
        success: [{ op: 'put', key: `${p}k`, value: '2' }, { op: 'put', key: `${p}side`, value: 's' }],
        failure: [{ op: 'get', key: `${p}k` }],
      });
      assert.equal(r.succeeded, false);
      assert.equal(r.revision, seed.revision);
      assert.deepEqual(r.responses.map((x) => (x.op === 'get' ? x.kv?.value : x.op)), ['1']);
      assert.equal(await kv.get(`${p}side`), undefined);
      const ok = await kv.txn({ compare: [{ key: `${p}k`, version: 1 }, { key: `${p}other`, absent: true }, { key: `${p}k`, value: '1' }, { key: `${p}k`, createRevision: seed.revision }], success: [{ op: 'put', key: `${p}k`, value: '3' }] });
      assert.equal(ok.succeeded, true);
      const failing = kv.txn({ compare: [], success: [{ op: 'put', key: `${p}y`, value: '1' }, { op: 'put', key: `${p}z`, value: '1', lease: '999999999' }] });
      await assert.rejects(failing, (e: unknown) => hasCode(e, 'REQUEST_INVALID'), 'a put with an unknown lease fails the transaction');
      assert.equal(await kv.get(`${p}y`), undefined, 'the put before the failing op did not stay');
      await assert.rejects(kv.txn({ compare: [], success: [{ op: 'put', key: `${p}d`, value: '1' }, { op: 'delete', key: `${p}d` }] }), (e: unknown) => hasCode(e, 'REQUEST_INVALID'));
    });

    it('replays a watch from a past revision in order, then delivers live changes', async () => {
      const p = prefix();
      const start = await kv.revision();
      await kv.put(`${p}a`, '1');
      await kv.put(`${p}b`, '2');
      await kv.delete(`${p}a`);
      await kv.put(`/elsewhere${p}`, 'not mine');
      const w = collectWatch(kv, p, start, { prevKv: true });
      const plain = collectWatch(kv, p, start);
      await w.until((e) => e.length >= 3);
      await plain.until((e) => e.length >= 3);
      plain.stop();
      assert.ok(plain.events.every((e) => e.prevKv === undefined), 'no prevKv unless asked for');
      await kv.put(`${p}c`, '3');
      await w.until((e) => e.length >= 4);
      w.stop();
      assert.deepEqual(w.events.map((e) => [e.type, e.kv.key.slice(p.length), e.kv.value]), [['put', 'a', '1'], ['put', 'b', '2'], ['delete', 'a', ''], ['put', 'c', '3']]);
      assert.equal(w.events[2]?.prevKv?.value, '1', 'a delete carries the key before it');
      assert.equal(w.events[0]?.prevKv, undefined, 'a first put has no previous state');
      assertOrdered(w.events);
    });

    it('holds a watch from a revision still to come until the store gets there', async () => {
      const p = prefix();
      const now = await kv.revision();
      const w = collectWatch(kv, p, now + 2);
      for (const k of ['a', 'b', 'c', 'd']) await kv.put(`${p}${k}`, k);
      await w.until((e) => e.length >= 2);
      await new Promise((r) => setTimeout(r, 50));
      w.stop();
      assert.deepEqual(w.events.map((e) => e.kv.value), ['c', 'd']);
    });

    it('delivers many concurrent writes without a gap or a duplicate', async () => {
      const p = prefix();
      const w = collectWatch(kv, p, await kv.revision());
      const n = 400;
      const writes = await Promise.all(Array.from({ length: n }, (_, i) => kv.put(`${p}${i % 50}`, String(i))));
      await w.until((e) => e.length >= n);
      await new Promise((r) => setTimeout(r, 50));
      w.stop();
      assert.equal(w.events.length, n);
      assertOrdered(w.events);
      assert.deepEqual(w.events.map((e) => e.kv.modRevision), writes.map((r) => r.revision).sort((a, b) => a - b));
    });

    it('signals compaction once to a watch from before it, and a list then watch resyncs', async () => {
      const p = prefix();
      const start = await kv.revision();
      await kv.put(`${p}a`, '1');
      const mid = await kv.put(`${p}a`, '2');
      await kv.put(`${p}b`, '3');
      await kv.compact(mid.revision);
      await kv.compact(mid.revision); // again: a no-op
      const w = collectWatch(kv, p, start);
      await w.untilCompacted();
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(w.compacted, [mid.revision]);
      assert.deepEqual(w.events, []);
      w.stop();
      await assert.rejects(kv.range(p, { revision: start }), (e: unknown) => hasCode(e, 'REVISION_COMPACTED'));
      const now = await kv.revision();
      await assert.rejects(kv.range(p, { revision: now + 1000 }), (e: unknown) => hasCode(e, 'REQUEST_INVALID'), 'a read at a future revision');
      await assert.rejects(kv.compact(now + 1000), (e: unknown) => hasCode(e, 'REQUEST_INVALID'), 'compacting a future revision');
      // The resync path: list, then watch from the list's revision.
      const list = await kv.range(p);
      assert.deepEqual(list.items.map((i) => i.value), ['2', '3']);
      const w2 = collectWatch(kv, p, list.revision);
      await kv.put(`${p}c`, '4');
      await w2.until((e) => e.length >= 1);
      w2.stop();
      assert.deepEqual(w2.events.map((e) => e.kv.value), ['4']);
      assert.deepEqual(w2.compacted, []);
    });

    it('deletes the keys of an expired lease as delete events, and of a revoked one at once', async () => {
      const p = prefix();
      const w = collectWatch(kv, p, await kv.revision());
      const lease = await kv.grantLease(2);
      const lost: Error[] = [];
      lease.onLost((e) => lost.push(e));
      await kv.put(`${p}held`, 'x', { lease: lease.id });
      assert.equal((await kv.get(`${p}held`))?.lease, lease.id);
      await new Promise((r) => setTimeout(r, 2500));
      assert.ok(await kv.get(`${p}held`), 'a kept-alive lease outlives its TTL');
      lease.release();
      const released = Date.now();
      const third = await kv.grantLease(2);
      third.release();
      await w.until((e) => e.some((x) => x.type === 'delete'), 2000 + target.leaseSlackMs);
      assert.ok(Date.now() - released >= 1000, 'the key stayed for most of the TTL after release');
      assert.equal(await kv.get(`${p}held`), undefined);
      const second = await kv.grantLease(30);
      await kv.put(`${p}r1`, '1', { lease: second.id });
      await kv.put(`${p}r2`, '2', { lease: second.id });
      await second.revoke();
      await second.revoke(); // idempotent
      assert.deepEqual((await kv.range(p)).items, []);
      await w.until((e) => e.filter((x) => x.type === 'delete').length >= 3);
      w.stop();
      const deletes = w.events.filter((e) => e.type === 'delete');
      assert.deepEqual(deletes.map((e) => e.kv.key.slice(p.length)), ['held', 'r1', 'r2']);
      assert.equal(deletes[1]?.kv.modRevision, deletes[2]?.kv.modRevision, 'a revoke deletes its keys in one revision');
      await assert.rejects(kv.put(`${p}late`, '1', { lease: second.id }), (e: unknown) => hasCode(e, 'REQUEST_INVALID'), 'a revoked lease takes no key');
      await third.revoke(); // expired meanwhile: still no error
      const fourth = await kv.grantLease(60);
      await kv.put(`${p}kept`, '1', { lease: fourth.id });
      fourth.release();
      await fourth.revoke();
      assert.equal(await kv.get(`${p}kept`), undefined, 'revoke after release still deletes the keys');
    });

    it('keeps a watch gap-free across a reconnect', { timeout: 120_000 }, async () => {
      const p = prefix();
      const start = await kv.revision();
      let current = kv;
      const w = collectWatch(current, p, start);
      const n = 120;
      let written = 0;
      const writer = (async () => {
        for (let i = 0; i < n; i++) {
          await retrying(() => current.put(`${p}${i}`, String(i)));
          written++;
          if (i % 10 === 0) await new Promise((r) => setTimeout(r, 5));
        }
      })();
      await waitFor(() => written >= n / 3, 30_000, 'a third of the writes');
      const next = await target.disrupt(current);
      if (!target.watchSurvives) {
        w.stop();
        const last = w.events.at(-1)?.kv.modRevision ?? start;
        current = next;
        w.resume(current, last);
      }
      current = next;
      kv = next;
      await writer;
      await w.until((e) => new Set(e.map((x) => x.kv.key)).size >= n, 60_000);
      w.stop();
      assertOrdered(w.events);
      if (target.watchSurvives) assert.ok(w.errors.length > 0, 'the disruption broke the watch stream (and the watch went on)');
      const replay = collectWatch(current, p, start);
      await replay.until((e) => e.length >= w.events.length);
      await new Promise((r) => setTimeout(r, 100));
      replay.stop();
      assert.deepEqual(w.events.map((e) => [e.kv.modRevision, e.kv.key]), replay.events.map((e) => [e.kv.modRevision, e.kv.key]), 'the live watch saw exactly what the history holds');
    });

    it('stores a 1 MB value, unicode keys with slashes, in bytewise key order', async () => {
      const p = prefix();
      const big = 'x'.repeat(1024 * 1024);
      const w = collectWatch(kv, p, await kv.revision());
      await kv.put(`${p}big`, big);
      assert.equal((await kv.get(`${p}big`))?.value.length, big.length);
      const odd = ['ä/b', 'a/b/c', 'z', '日本/語', 'Ω', 'a b', '😀/x'];
      for (const k of odd) await kv.put(`${p}${k}`, k);
      const keys = (await kv.range(p)).items.map((i) => i.key.slice(p.length)).filter((k) => k !== 'big');
      const bytewise = [...odd].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      assert.deepEqual(keys, bytewise);
      assert.deepEqual((await kv.range(`${p}日本/`)).items.map((i) => i.value), ['日本/語']);
      await w.until((e) => e.length >= 1 + odd.length);
      w.stop();
      for (let i = 0; i < 5; i++) await kv.put(`${p}many/${i}`, big);
      const many = await kv.range(`${p}many/`);
      assert.equal(many.items.length, 5, 'a range answer of 5 MB (past the 4 MB gRPC receive limit by default)');
      assert.equal(w.events[0]?.kv.value.length, big.length);
      const all = await kv.range('');
      const mine = all.items.filter((i) => i.key.startsWith(p)).map((i) => i.key);
      assert.equal(mine.length, odd.length + 6, 'the empty prefix ranges over every key');
      assert.ok((await kv.count('')).count >= mine.length);
    });
  });
}

/** Revisions never go down, and no (revision, key) comes twice. */
function assertOrdered(events: readonly KvEvent[]): void {
  const seen = new Set<string>();
  let last = 0;
  for (const e of events) {
    assert.ok(e.kv.modRevision >= last, `revision ${e.kv.modRevision} after ${last}`);
    last = e.kv.modRevision;
    const id = `${e.kv.modRevision} ${e.kv.key}`;
    assert.ok(!seen.has(id), `duplicate event ${id}`);
    seen.add(id);
  }
}
