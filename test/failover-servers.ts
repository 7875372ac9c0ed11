import assert from 'node:assert/strict';
import { after } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { FakeTelemetry, createApi } from '../src/api/index.js';
import type { LeaderRouting } from '../src/api/index.js';
import { adminAuthenticator } from '../src/api/testing/fixtures.js';
import type { Compare, KvBackend, SqliteStore } from '../src/store/index.js';
import { LeaderElection, ReplicaWriter, StoreReplica, openSqliteStore } from '../src/store/index.js';
import { SqliteKv } from '../src/store/backend/index.js';
import { PREFIX, spec } from '../src/store/testing/replica-fixtures.js';

/*
 * Two control-plane servers in-process on one SqliteKv as etcd, as app/control-plane.ts wires them: A
 * leads, and its etcd writes can be held where a SIGKILL would catch them; B follows through its replica
 * and takes the lead when A dies. For the tests of what a client that follows one server and resumes on
 * the other sees (src/app/watch-failover.test.ts, src/app/events-failover.test.ts).
 */

/** `kv` whose transactions wait while `hold()` is in force: the leader's writes not yet in etcd. */
function holdableKv(kv: SqliteKv): { kv: KvBackend; hold(): void } {
  let held: Promise<never> | undefined;
  const proxy = new Proxy(kv, {
    get(target, prop) {
      if (prop === 'txn') {
        return async (request: Parameters<SqliteKv['txn']>[0]) => {
          if (held) await held; // never resolves: the process died with these writes in flight
          return target.txn(request);
        };
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { kv: proxy, hold: () => void (held = new Promise<never>(() => undefined)) };
}

/** One control-plane server over `store`, as app/control-plane.ts wires its API: listening on loopback. */
async function serve(store: SqliteStore, routing: LeaderRouting): Promise<{ app: FastifyInstance; url: string }> {
  const app = createApi({ store, authenticator: adminAuthenticator, telemetry: new FakeTelemetry(), node: 'control-plane', version: 't', leaderRouting: routing });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  after(() => app.close());
  return { app, url };
}

/** Whether `cond` held within `timeoutMs` (polled every 10 ms); false when it did not (no throw: a test also waits for what must not come). */
export async function eventually(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

/**
 * Server A leading with service `web` (default grid) created and in etcd, and server B following it.
 * `a.flushed()` resolves once A's commits are in etcd; `a.hold()` holds A's etcd writes for good; `a.die()` closes A's API and releases its lease (the
 * other side of a SIGKILL: the lease runs out); `b.takeLead()` then makes B lead as control-plane.ts
 * does (it loads etcd's rows, so it goes on from the revision etcd holds) and returns its writer.
 * Everything is closed after the test.
 */
export async function failoverServers(): Promise<{
  readonly a: { readonly store: SqliteStore; readonly url: string; flushed(): Promise<number>; hold(): void; die(): Promise<void> };
  readonly b: { readonly store: SqliteStore; readonly url: string; takeLead(): Promise<ReplicaWriter> };
}> {
  const kv = new SqliteKv({ leaseCheckMs: 20 });
  after(() => kv.close());

  // Server A leads: its commits go to etcd through its writer.
  const a = holdableKv(kv);
  const electionA = new LeaderElection(kv, { key: `${PREFIX}leader`, self: { id: 'a', url: 'http://127.0.0.1:1' }, ttlSeconds: 2 });
  const fenceA = await electionA.campaign(() => undefined);
  const storeA = openSqliteStore(':memory:');
  const writerA = new ReplicaWriter(a.kv, { prefix: PREFIX, fence: fenceA, onFatal: () => undefined });
  storeA.replicate({ onCommit: (rows) => writerA.enqueue(rows) });
  writerA.enqueue(storeA.replicatedRows());
  storeA.createService({ grid: 'default', spec: spec('web'), deploy: true });
  await writerA.flushed();
  const serverA = await serve(storeA, { role: () => 'leader', leaderUrl: () => undefined, servers: () => [], flushed: () => writerA.flushed(), caughtUp: async () => true });

  // Server B follows through its replica.
  const storeB = openSqliteStore(':memory:');
  // Set when B takes the lead (as control-plane.ts's `writer`).
  const lead: { writer?: ReplicaWriter } = {};
  let roleB: 'follower' | 'leader' = 'follower';
  storeB.replicate({ readOnly: () => (roleB === 'leader' ? undefined : new Error('a replica')) });
  const replica = new StoreReplica(kv, storeB, { prefix: PREFIX });
  await replica.load();
  replica.follow();
  after(() => replica.stop());
  const serverB = await serve(storeB, {
    role: () => roleB,
    leaderUrl: () => serverA.url,
    servers: () => [],
    flushed: () => (lead.writer ? lead.writer.flushed() : Promise.resolve(replica.revision)),
    caughtUp: (revision) => replica.caughtUp(revision, 5000),
  });

  return {
    a: {
      store: storeA,
      url: serverA.url,
      flushed: () => writerA.flushed(),
      hold: a.hold,
      die: async () => {
        await serverA.app.close();
        (electionA as unknown as { lease: { release(): void } }).lease.release();
      },
    },
    b: {
      store: storeB,
      url: serverB.url,
      takeLead: async () => {
        const electionB = new LeaderElection(kv, { key: `${PREFIX}leader`, self: { id: 'b', url: serverB.url }, ttlSeconds: 2 });
        after(() => electionB.stop());
        const fenceB: Compare = await electionB.campaign(() => undefined);
        replica.stop();
        await replica.load();
        const writer = new ReplicaWriter(kv, { prefix: PREFIX, fence: fenceB, onFatal: (e) => assert.fail(e) });
        lead.writer = writer;
        storeB.replicate({ onCommit: (rows) => writer.enqueue(rows) });
        roleB = 'leader';
        return writer;
      },
    },
  };
}
