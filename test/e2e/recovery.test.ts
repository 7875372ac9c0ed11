import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { alive, cleanup, startBerth, tempDir, waitFor } from './harness.js';
import { accepts, echoSpec, pidOf } from './programs.js';

describe('instances outlive the server', () => {
  it('refuses a second server on a data directory that a running server uses', async () => {
    const dataDir = tempDir();
    const first = await startBerth({ dataDir, instanceRange: '127.11.8.0/24' });
    try {
      await assert.rejects(startBerth({ dataDir, instanceRange: '127.11.8.0/24' }), /another berth server \(pid \d+\) is using/);
    } finally {
      await cleanup(first);
    }
  });

  it('a SIGKILLed server, started again, re-adopts running instances and restarts one that died meanwhile', async () => {
    const dataDir = tempDir();
    const range = '127.11.2.0/24';
    const first = await startBerth({ dataDir, instanceRange: range });
    await first.client.createService('default', echoSpec('api', 3), { deploy: true });
    const before = await waitFor('3 running', async () => {
      const r = (await first.client.listInstances('default', 'api', { active: true })).filter((i) => i.status.state === 'running');
      return r.length === 3 ? r : undefined;
    });

    await first.kill();
    for (const i of before) assert.ok(alive(pidOf(i)), `${i.id} survived the server's death`);
    const victim = before.find((i) => i.slot === 2);
    assert.ok(victim);
    process.kill(pidOf(victim), 'SIGKILL');
    await waitFor('victim gone', () => !alive(pidOf(victim)));

    const second = await startBerth({ dataDir, instanceRange: range });
    try {
      const after = await waitFor('slot 2 replaced and 3 running', async () => {
        const r = (await second.client.listInstances('default', 'api', { active: true })).filter((i) => i.status.state === 'running');
        return r.length === 3 && r.some((i) => i.slot === 2 && i.id !== victim.id) ? r : undefined;
      });
      for (const old of before.filter((i) => i.slot !== 2)) {
        const now = after.find((i) => i.slot === old.slot);
        assert.equal(now?.id, old.id, `slot ${old.slot} kept its instance (no restart)`);
        assert.equal(pidOf(now), pidOf(old), `slot ${old.slot} kept its process`);
        assert.ok(await accepts(now), `slot ${old.slot} still serves`);
      }
      assert.equal(after.length, 3, 'no duplicates');
      const events = [];
      for await (const e of second.client.events('default', 'api')) events.push(e);
      const exit = events.find((e) => e.type === 'instance.exited' && e.instance === victim.id);
      assert.equal(exit?.data?.exitCode, 137, 'the exit while the server was down was learned with its code');
      assert.ok(events.some((e) => e.type === 'instance.adopted'), 'adoptions are recorded');
    } finally {
      await cleanup(second);
    }
  });
});
