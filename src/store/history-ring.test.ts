import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SqliteKv } from './backend/index.js';
import { HISTORY_RING, historyOps, historyRowsOf } from './history-ring.js';
import type { WatchEvent } from './index.js';
import { StoreReplica, openSqliteStore } from './index.js';
import { PREFIX, instance, leaderOn, spec } from './testing/replica-fixtures.js';

type Store = ReturnType<typeof openSqliteStore>;

/** Every event a watch from `from` replays at once (revision, kind, key and object). */
function replay(store: Store, from: number): WatchEvent[] {
  const seen: WatchEvent[] = [];
  void store.watch(from, (e) => seen.push(e)).dispose();
  return seen;
}

let made = 0;

/**
 * `n` group commits on the leader, each flushed before the next: each creates an instance (its row never
 * changes after, so its history stays fillable on a load: change-rows.ts).
 */
async function commits(leader: Awaited<ReturnType<typeof leaderOn>>, n: number): Promise<number> {
  let revision = 0;
  for (let k = 0; k < n; k++) {
    made++;
    leader.store.applyControllerWrites({ createInstances: [{ ...instance(`web-${made}-r`, made + 1), spec: { ...instance('x', 1).spec, address: `127.11.${made >> 8}.${made & 255}` } }] });
    revision = await leader.writer.flushed();
  }
  return revision;
}

/** A leader with the service web and one instance in etcd, and a follower that loaded and follows. */
async function leaderAndFollower(storeOptions: { historyRevisions?: number } = {}) {
  const kv = new SqliteKv();
  const leader = await leaderOn(kv, {}, storeOptions);
  leader.store.createService({ grid: 'default', spec: spec('web'), deploy: true });
  leader.store.applyControllerWrites({ createInstances: [instance('web-1-a', 1)] });
  await leader.writer.flushed();
  const follower = openSqliteStore(':memory:');
  const replica = new StoreReplica(kv, follower, { prefix: PREFIX });
  follower.replicate({});
  await replica.load();
  replica.follow();
  return { kv, leader, follower, replica };
}

void describe('the history ring: etcd holds the history of the last commits, each server its own (store/history-ring.ts)', () => {
  void it('packs history rows into parts of a bounded size, in a slot of the ring, and reads them back; damaged values give nothing', () => {
    const rows = Array.from({ length: 50 }, (_, k) => ({ revision: k + 1, kind: 'instance', op: 'put', key: `i${k}`, json: 'x'.repeat(100) }));
    const ops = historyOps(PREFIX, HISTORY_RING + 3, rows, 0, 1000);
    assert.ok(ops.length > 5, `split into parts (${ops.length})`);
    assert.ok(ops.every((op) => op.op === 'put' && op.key.startsWith(`${PREFIX}history/3/`) && op.value.length <= 1000 + 200), 'slot = commit mod ring, each part near the bound');
    const back = ops.flatMap((op) => (op.op === 'put' ? historyRowsOf(op.value) : []));
    assert.deepEqual(back.map((r) => r.row), rows);
    assert.deepEqual(back[0], { table: 'changes', key: [1], row: rows[0] });
    // Parts an earlier, larger commit left in the slot are deleted.
    const again = historyOps(PREFIX, 3, rows.slice(0, 2), ops.length, 1000);
    assert.deepEqual(again.map((op) => op.op), ['put', ...Array.from({ length: ops.length - 1 }, () => 'delete')]);
    assert.deepEqual(again.slice(1).map((op) => (op.op === 'delete' ? op.key : '')), ops.slice(1).map((op) => (op.op === 'put' ? op.key : '')));
    assert.deepEqual(historyRowsOf('not json'), []);
    assert.deepEqual(historyRowsOf('{"revision":1}'), []);
    assert.deepEqual(historyRowsOf('[{"revision":"1"},{"revision":-2},null,{"revision":3,"kind":"node"}]').map((r) => r.key), [[3]]);
  });

  void it('no history row by row in etcd; the ring never holds more than its slots; a follower that followed replays what the leader replays', async () => {
    const { kv, leader, follower, replica } = await leaderAndFollower();
    const from = follower.revision();
    const revision = await commits(leader, HISTORY_RING + 20);
    assert.ok(await replica.caughtUp(revision, 5000));
    assert.equal((await kv.range(`${PREFIX}rows/changes/`)).items.length, 0);
    const ring = (await kv.range(`${PREFIX}history/`)).items;
    assert.ok(ring.length > 0 && ring.length <= HISTORY_RING, `${ring.length} history keys`);
    const expected = replay(leader.store, from);
    assert.equal(expected.length, HISTORY_RING + 20);
    assert.deepEqual(replay(follower, from), expected, 'the same events, objects included');
    replica.stop();
    await kv.close();
  });

  void it('a large commit\'s extra parts are deleted when the ring comes round to its slot: etcd holds the last commits\' history, no more', async () => {
    const kv = new SqliteKv();
    const leader = await leaderOn(kv, { historyPartBytes: 300 });
    leader.store.createService({ grid: 'default', spec: spec('web'), deploy: true });
    await leader.writer.flushed();
    leader.store.applyControllerWrites({ createInstances: Array.from({ length: 30 }, (_, k) => ({ ...instance(`web-${k + 1}-big`, k + 1), spec: { ...instance('x', 1).spec, address: `127.12.0.${k + 1}` } })) });
    await leader.writer.flushed();
    const big = (await kv.range(`${PREFIX}history/`)).items.length;
    assert.ok(big > 5, `the large commit took many parts (${big} keys)`);
    await commits(leader, HISTORY_RING);
    const keys = (await kv.range(`${PREFIX}history/`)).items.length;
    assert.ok(keys <= HISTORY_RING, `${keys} history keys after the ring came round (at most one part per small commit)`);
    // A follower that loads now still replays the last commits whole.
    const late = openSqliteStore(':memory:');
    late.replicate({});
    await new StoreReplica(kv, late, { prefix: PREFIX }).load();
    const recent = leader.store.revision() - 10;
    assert.deepEqual(replay(late, recent), replay(leader.store, recent));
    await kv.close();
  });

  void it('a ring slot etcd does not count (a hiccup) does not stop the leader: the commit goes, and the slot is counted next time round', async () => {
    const kv = new SqliteKv();
    const count = kv.count.bind(kv);
    let counts = 0;
    kv.count = async (prefix) => {
      counts++;
      if (counts <= 2) throw new Error('etcd hiccup');
      return count(prefix);
    };
    const leader = await leaderOn(kv);
    leader.store.createService({ grid: 'default', spec: spec('web'), deploy: true });
    await leader.writer.flushed();
    await commits(leader, HISTORY_RING + 2);
    assert.deepEqual(leader.fatal, [], 'the leader goes on');
    assert.ok(counts > HISTORY_RING, `the slots not counted were counted again (${counts} counts)`);
    const late = openSqliteStore(':memory:');
    late.replicate({});
    await new StoreReplica(kv, late, { prefix: PREFIX }).load();
    assert.equal(late.revision(), leader.store.revision());
    await kv.close();
  });

  void it('a server that loads fills its history from the ring while the ring holds it; past the ring, a watch from before is told to list again, never given a gap', async () => {
    const kv = new SqliteKv();
    const leader = await leaderOn(kv);
    leader.store.createService({ grid: 'default', spec: spec('web'), deploy: true });
    leader.store.applyControllerWrites({ createInstances: [instance('web-1-a', 1)] });
    await leader.writer.flushed();
    const start = leader.store.revision();
    await commits(leader, 10);

    // Within the ring: the whole history since the service was made.
    const near = openSqliteStore(':memory:');
    near.replicate({});
    await new StoreReplica(kv, near, { prefix: PREFIX }).load();
    assert.deepEqual(replay(near, start), replay(leader.store, start));

    // Past the ring: the oldest commits' history is gone from etcd.
    await commits(leader, HISTORY_RING + 5);
    const far = openSqliteStore(':memory:');
    far.replicate({});
    await new StoreReplica(kv, far, { prefix: PREFIX }).load();
    assert.equal(far.revision(), leader.store.revision());
    assert.throws(() => far.watch(start, () => undefined), /compacted/i);
    const recent = leader.store.revision() - 10;
    assert.deepEqual(replay(far, recent), replay(leader.store, recent), 'the last commits are whole');
    await kv.close();
  });

  void it('a follower that restarts with its data file past the ring drops its stale history (a watch from its old revision lists again); within the ring it fills the gap', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-ring-'));
    try {
      const kv = new SqliteKv();
      const leader = await leaderOn(kv);
      leader.store.createService({ grid: 'default', spec: spec('web'), deploy: true });
      leader.store.applyControllerWrites({ createInstances: [instance('web-1-a', 1)] });
      await leader.writer.flushed();
      const path = join(dir, 'follower.db');
      const open = async (): Promise<{ store: Store; replica: StoreReplica }> => {
        const store = openSqliteStore(path);
        store.replicate({});
        const replica = new StoreReplica(kv, store, { prefix: PREFIX });
        await replica.load();
        return { store, replica };
      };
      let f = await open();
      f.replica.follow();
      assert.ok(await f.replica.caughtUp(await commits(leader, 3), 5000));
      const stoppedAt = f.store.revision();
      f.replica.stop();
      f.store.close();

      // Down for 5 commits: the ring holds them.
      await commits(leader, 5);
      f = await open();
      assert.deepEqual(replay(f.store, stoppedAt), replay(leader.store, stoppedAt), 'the missed commits, from the ring');
      const second = f.store.revision();
      f.store.close();

      // Down for more commits than the ring holds: the history it had is dropped, even across another restart.
      await commits(leader, HISTORY_RING + 3);
      f = await open();
      assert.throws(() => f.store.watch(second, () => undefined), /compacted/i);
      f.store.close();
      f = await open();
      assert.throws(() => f.store.watch(second, () => undefined), /compacted/i, 'still after a restart: the floor is in the rows, not in memory');
      assert.deepEqual(replay(f.store, f.store.revision() - 5), replay(leader.store, leader.store.revision() - 5));
      f.store.close();
      await kv.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void it('a follower that reloads past the ring ends the watches it serves (onLost), instead of giving them a gap; within the ring they go on', async () => {
    const { kv, leader, follower, replica } = await leaderAndFollower();
    const seen: WatchEvent[] = [];
    let lost = 0;
    const from = follower.revision();
    follower.watch(from, (e) => seen.push(e), { onLost: () => lost++ });
    // Behind by a few commits, then a reload: the ring fills them, the watch goes on.
    replica.stop();
    await commits(leader, 3);
    await replica.load();
    assert.equal(lost, 0);
    assert.deepEqual(seen, replay(leader.store, from), 'the missed commits, in order, from the ring');
    // Behind by more than the ring holds: the watch ends, and nothing past the hole reaches it.
    const before = seen.length;
    await commits(leader, HISTORY_RING + 3);
    await replica.load();
    assert.equal(lost, 1, 'told once');
    assert.equal(seen.length, before, 'no event past the hole');
    await commits(leader, 1);
    replica.follow();
    assert.ok(await replica.caughtUp(await leader.writer.flushed(), 5000));
    assert.equal(seen.length, before, 'and none later: the watch is over');
    assert.throws(() => follower.watch(from, () => undefined), /compacted/i, 'resuming from its revision is refused: list again');
    replica.stop();
    await kv.close();
  });

  void it('a history part of a commit a dead leader only half wrote (past the store\'s revision) is not kept: the next leader gives those revisions out again', async () => {
    const { kv, leader, replica } = await leaderAndFollower();
    replica.stop();
    const at = leader.store.revision();
    const ghost = { revision: at + 1, kind: 'instance', op: 'put', key: 'ghost', json: JSON.stringify({ id: 'ghost' }) };
    await kv.put(`${PREFIX}history/63/0`, JSON.stringify([ghost]));
    const next = openSqliteStore(':memory:');
    next.replicate({});
    await new StoreReplica(kv, next, { prefix: PREFIX }).load();
    assert.equal(next.revision(), at);
    assert.deepEqual(replay(next, at), [], 'no event past the store\'s revision');
    next.createService({ grid: 'default', spec: spec('api'), deploy: false });
    assert.deepEqual(replay(next, at).map((e) => [e.revision, e.kind, e.key]), [[at + 1, 'service', 'default/api']]);
    await kv.close();
  });

  void it('followers trim their own history where the leader trims (its replicated `compacted`)', async () => {
    const { kv, leader, follower, replica } = await leaderAndFollower({ historyRevisions: 20 });
    const early = follower.revision();
    assert.ok(await replica.caughtUp(await commits(leader, 60), 5000));
    assert.throws(() => leader.store.watch(early, () => undefined), /compacted/i);
    assert.throws(() => follower.watch(early, () => undefined), /compacted/i, 'trimmed on the follower too');
    const kept = replay(follower, 0 + follower.revision() - 20);
    assert.equal(kept.length, 20);
    const rows = (follower as unknown as { db: { prepare(sql: string): { get(): { n: number } } } }).db.prepare('SELECT COUNT(*) AS n FROM changes').get().n;
    assert.ok(rows <= 20 + 2 + 1, `the follower keeps about as much as the leader (${rows} rows)`);
    replica.stop();
    await kv.close();
  });
});
