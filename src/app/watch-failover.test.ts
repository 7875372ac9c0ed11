import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { FakeTelemetry, createApi } from '../api/index.js';
import type { LeaderRouting } from '../api/index.js';
import { adminAuthenticator } from '../api/testing/fixtures.js';
import { NodeAgentClient, failoverFetch } from '../client/index.js';
import { silentLogger } from '../lib/index.js';
import type { Instance } from '../model/index.js';
import type { Compare, KvBackend, SqliteStore } from '../store/index.js';
import { LeaderElection, ReplicaWriter, StoreReplica, openSqliteStore } from '../store/index.js';
import { SqliteKv } from '../store/backend/index.js';
import { PREFIX, instance, spec } from '../store/testing/replica-fixtures.js';
import { ClusterMirror } from './cluster-mirror.js';
import { RemoteAgentPorts } from './remote-agent-ports.js';

/*
 * An agent follows its instances through one server's GET /v1/watch and resumes on another when that
 * one dies (app/cluster-mirror.ts, client/failover-fetch.ts). A CI run of control-plane-netns.test.ts
 * saw an instance the next leader assigned stay `new` for good: the agent had resumed past it. These
 * tests run the same servers in-process, on one SqliteKv as etcd, with the leader's etcd writes held
 * where a SIGKILL would catch them.
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

/** Whether `cond` held within `timeoutMs` (polled every 10 ms). */
async function until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

void describe('an agent\'s watch across the death of the leader it followed', () => {
  void it('an agent never sees a change the leader had not made durable, so it sees the change the next leader makes at that revision', async () => {
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
    storeA.applyControllerWrites({ createInstances: [instance('web-1-a', 1)] });
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

    // The agent of node n1, as app/remote-agent.ts starts it: `--join A,B`.
    const client = new NodeAgentClient({ baseUrl: serverA.url, token: 'x', fetch: failoverFetch([serverA.url, serverB.url], (input, init) => fetch(input, init)) });
    const mirror = new ClusterMirror(client, silentLogger);
    await mirror.sync();
    const ports = new RemoteAgentPorts(client, 'n1', silentLogger);
    await ports.sync();
    ports.follow(mirror);
    const assigned = new Map<string, Instance>();
    ports.watchInstances('n1', (inst, op) => (op === 'put' ? assigned.set(inst.id, inst) : assigned.delete(inst.id)));
    mirror.follow();
    after(() => (mirror.stop(), ports.stop()));
    assert.deepEqual(ports.listInstances('n1').map((i) => i.id), ['web-1-a']);

    // A commits a change its writer has not put in etcd yet, and dies (SIGKILL) before it does.
    const durable = storeA.revision();
    a.hold();
    storeA.applyControllerWrites({ createInstances: [instance('web-2-a', 2)] });
    assert.ok(storeA.revision() > durable);
    // Long enough for the stream to have carried it, had it been sent (it is written at the commit).
    await until(() => mirror.revision() > durable, 1000);
    assert.ok(mirror.revision() <= durable, `the agent saw revision ${mirror.revision()}, which etcd does not hold (it holds ${durable})`);
    assert.equal(assigned.has('web-2-a'), false, 'an instance that was never durable is not handed to the agent');
    await serverA.app.close();
    (electionA as unknown as { lease: { release(): void } }).lease.release();

    // B takes the lead as app/control-plane.ts does: it loads etcd's rows, so it gives out A's lost
    // revisions again, for changes of its own.
    const electionB = new LeaderElection(kv, { key: `${PREFIX}leader`, self: { id: 'b', url: serverB.url }, ttlSeconds: 2 });
    after(() => electionB.stop());
    const fenceB: Compare = await electionB.campaign(() => undefined);
    replica.stop();
    await replica.load();
    const sending = new ReplicaWriter(kv, { prefix: PREFIX, fence: fenceB, onFatal: (e) => assert.fail(e) });
    lead.writer = sending;
    storeB.replicate({ onCommit: (rows) => sending.enqueue(rows) });
    roleB = 'leader';
    assert.equal(storeB.revision(), durable, 'the next leader goes on from what etcd holds');
    storeB.applyControllerWrites({ createInstances: [instance('web-3-b', 3)] });
    await sending.flushed();

    // The agent resumed on B: it must see B's assignment, which has the revision A's lost change had.
    const seen = await until(() => assigned.has('web-3-b'), 10_000);
    assert.ok(seen, `the agent never saw the instance the next leader assigned it (it is at revision ${mirror.revision()}; B is at ${storeB.revision()})`);
    assert.deepEqual(ports.listInstances('n1').map((i) => i.id).sort(), ['web-1-a', 'web-3-b']);
    assert.equal(mirror.revision(), storeB.revision());
  });
});
