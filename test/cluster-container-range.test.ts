/**
 * The leader's controller on a cluster (src/app/control-plane.ts): instances with images are addressed
 * from the cluster record's container range (the subnet of every agent's Docker bridge), never its
 * gateway; instances of processes keep the instance range. Through the real pieces, in process: the
 * cluster record on a key-value backend (SQLite in memory, the etcd backend's contract), the SQLite
 * store and the ServiceController, with two agents' node records.
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ServiceController } from '../src/controllers/index.js';
import { inRange, silentLogger } from '../src/lib/index.js';
import { parseServiceSpec } from '../src/model/index.js';
import type { Store } from '../src/store/index.js';
import { openKvBackend, openSqliteStore } from '../src/store/index.js';
import { controllerContainerRange, loadClusterConfig } from '../src/app/cluster-config.js';
import { until } from './until.js';

const agentNode = (name: string) => ({
  name,
  address: name === 'vm-a' ? '127.0.0.2' : '127.0.0.3',
  drivers: ['process', 'docker'],
  containerNetwork: { name: 'berth', subnet: '10.216.77.0/24', gateway: '10.216.77.1' },
  capacity: { cpus: 1, memoryBytes: 1024 ** 3 },
  ready: true,
  heartbeatAt: new Date().toISOString(),
});

describe('the leader\'s controller with the cluster\'s container range', () => {
  let store: Store;
  let controller: ServiceController;

  beforeEach(async () => {
    const kv = openKvBackend({ kind: 'sqlite', path: ':memory:', prefix: '/berth/' });
    const cluster = await loadClusterConfig(kv, '/berth/', { env: { BERTH_INSTANCE_RANGE: '127.11.109.0/24', BERTH_DOCKER_SUBNET: '10.216.77.0/24' }, logger: silentLogger });
    await kv.close();
    store = openSqliteStore(':memory:');
    for (const name of ['vm-a', 'vm-b']) store.upsertNode(agentNode(name));
    controller = new ServiceController({ store, instanceRange: cluster.ranges.instanceRange, containerRange: controllerContainerRange(cluster.containerRange) });
    controller.start();
  });

  afterEach(async () => {
    await controller.stop();
    store.close();
  });

  it('addresses instances with images on the container range, never its gateway, and instances of processes on the instance range', async () => {
    store.createService({ grid: 'default', spec: parseServiceSpec({ name: 'web', containers: [{ name: 'web', image: 'nginx:latest' }], replicas: 4 }), deploy: true });
    store.createService({ grid: 'default', spec: parseServiceSpec({ name: 'job', containers: [{ command: ['sleep', '60'] }], replicas: 2 }), deploy: true });
    const placed = await until('6 instances placed', () => {
      const all = store.listInstances({ grid: 'default', active: true });
      return all.length === 6 ? all : undefined;
    });
    const web = placed.filter((i) => i.service === 'web');
    assert.equal(web.length, 4);
    for (const i of web) {
      assert.ok(inRange(i.spec.address, '10.216.77.0/24'), `${i.id} at ${i.spec.address}`);
      assert.notEqual(i.spec.address, '10.216.77.1', 'never the bridge gateway');
    }
    assert.equal(new Set(web.map((i) => i.spec.address)).size, 4, 'unique across both nodes');
    assert.deepEqual([...new Set(web.map((i) => i.node))].sort(), ['vm-a', 'vm-b']);
    for (const i of placed.filter((x) => x.service === 'job')) assert.ok(inRange(i.spec.address, '127.11.109.0/24'), `${i.id} at ${i.spec.address}`);
  });
});
