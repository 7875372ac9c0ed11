import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseServiceSpec } from '../model/index.js';
import type { Store } from '../store/index.js';
import { openSqliteStore } from '../store/index.js';
import { ServiceController } from './service-controller.js';

/*
 * The controller writes `service.degraded` once when a service enters degraded and `service.converged`
 * once when it is back, however many passes run meanwhile — and a controller that takes over (a new
 * leader, which plans from the stored status) does not say either again.
 */

const phaseEvents = (store: Store) => store.listEvents({ grid: 'default', service: 'everywhere' }).filter((e) => e.type === 'service.degraded' || e.type === 'service.converged');

describe('ServiceController: degraded and back, said once', () => {
  it('records one warning on entering degraded and one converged event on leaving it, across passes and a change of controller', async () => {
    const store = openSqliteStore(':memory:');
    const register = (name: string, ready = true) => store.upsertNode({ name, address: '10.0.0.1', drivers: ['process'], ready, heartbeatAt: new Date().toISOString() });
    for (const name of ['a', 'b', 'c']) register(name);
    let controller = new ServiceController({ store });
    controller.start();
    try {
      store.createService({ grid: 'default', spec: parseServiceSpec({ name: 'everywhere', mode: 'global', containers: [{ command: ['sleep', '300'] }], updateConfig: { monitor: '0s' } }), deploy: true });
      await controller.idle();
      const at = new Date().toISOString();
      store.setInstanceStatuses(store.listInstances({ grid: 'default', service: 'everywhere' }).map((i) => ({ id: i.id, status: { state: 'running', timestamp: at, message: 'running', startedAt: at } })));
      await controller.idle();
      assert.equal(store.getService('default', 'everywhere')?.status.phase, 'running');
      assert.deepEqual(phaseEvents(store).map((e) => e.type), ['service.converged']);

      store.updateNode('c', { ready: false });
      await controller.idle();
      const degraded = store.getService('default', 'everywhere');
      assert.equal(degraded?.status.phase, 'degraded');
      const slot = store.listInstances({ grid: 'default', service: 'everywhere' }).find((i) => i.node === 'c')?.slot;
      assert.deepEqual(phaseEvents(store).slice(1).map((e) => [e.type, e.severity, e.message]), [['service.degraded', 'warning', `1 of 3 slots waits: node c is down (everywhere-${slot})`]]);

      // More passes: a node's facts change (every service is planned again), a status report comes in.
      store.updateNode('a', { labels: { zone: 'a' } });
      await controller.idle();
      const a = store.listInstances({ grid: 'default', service: 'everywhere' }).find((i) => i.node === 'a');
      assert.ok(a);
      store.setInstanceStatuses([{ id: a.id, status: { ...a.status, message: 'still running' } }]);
      await controller.idle();
      // A new leader: another controller on the same store, with its full pass at start.
      await controller.stop();
      controller = new ServiceController({ store });
      controller.start();
      await controller.idle();
      assert.equal(phaseEvents(store).length, 2, JSON.stringify(phaseEvents(store)));
      assert.equal(store.getService('default', 'everywhere')?.status.degradedSince, degraded?.status.degradedSince);

      register('c');
      await controller.idle();
      const events = phaseEvents(store);
      assert.equal(events.length, 3);
      assert.match(events[2]?.message ?? '', /^3\/3 instance\(s\) running generation 1 again, after \d+\.\d s degraded$/);
      assert.equal(store.getService('default', 'everywhere')?.status.degradedSince, undefined);
    } finally {
      await controller.stop();
      store.close();
    }
  });
});
