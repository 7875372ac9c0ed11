import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseServiceSpec } from '../model/index.js';
import { openSqliteStore } from '../store/index.js';
import { ServiceController } from './service-controller.js';

const setup = (passTimer?: () => number) => {
  const store = openSqliteStore(':memory:');
  for (const name of ['a', 'b']) store.upsertNode({ name, address: `10.0.0.${name === 'a' ? 1 : 2}`, drivers: ['process'], ready: true, heartbeatAt: new Date().toISOString() });
  let passes = 0;
  const controller = new ServiceController({ store, paceFromMs: 10, ...(passTimer ? { passTimer } : {}) });
  const target = controller as unknown as { reconcile: (key: string) => Promise<unknown> };
  const reconcile = target.reconcile.bind(controller);
  target.reconcile = (key) => {
    passes++;
    return reconcile(key);
  };
  return { store, controller, passes: () => passes };
};

/** Each instance's status reported in its own macrotask, as agents' reports come in over HTTP. */
async function reportEach(store: ReturnType<typeof openSqliteStore>, state: 'starting' | 'running' | 'failed', ids: readonly string[]): Promise<void> {
  for (const id of ids) {
    const at = new Date().toISOString();
    store.setInstanceStatuses([{ id, status: state === 'running' ? { state, timestamp: at, message: 'running', startedAt: at } : state === 'failed' ? { state, timestamp: at, message: 'exited 1', exitCode: 1 } : { state, timestamp: at, message: 'starting' } }]);
    await new Promise((r) => setImmediate(r));
  }
}

describe('ServiceController: pacing a slow service (PACE_FROM_MS)', () => {
  it('coalesces many progress reports into a few passes when its passes are slow, and converges', async () => {
    // Every pass "takes" 15 ms by this timer (read at its start and end), so the service is paced: its next pass waits 15 ms.
    let t = 0;
    const slow = setup(() => (t += 15));
    slow.controller.start();
    try {
      slow.store.createService({ grid: 'default', spec: parseServiceSpec({ name: 'web', replicas: 40, containers: [{ command: ['/bin/true'] }] }), deploy: true });
      await slow.controller.idle();
      const ids = slow.store.listInstances({ grid: 'default', service: 'web' }).map((i) => i.id);
      const before = slow.passes();
      await reportEach(slow.store, 'starting', ids);
      await reportEach(slow.store, 'running', ids);
      await slow.controller.idle();
      const paced = slow.passes() - before;
      assert.ok(paced <= 10, `80 reports, ${paced} passes`);
      const service = slow.store.getService('default', 'web');
      assert.equal(service?.status.runningInstances, 40, 'idle() waited for the paced pass that counted them');
      assert.equal(service?.status.phase, 'running');
    } finally {
      await slow.controller.stop();
      slow.store.close();
    }

    // The same reports to a quick service: one pass per report, as before.
    const quick = setup(() => 0);
    quick.controller.start();
    try {
      quick.store.createService({ grid: 'default', spec: parseServiceSpec({ name: 'web', replicas: 40, containers: [{ command: ['/bin/true'] }] }), deploy: true });
      await quick.controller.idle();
      const ids = quick.store.listInstances({ grid: 'default', service: 'web' }).map((i) => i.id);
      const before = quick.passes();
      await reportEach(quick.store, 'starting', ids);
      await quick.controller.idle();
      assert.ok(quick.passes() - before >= 30, `40 reports, ${quick.passes() - before} passes`);
    } finally {
      await quick.controller.stop();
      quick.store.close();
    }
  });

  it('an instance that ended still gets a pass at once: its restart is not paced', async () => {
    let t = 0;
    // Every pass "takes" 5 s: a paced pass would come 5 s later.
    const slow = setup(() => (t += 5000));
    slow.controller.start();
    try {
      slow.store.createService({ grid: 'default', spec: parseServiceSpec({ name: 'web', replicas: 2, containers: [{ command: ['/bin/true'] }], restartPolicy: { condition: 'any', delay: '0s' } }), deploy: true });
      await new Promise((r) => setTimeout(r, 50));
      const [first] = slow.store.listInstances({ grid: 'default', service: 'web' });
      assert.ok(first);
      const started = Date.now();
      await reportEach(slow.store, 'failed', [first.id]);
      for (let i = 0; i < 100 && slow.store.listInstances({ grid: 'default', service: 'web', active: true }).length < 2; i++) await new Promise((r) => setTimeout(r, 10));
      const active = slow.store.listInstances({ grid: 'default', service: 'web', active: true });
      assert.equal(active.length, 2, 'the failed slot has a new instance');
      assert.ok(Date.now() - started < 2000, `restarted after ${Date.now() - started} ms, not after the 5 s pace`);
    } finally {
      await slow.controller.stop();
      slow.store.close();
    }
  });
});
