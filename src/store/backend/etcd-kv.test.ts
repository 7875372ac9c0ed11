import { after, before } from 'node:test';
import type { EtcdCluster } from '../../../test/etcd-harness.js';
import { startEtcd } from '../../../test/etcd-harness.js';
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
