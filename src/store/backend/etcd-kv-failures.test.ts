import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hasCode } from '../../lib/index.js';
import type { EtcdCluster } from '../../../test/etcd-harness.js';
import { startEtcd } from '../../../test/etcd-harness.js';
import { collectWatch, retrying } from './conformance-tools.js';
import { EtcdKv } from './etcd-kv.js';

// This file's ports: 23820–23829 (one member on 23820/23821; 23829 is never listened on).
describe('EtcdKv failure modes', () => {
  let cluster: EtcdCluster;
  before(async () => {
    cluster = await startEtcd({ members: 1, portBase: 23820 });
  });
  after(async () => {
    await cluster?.stop();
  });

  it('rejects with STORE_UNAVAILABLE naming the endpoints when no member answers', async () => {
    const kv = new EtcdKv({ endpoints: ['http://127.0.0.1:23829'], dialTimeoutMs: 500, requestTimeoutMs: 1000 });
    try {
      const started = Date.now();
      await assert.rejects(kv.put('/x', '1'), (e: unknown) => {
        assert.ok(hasCode(e, 'STORE_UNAVAILABLE'), String(e));
        assert.match((e as Error).message, /no etcd member answered at http:\/\/127\.0\.0\.1:23829 \(last error: .+\)/);
        return true;
      });
      assert.ok(Date.now() - started < 15_000, 'it gives up within a few deadlines');
    } finally {
      await kv.close();
    }
  });

  it('ends watches without counting them as failures of the connection: the leases live on and calls go through (a new leader lost its leases after a failover)', async () => {
    const kv = new EtcdKv({ endpoints: cluster.endpoints });
    try {
      const lease = await kv.grantLease(2);
      const lost: Error[] = [];
      lease.onLost((e) => lost.push(e));
      await kv.put('/ends/kept', 'v', { lease: lease.id });
      // As a leader taking over does (its campaign's watch, the replica's, …): watches that answered
      // are ended one after the other. etcd3 took each end for a failed host: three in a row opened
      // its circuit breaker for 5 s, no keepalive went out, and the 2 s lease expired.
      const watches = Array.from({ length: 4 }, () => collectWatch(kv, '/ends/', 0));
      for (const w of watches) await w.until((events) => events.length > 0, 5000);
      for (const w of watches) w.stop();
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(await kv.get('/ends/missing'), undefined, 'a call right after goes through');
      await new Promise((r) => setTimeout(r, 5000)); // 2.5 lease periods
      assert.deepEqual(lost.map((e) => e.message), [], 'the lease was kept alive');
      assert.equal((await kv.get('/ends/kept'))?.value, 'v', 'its key is still there');
      await lease.revoke();
    } finally {
      await kv.close();
    }
  });

  it("refuses a value past etcd's request limit as REQUEST_INVALID, naming the limit", async () => {
    const kv = new EtcdKv({ endpoints: cluster.endpoints });
    try {
      await assert.rejects(kv.put('/big', 'x'.repeat(2 * 1024 * 1024)), (e: unknown) => hasCode(e, 'REQUEST_INVALID') && /--max-request-bytes, 1\.5 MiB/.test((e as Error).message));
    } finally {
      await kv.close();
    }
  });

  it('resumes a watch after the only member was down, without a gap, reporting the outage to error', { timeout: 60_000 }, async () => {
    const kv = new EtcdKv({ endpoints: cluster.endpoints, dialTimeoutMs: 1000, requestTimeoutMs: 2000 });
    try {
      const start = await kv.revision();
      const w = collectWatch(kv, '/down/', start);
      for (let i = 0; i < 20; i++) await kv.put(`/down/${i}`, String(i));
      await w.until((e) => e.length >= 20);
      await cluster.kill(0);
      await assert.rejects(kv.put('/down/lost', 'x'), (e: unknown) => hasCode(e, 'STORE_UNAVAILABLE'));
      await cluster.restart(0);
      for (let i = 20; i < 40; i++) await retrying(() => kv.put(`/down/${i}`, String(i)));
      await w.until((e) => e.filter((x) => x.kv.key !== '/down/lost').length >= 40, 30_000);
      w.stop();
      const keys = w.events.map((e) => e.kv.key).filter((k) => k !== '/down/lost');
      assert.deepEqual(keys, Array.from({ length: 40 }, (_, i) => `/down/${i}`));
      assert.ok(w.errors.length > 0, 'the outage reached the listener as an error');
      assert.ok(w.errors.every((e) => hasCode(e, 'STORE_UNAVAILABLE')), w.errors.map(String).join('; '));
    } finally {
      await kv.close();
    }
  });

  it('reports a lease it cannot keep alive as lost', { timeout: 60_000 }, async () => {
    const kv = new EtcdKv({ endpoints: cluster.endpoints, dialTimeoutMs: 1000, requestTimeoutMs: 2000 });
    try {
      const lease = await retrying(() => kv.grantLease(2));
      const lost = new Promise<Error>((resolve) => lease.onLost(resolve));
      await cluster.kill(0);
      const error = await lost;
      assert.match(error.message, new RegExp(`lease ${lease.id} was lost`));
      await cluster.restart(0);
    } finally {
      await kv.close();
    }
  });
});

describe('the etcd test harness', () => {
  it('fails with a clear message when the etcd binary is missing', async () => {
    await assert.rejects(startEtcd({ members: 1, portBase: 23826, binary: '/nonexistent/etcd' }), /etcd is not installed: \/nonexistent\/etcd is missing; install it \(Debian: apt-get install etcd-server\)/);
  });
});
