import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, cleanup, startBerth, waitFor, type RunningBerth } from './harness.js';
import { pidOf } from './programs.js';

describe('stateful services', () => {
  let berth: RunningBerth;
  before(async () => {
    berth = await startBerth({ instanceRange: '127.11.3.0/24' });
  });
  after(async () => cleanup(berth));

  const spec = {
    name: 'db',
    stateful: true,
    replicas: 3,
    containers: [{ command: ['sh', join(ROOT, 'test/programs/counter.sh')], stopGracePeriod: '3s' }],
    restartPolicy: { delay: '0s' },
  };
  const running = async () => (await berth.client.listInstances('default', 'db', { active: true })).filter((i) => i.status.state === 'running');
  const starts = (slot: number) => Number(readFileSync(join(berth.dataDir, 'volumes/default/db', String(slot), 'starts'), 'utf8'));

  it('starts slots in order: slot N+1 is created only after slot N runs', async () => {
    await berth.client.createService('default', spec, { deploy: true });
    const list = await waitFor('3 running', async () => {
      const r = await running();
      return r.length === 3 ? r : undefined;
    });
    const bySlot = [1, 2, 3].map((s) => list.find((i) => i.slot === s));
    for (const k of [1, 2]) {
      const prev = bySlot[k - 1];
      const next = bySlot[k];
      assert.ok(prev?.status.startedAt && next);
      assert.ok(next.createdAt >= prev.status.startedAt, `slot ${k + 1} created (${next.createdAt}) after slot ${k} started (${prev.status.startedAt})`);
    }
    // "running" means started; the program writes its count right after, so wait for the files.
    await waitFor('every slot counted its start', () => {
      try {
        return [1, 2, 3].map(starts).join() === '1,1,1';
      } catch {
        return false;
      }
    });
  });

  it('keeps a slot\'s data directory across a restart of its instance and a redeploy', async () => {
    const [one] = (await running()).filter((i) => i.slot === 1);
    assert.ok(one);
    process.kill(pidOf(one), 'SIGKILL');
    await waitFor('slot 1 restarted', async () => (await running()).some((i) => i.slot === 1 && i.id !== one.id));
    await waitFor('slot 1 counted 2 starts', () => starts(1) === 2);

    await berth.client.deploy('default', 'db', { force: true });
    await waitFor('every slot redeployed', async () => {
      const r = await running();
      return r.length === 3 && [1, 2, 3].every((s) => starts(s) >= 2) && starts(1) === 3;
    }, { timeoutMs: 30_000 });
    assert.deepEqual([1, 2, 3].map(starts), [3, 2, 2]);
    const dataDirs = (await running()).map((i) => i.spec.dataDir).sort();
    assert.deepEqual(dataDirs, ['volumes/default/db/1', 'volumes/default/db/2', 'volumes/default/db/3']);
  });
});
