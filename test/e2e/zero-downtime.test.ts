import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cleanup, startBerth, waitFor, type RunningBerth } from './harness.js';
import { startLoad, type LoadResult } from './load.js';
import { slowSpec } from './programs.js';

/*
 * Zero-downtime by construction: while a client sends requests through the VIP without pause, to a
 * backend that takes 200-500 ms per request and exits AT ONCE on SIGTERM (test/programs/slow-server.mjs),
 * rollouts, a scale-down and removing an instance fail no request — including those in flight on the
 * instances that stop, which only works if berth drains them before the stop signal.
 */
describe('zero-downtime', () => {
  let berth: RunningBerth;
  before(async () => {
    berth = await startBerth({ instanceRange: '127.11.41.0/24' });
  });
  after(async () => cleanup(berth));

  async function converged(name: string, replicas: number): Promise<void> {
    await waitFor(`${name}: ${replicas} ready, rollout done`, async () => {
      const s = await berth.client.getService('default', name);
      const e = await berth.client.endpoints('default', name);
      const state = s.status.update?.state;
      return (state === 'completed' || state === 'rollback_completed') && s.status.update?.generation === s.deployment?.generation && e.endpoints.filter((x) => x.ready).length === replicas && e.endpoints.length === replicas;
    }, { timeoutMs: 60_000, intervalMs: 50 });
  }

  async function underLoad(name: string, action: () => Promise<void>, settle: () => Promise<void>): Promise<void> {
    const svc = await berth.client.getService('default', name);
    const load = startLoad(svc.spec.clusterIP as string, 8080, { concurrency: 8 });
    let result: LoadResult;
    try {
      await waitFor('the load to get going', () => load.ok() >= 20, { timeoutMs: 10_000 });
      await action();
      await settle();
      const before = load.ok();
      await waitFor('requests after the change', () => load.ok() >= before + 20, { timeoutMs: 10_000 });
    } finally {
      // Stopped whatever happened: a loop left running would keep the test process alive.
      result = await load.stop();
    }
    assert.equal(result.failed, 0, `${result.failed} of ${result.ok + result.failed} requests failed:\n${result.errors.join('\n')}`);
    assert.ok(result.ok > 50, `only ${result.ok} requests were answered`);
  }

  for (const order of ['stop-first', 'start-first'] as const) {
    it(`rolls out 10 replicas ${order} without failing a request`, async () => {
      const name = `zd-${order}`;
      const update = { parallelism: 2, monitor: '0.2s', order };
      await berth.client.createService('default', slowSpec(name, 10, { delayMs: '200-500', updateConfig: update }), { deploy: true });
      await converged(name, 10);
      await underLoad(
        name,
        async () => {
          const s = await berth.client.getService('default', name);
          await berth.client.updateService('default', name, slowSpec(name, 10, { delayMs: '200-500', env: { VERSION: '2' }, updateConfig: update }), { deploy: true, version: s.version });
        },
        () => converged(name, 10),
      );
      const types = new Set<string>();
      for await (const e of berth.client.events('default', name)) types.add(e.type);
      assert.ok(types.has('instance.draining') && types.has('instance.drained'), `the stopped instances drained: ${[...types].join(', ')}`);
    });
  }

  it('scales 10 → 2 without failing a request', async () => {
    await berth.client.createService('default', slowSpec('zd-scale', 10, { delayMs: '200-500' }), { deploy: true });
    await converged('zd-scale', 10);
    await underLoad('zd-scale', async () => void (await berth.client.scale('default', 'zd-scale', 2)), () => converged('zd-scale', 2));
  });

  it('removes one instance without failing a request', async () => {
    await berth.client.createService('default', slowSpec('zd-rm', 3, { delayMs: '200-500' }), { deploy: true });
    await converged('zd-rm', 3);
    const [victim] = await berth.client.listInstances('default', 'zd-rm', { active: true });
    assert.ok(victim);
    await underLoad(
      'zd-rm',
      async () => void (await berth.client.removeInstance('default', 'zd-rm', victim.id)),
      async () => {
        await waitFor('a replacement in the slot, and the removed one gone', async () => {
          const list = await berth.client.listInstances('default', 'zd-rm', { active: true });
          return !list.some((i) => i.id === victim.id) && list.filter((i) => i.status.health?.ready).length === 3;
        }, { timeoutMs: 20_000 });
      },
    );
  });
});
