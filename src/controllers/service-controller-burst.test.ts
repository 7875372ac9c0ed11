import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_SPEC_LIMITS, parseServiceSpec } from '../model/index.js';
import type { ControllerWrites } from '../store/index.js';
import { openSqliteStore } from '../store/index.js';
import { MAX_CREATES_PER_PASS, ServiceController } from './service-controller.js';

describe('ServiceController: a burst of new slots', () => {
  it(`creates at most ${MAX_CREATES_PER_PASS} instances per pass, and every slot in the end`, async () => {
    const limits = { ...DEFAULT_SPEC_LIMITS, maxReplicas: 5000 };
    const store = openSqliteStore(':memory:');
    for (const name of ['a', 'b']) store.upsertNode({ name, address: `10.0.0.${name === 'a' ? 1 : 2}`, drivers: ['process'], ready: true, heartbeatAt: new Date().toISOString() });
    const passes: number[] = [];
    const apply = store.applyControllerWrites.bind(store);
    store.applyControllerWrites = (writes: ControllerWrites) => {
      const created = writes.createInstances?.length ?? 0;
      if (created > 0) passes.push(created);
      return apply(writes);
    };
    const controller = new ServiceController({ store, limits });
    controller.start();
    try {
      const replicas = 2 * MAX_CREATES_PER_PASS + 200;
      store.createService({ grid: 'default', spec: parseServiceSpec({ name: 'many', replicas, containers: [{ command: ['/bin/true'] }] }, { limits }), deploy: true });
      await controller.idle();
      assert.deepEqual(passes, [MAX_CREATES_PER_PASS, MAX_CREATES_PER_PASS, 200]);
      const instances = store.listInstances({ grid: 'default', service: 'many' });
      assert.equal(instances.length, replicas);
      assert.equal(new Set(instances.map((i) => i.slot)).size, replicas, 'one instance per slot');
      assert.equal(new Set(instances.map((i) => i.spec.address)).size, replicas, 'distinct addresses');
      assert.equal(Math.abs(instances.filter((i) => i.node === 'a').length - instances.filter((i) => i.node === 'b').length), 0, 'spread evenly');
    } finally {
      await controller.stop();
      store.close();
    }
  });
});
