import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { EtcdCluster } from '../../../test/etcd-harness.js';
import { startEtcd } from '../../../test/etcd-harness.js';
import { collectWatch, retrying } from './conformance-tools.js';
import { runKvConformance } from './conformance.js';
import { EtcdKv } from './etcd-kv.js';

// A 3-member cluster on 23800–23805 (this file's ports): the reconnect case kills the members one by
// one under a live watch, so the client must move between members and resume its watch.
let cluster: EtcdCluster;
before(async () => {
  cluster = await startEtcd({ members: 3, portBase: 23800 });
});
after(async () => {
  await cluster?.stop();
});

runKvConformance({
  name: 'EtcdKv (etcd 3.4, 3 members)',
  open: async () => new EtcdKv({ endpoints: cluster.endpoints, dialTimeoutMs: 2000, requestTimeoutMs: 3000 }),
  disrupt: async (backend) => {
    for (let i = 0; i < cluster.endpoints.length; i++) {
      await cluster.kill(i);
      await new Promise((r) => setTimeout(r, 300));
      await cluster.restart(i);
    }
    return backend;
  },
  watchSurvives: true,
  leaseSlackMs: 1500,
});

describe('EtcdKv with a member that hangs', () => {
  it('moves a watch off a member that stops answering (keepalive pings), without a gap', { timeout: 120_000 }, async () => {
    const kv = new EtcdKv({ endpoints: cluster.endpoints, dialTimeoutMs: 1000, requestTimeoutMs: 2000, keepalive: { timeMs: 1000, timeoutMs: 1000 } });
    try {
      const start = await kv.revision();
      const w = collectWatch(kv, '/hung/', start);
      let n = 0;
      // Each member in turn is frozen (SIGSTOP): whichever member the watch is on, one round freezes it.
      for (let i = 0; i < cluster.endpoints.length; i++) {
        cluster.pause(i);
        try {
          for (let k = 0; k < 5; k++) {
            const key = `/hung/${String(n++).padStart(2, '0')}`;
            await retrying(() => kv.put(key, 'x'));
          }
          await w.until((e) => new Set(e.map((x) => x.kv.key)).size >= n, 20_000);
        } finally {
          cluster.resume(i);
        }
        await new Promise((r) => setTimeout(r, 1000)); // the member catches up before the next one stops
      }
      w.stop();
      const replay = collectWatch(kv, '/hung/', start);
      await replay.until((e) => e.length >= w.events.length);
      replay.stop();
      assert.deepEqual(w.events.map((e) => [e.kv.modRevision, e.kv.key]), replay.events.map((e) => [e.kv.modRevision, e.kv.key]));
      assert.deepEqual([...new Set(w.events.map((e) => e.kv.key))], Array.from({ length: n }, (_, k) => `/hung/${String(k).padStart(2, '0')}`));
    } finally {
      await kv.close();
    }
  });
});
