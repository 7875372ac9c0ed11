import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { hasCode, ManualClock } from '../../lib/index.js';
import { killMidWrites, moduleUrl } from '../../../test/kill-mid-writes.js';
import { collectWatch } from './conformance-tools.js';
import { runKvConformance } from './conformance.js';
import { SqliteKv } from './sqlite-kv.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-sqlite-kv-'));
const path = join(dir, 'kv.db');
after(() => rmSync(dir, { recursive: true, force: true }));

runKvConformance({
  name: 'SqliteKv (file, WAL)',
  open: async () => new SqliteKv({ path, leaseCheckMs: 50 }),
  disrupt: async (backend) => {
    await backend.close();
    return new SqliteKv({ path, leaseCheckMs: 50 });
  },
  watchSurvives: false,
  leaseSlackMs: 500,
});

/** Runs `body` in a child process that opens a SqliteKv on `file` as `kv`, and SIGKILLs it once it printed `ack` `killAfter` times. */
function killKvMidWrites(file: string, body: string, killAfter: number): Promise<string[]> {
  const source = `import { SqliteKv } from ${JSON.stringify(moduleUrl('src/store/backend/sqlite-kv.ts'))};\nconst kv = new SqliteKv({ path: process.argv[2] });\n${body}\n`;
  return killMidWrites({ dir, source, args: [file], killAfter });
}

describe('SqliteKv on a file', () => {
  it('keeps every acknowledged write, revision and history when the writing process is killed mid-way', async () => {
    const file = join(dir, 'kill.db');
    const acks = await killKvMidWrites(file, `for (let k = 0; k < 1e6; k++) { const r = await kv.put('/k/' + k, String(k)); process.stdout.write('ack ' + k + ' ' + r.revision + '\\n'); }`, 300);
    const kv = new SqliteKv({ path: file });
    try {
      for (const ack of acks) {
        const [k, rev] = ack.split(' ');
        assert.equal((await kv.get(`/k/${k}`))?.modRevision, Number(rev), `acknowledged write ${k} survived at its revision`);
      }
      const lastAcked = Number((acks.at(-1) as string).split(' ')[1]);
      const revision = await kv.revision();
      assert.ok(revision >= lastAcked);
      const w = collectWatch(kv, '/k/', 1);
      await w.until((e) => e.length >= revision - 1);
      w.stop();
      assert.deepEqual(w.events.map((e) => e.kv.modRevision), Array.from({ length: revision - 1 }, (_, i) => i + 2), 'the history has every revision, no gap');
    } finally {
      await kv.close();
    }
  });

  it('never leaves half a transaction behind a kill', async () => {
    const file = join(dir, 'kill-txn.db');
    const acks = await killKvMidWrites(
      file,
      `for (let k = 0; k < 1e6; k++) { await kv.txn({ compare: [], success: [{ op: 'put', key: '/a/' + k, value: 'x'.repeat(2000) }, { op: 'put', key: '/b/' + k, value: 'y' }] }); process.stdout.write('ack ' + k + '\\n'); }`,
      200,
    );
    const kv = new SqliteKv({ path: file });
    try {
      const a = (await kv.range('/a/')).items.map((i) => i.key.slice(3));
      const b = (await kv.range('/b/')).items.map((i) => i.key.slice(3));
      assert.deepEqual(a, b, 'every transaction is there whole or not at all');
      assert.ok(a.length >= acks.length);
    } finally {
      await kv.close();
    }
  });

  it('gives a lease its full TTL again after a restart, then expires it as delete events', async () => {
    const file = join(dir, 'lease.db');
    const first = new SqliteKv({ path: file, leaseCheckMs: 20 });
    const lease = await first.grantLease(1);
    await first.put('/l/held', 'x', { lease: lease.id });
    await first.close(); // as a crash: the lease is not revoked
    const second = new SqliteKv({ path: file, leaseCheckMs: 20 });
    try {
      assert.ok(await second.get('/l/held'), 'the key is still there at the restart');
      const w = collectWatch(second, '/l/', await second.revision(), { prevKv: true });
      await w.until((e) => e.length >= 1, 3000);
      w.stop();
      assert.deepEqual(w.events.map((e) => [e.type, e.kv.key, e.prevKv?.lease]), [['delete', '/l/held', lease.id]]);
      await assert.rejects(second.put('/l/again', 'x', { lease: lease.id }), (e: unknown) => hasCode(e, 'REQUEST_INVALID'));
    } finally {
      await second.close();
    }
  });

  it('trims history past historyRevisions: an old watch gets the compacted signal, an old read REVISION_COMPACTED', async () => {
    const kv = new SqliteKv({ historyRevisions: 10 });
    try {
      for (let i = 0; i < 30; i++) await kv.put('/h/k', String(i));
      const w = collectWatch(kv, '/h/', 1);
      await w.untilCompacted();
      w.stop();
      const compactedAt = w.compacted[0] as number;
      assert.ok(compactedAt >= 31 - 11 && compactedAt <= 31 - 10, `compacted at ${compactedAt}`);
      await assert.rejects(kv.range('/h/', { revision: 2 }), (e: unknown) => hasCode(e, 'REVISION_COMPACTED'));
      const recent = await kv.range('/h/', { revision: 29 });
      assert.equal(recent.items[0]?.value, '27', 'a read at a kept revision sees the value of then');
      await assert.rejects(kv.compact(1000), (e: unknown) => hasCode(e, 'REQUEST_INVALID'));
    } finally {
      await kv.close();
    }
  });
});

describe('SqliteKv leases by the injected clock', () => {
  it('expires a released lease when the clock passes its TTL, not before', async () => {
    const clock = new ManualClock(1_000_000);
    const kv = new SqliteKv({ clock, leaseCheckMs: 10 });
    try {
      const lease = await kv.grantLease(5);
      await kv.put('/c/held', 'x', { lease: lease.id });
      lease.release();
      await clock.advance(4_999);
      await new Promise((r) => setTimeout(r, 50)); // several sweeps
      assert.ok(await kv.get('/c/held'), 'still there 1 ms before the TTL');
      const w = collectWatch(kv, '/c/', await kv.revision());
      await clock.advance(1);
      await w.until((e) => e.length >= 1, 2000);
      w.stop();
      assert.deepEqual(w.events.map((e) => [e.type, e.kv.key]), [['delete', '/c/held']]);
    } finally {
      await kv.close();
    }
  });
});

describe('SqliteKv watchers', () => {
  it('keep revision order for every watcher when a listener writes', async () => {
    const kv = new SqliteKv();
    try {
      const start = await kv.revision();
      const writer = kv.watch('/o/', start, {
        events: (events) => {
          for (const e of events) if (e.kv.key === '/o/a') void kv.put('/o/b', 'from the listener');
        },
        compacted: () => {},
      });
      const w = collectWatch(kv, '/o/', start);
      await new Promise((r) => setTimeout(r, 10));
      await kv.put('/o/a', '1');
      await w.until((e) => e.length >= 2);
      void writer.dispose();
      w.stop();
      assert.deepEqual(w.events.map((e) => e.kv.key), ['/o/a', '/o/b']);
      assert.ok((w.events[0]?.kv.modRevision as number) < (w.events[1]?.kv.modRevision as number));
    } finally {
      await kv.close();
    }
  });
});
