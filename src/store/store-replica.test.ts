import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SqliteKv } from './backend/index.js';
import type { WatchEvent } from './index.js';
import { LeaderElection, ReplicaWriter, ReplicationLostError, StoreReplica, openSqliteStore } from './index.js';
import { PREFIX, instance, leaderOn, spec, view } from './testing/replica-fixtures.js';

/**
 * A follower that loads and follows `kv`, and notes whether a watch event ever saw a number of instances
 * other than 0 or `whole` (half a commit applied: each event comes after its whole commit).
 */
async function wholeCommitsWatched(kv: SqliteKv, whole: number) {
  const follower = openSqliteStore(':memory:');
  const replica = new StoreReplica(kv, follower, { prefix: PREFIX });
  follower.replicate({});
  await replica.load();
  let partial = false;
  follower.watch(follower.revision(), () => {
    const n = follower.listInstances().length;
    if (n !== 0 && n !== whole) partial = true;
  });
  replica.follow();
  return { follower, replica, partial: () => partial };
}

void describe('the store replicated through a key-value backend (docs/control-plane.md)', () => {
  void it('a follower that loads and then follows holds what the leader wrote, and its watchers see the leader\'s revisions', async () => {
    const kv = new SqliteKv();
    const leader = await leaderOn(kv);
    leader.store.createService({ grid: 'default', spec: spec('web'), deploy: true });
    await leader.writer.flushed();

    const follower = openSqliteStore(':memory:');
    const replica = new StoreReplica(kv, follower, { prefix: PREFIX });
    follower.replicate({ readOnly: () => new Error('read only') });
    await replica.load();
    assert.deepEqual(view(follower), view(leader.store), 'loaded');

    const seen: WatchEvent[] = [];
    follower.watch(follower.revision(), (e) => seen.push(e));
    const fromLeader: WatchEvent[] = [];
    leader.store.watch(leader.store.revision(), (e) => fromLeader.push(e));
    replica.follow();
    leader.store.applyControllerWrites({ createInstances: [instance('web-1-a', 1), instance('web-2-b', 2)], events: [{ grid: 'default', service: 'web', type: 'instance.created', severity: 'info', message: 'made two' }] });
    leader.store.updateServiceIntent('default', 'web', { spec: spec('web', 3), deploy: true });
    leader.store.removeInstance('default', 'web', 'web-2-b');
    // The instances and the history are noted by their writers, not by triggers (RowCapture's selfNoted):
    // a status, a desired state, a delete, and writes that roll back (a dry run, a failed write) must
    // reach the follower as the leader's rows are, or not at all.
    leader.store.setInstanceStatuses([{ id: 'web-1-a', status: { state: 'running', timestamp: '2026-01-01T00:00:00.000Z', message: 'running' } }], []);
    leader.store.updateServiceIntent('default', 'web', { spec: spec('web', 5), deploy: true }, { dryRun: true });
    assert.throws(() => leader.store.applyControllerWrites({ createInstances: [instance('web-3-c', 3), instance('web-1-a', 1)] }), { code: 'INTERNAL' });
    leader.store.applyControllerWrites({ createInstances: [instance('web-3-d', 3)], deleteInstances: ['web-2-b'] });
    const revision = await leader.writer.flushed();
    assert.ok(await replica.caughtUp(revision, 5000), 'the follower reached the leader\'s last etcd revision');
    assert.deepEqual(view(follower), view(leader.store), 'followed');
    const rowsOf = (store: typeof follower, table: string) => store.replicatedRows().filter((r) => r.table === table).map((r) => r.row).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    assert.deepEqual(rowsOf(follower, 'instances'), rowsOf(leader.store, 'instances'), 'the same instance rows, every column');
    assert.deepEqual(rowsOf(follower, 'instances').map((r) => r?.['id']).sort(), ['web-1-a', 'web-3-d']);
    assert.deepEqual(rowsOf(follower, 'changes'), rowsOf(leader.store, 'changes'), 'the same history rows');
    assert.deepEqual(seen.map((e) => [e.revision, e.kind, e.key]), fromLeader.map((e) => [e.revision, e.kind, e.key]), 'the same watch events, at the same revisions');
    assert.throws(() => follower.createService({ grid: 'default', spec: spec('other'), deploy: false }), /read only/);
    replica.stop();
    await kv.close();
  });

  void it('a commit larger than one transaction is split, and a follower applies it whole', async () => {
    const kv = new SqliteKv();
    const leader = await leaderOn(kv, { chunkOps: 5 });
    const { follower, replica, partial } = await wholeCommitsWatched(kv, 30);
    leader.store.applyControllerWrites({ createInstances: Array.from({ length: 30 }, (_, k) => instance(`web-${k + 1}-x`, k + 1)) });
    const revision = await leader.writer.flushed();
    assert.ok(await replica.caughtUp(revision, 5000));
    assert.equal(follower.listInstances().length, 30);
    assert.equal(partial(), false, 'never half a commit');
    replica.stop();
    await kv.close();
  });

  void it('a split commit goes several transactions at a time, its commit marker only after all the others, and a follower still applies it whole', async () => {
    const kv = new SqliteKv();
    const leader = await leaderOn(kv, { chunkOps: 5, inFlight: 4 });
    await leader.writer.flushed();
    const { follower, replica, partial } = await wholeCommitsWatched(kv, 40);
    // etcd answers out of order: each transaction takes 0-20 ms.
    const txn = kv.txn.bind(kv);
    let open = 0;
    let most = 0;
    const log: { marker: boolean; start: number; end: number }[] = [];
    let clock = 0;
    kv.txn = async (request) => {
      const entry = { marker: request.success.some((op) => op.op === 'put' && op.key === `${PREFIX}commit`), start: clock++, end: -1 };
      log.push(entry);
      most = Math.max(most, ++open);
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 20)));
      try {
        return await txn(request);
      } finally {
        open--;
        entry.end = clock++;
      }
    };
    leader.store.applyControllerWrites({ createInstances: Array.from({ length: 40 }, (_, k) => instance(`web-${k + 1}-z`, k + 1)) });
    const revision = await leader.writer.flushed();
    assert.ok(await replica.caughtUp(revision, 5000));
    assert.equal(follower.listInstances().length, 40);
    assert.equal(partial(), false, 'never half a commit');
    assert.ok(log.length > 10, `split into ${log.length} transactions`);
    assert.ok(most > 1 && most <= 4, `at most 4 in flight, and more than one (${most})`);
    const markers = log.filter((e) => e.marker);
    assert.equal(markers.length, 1);
    const marker = markers[0] as { start: number };
    assert.ok(log.filter((e) => !e.marker).every((e) => e.end >= 0 && e.end < marker.start), 'the marker went after every other transaction of its commit ended');
    replica.stop();
    await kv.close();
  });

  void it('history rows go to the history ring in etcd without the object their row carries, and followers (following or loading) still give watchers the whole objects', async () => {
    const kv = new SqliteKv();
    const leader = await leaderOn(kv);
    leader.store.createService({ grid: 'default', spec: spec('web'), deploy: true });
    await leader.writer.flushed();
    const follower = openSqliteStore(':memory:');
    const replica = new StoreReplica(kv, follower, { prefix: PREFIX });
    follower.replicate({});
    await replica.load();
    const seen: WatchEvent[] = [];
    follower.watch(follower.revision(), (e) => seen.push(e));
    const fromLeader: WatchEvent[] = [];
    leader.store.watch(leader.store.revision(), (e) => fromLeader.push(e));
    replica.follow();
    const created = leader.store.revision();
    leader.store.applyControllerWrites({ createInstances: [instance('web-1-a', 1)], events: [{ grid: 'default', service: 'web', type: 'instance.created', severity: 'info', message: 'made one' }] });
    // The first commit is on its way; the next two go in one group commit, with two versions of one row:
    // the older one's history row keeps its object (the row holds the newer one).
    const at = new Date().toISOString();
    leader.store.setInstanceStatuses([{ id: 'web-1-a', status: { state: 'starting', timestamp: at, message: 'starting' } }]);
    leader.store.setInstanceStatuses([{ id: 'web-1-a', status: { state: 'running', timestamp: at, message: 'running', startedAt: at } }]);
    const revision = await leader.writer.flushed();
    assert.ok(await replica.caughtUp(revision, 5000));
    assert.deepEqual(seen, fromLeader, 'the same events with the same objects');
    assert.deepEqual(view(follower), view(leader.store));

    assert.equal((await kv.range(`${PREFIX}rows/changes/`)).items.length, 0, 'no history row by row in etcd');
    const history = (await kv.range(`${PREFIX}history/`)).items
      .flatMap((i) => JSON.parse(i.value) as { revision: number; kind: string; json?: string }[])
      .sort((a, b) => a.revision - b.revision);
    const instancePuts = history.filter((h) => h.kind === 'instance');
    // created (alone in its group commit): without; starting (the row holds running): with; running: without.
    assert.deepEqual(instancePuts.map((h) => h.json === undefined), [true, false, true]);
    assert.ok(history.filter((h) => h.kind === 'event').every((h) => h.json === undefined), 'events too');

    // A server that loads now cannot fill the first version (the row holds a later one): its history starts after it.
    const late = openSqliteStore(':memory:');
    late.replicate({});
    await new StoreReplica(kv, late, { prefix: PREFIX }).load();
    assert.deepEqual(view(late), view(leader.store));
    const first = (instancePuts[0] as { revision: number }).revision;
    assert.throws(() => late.watch(created, () => undefined), /compacted/i, 'a watch from before the unfilled version must list again');
    const replay: WatchEvent[] = [];
    late.watch(first, (e) => replay.push(e));
    assert.deepEqual(replay, fromLeader.filter((e) => e.revision > first), 'after it, the history is whole, objects included');
    replica.stop();
    await kv.close();
  });

  void it('a commit larger than etcd takes in one request is split by bytes too', async () => {
    const kv = new SqliteKv();
    const sizes: number[] = [];
    const txn = kv.txn.bind(kv);
    kv.txn = async (request) => {
      sizes.push(request.success.reduce((n, op) => n + (op.op === 'put' ? Buffer.byteLength(op.key) + Buffer.byteLength(op.value) : 0), 0));
      return txn(request);
    };
    const leader = await leaderOn(kv, { chunkBytes: 4000 });
    await leader.writer.flushed();
    sizes.length = 0;
    leader.store.applyControllerWrites({ createInstances: Array.from({ length: 20 }, (_, k) => instance(`web-${k + 1}-y`, k + 1)) });
    await leader.writer.flushed();
    assert.ok(sizes.length > 3, `split into several transactions (${sizes.length})`);
    // Each holds at most 4000 bytes of rows, plus the commit marker.
    assert.ok(sizes.every((n) => n <= 4000 + 200), `sizes ${sizes.join(', ')}`);
    const follower = openSqliteStore(':memory:');
    follower.replicate({});
    await new StoreReplica(kv, follower, { prefix: PREFIX }).load();
    assert.equal(follower.listInstances().length, 20);
    await kv.close();
  });

  void it('a deposed leader\'s writes fail on the fence, and the new leader loads what was acknowledged', async () => {
    const kv = new SqliteKv({ leaseCheckMs: 20 });
    const old = await leaderOn(kv);
    old.store.createService({ grid: 'default', spec: spec('web'), deploy: true });
    await old.writer.flushed();
    // The old leader stops keeping its lease alive (a frozen process): the key goes after the TTL.
    const next = new LeaderElection(kv, { key: `${PREFIX}leader`, self: { id: 'b', url: 'http://127.0.0.1:2' }, ttlSeconds: 2 });
    const started = Date.now();
    const releasing = (old.election as unknown as { lease: { release(): void } }).lease;
    releasing.release();
    const fence = await next.campaign(() => undefined);
    const tookMs = Date.now() - started;
    assert.ok(tookMs < 2000 + 1500, `the other candidate leads within the TTL (${tookMs} ms)`);
    assert.equal(next.current()?.id, 'b');

    old.store.updateServiceIntent('default', 'web', { spec: spec('web', 5), deploy: true });
    await assert.rejects(old.writer.flushed(), ReplicationLostError, 'the old leader learns it lost');
    assert.ok(old.fatal.some((e) => e instanceof ReplicationLostError));

    const store = openSqliteStore(':memory:');
    store.replicate({});
    await new StoreReplica(kv, store, { prefix: PREFIX }).load();
    assert.equal(store.getService('default', 'web')?.spec.replicas, 2, 'the acknowledged write is there, the fenced one is not');
    assert.deepEqual(store.listGrids().map((g) => g.name), ['default'], 'the rows the schema made were written first');
    const writer = new ReplicaWriter(kv, { prefix: PREFIX, fence, onFatal: (e) => assert.fail(e) });
    store.replicate({ onCommit: (rows) => writer.enqueue(rows) });
    store.updateServiceIntent('default', 'web', { spec: spec('web', 4), deploy: true });
    await writer.flushed();
    const check = openSqliteStore(':memory:');
    check.replicate({});
    await new StoreReplica(kv, check, { prefix: PREFIX }).load();
    assert.equal(check.getService('default', 'web')?.spec.replicas, 4);
    assert.equal(check.revision(), store.revision());
    await next.stop();
    await kv.close();
  });
});
