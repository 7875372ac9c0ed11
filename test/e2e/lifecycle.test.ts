import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { alive, cleanup, startBerth, waitFor, type RunningBerth } from './harness.js';
import { accepts, echoSpec, pidOf } from './programs.js';

describe('service lifecycle against the real server', () => {
  let berth: RunningBerth;
  const grid = 'default';
  before(async () => {
    berth = await startBerth({ instanceRange: '127.11.1.0/24' });
  });
  after(async () => cleanup(berth));

  const running = async (name: string) => (await berth.client.listInstances(grid, name, { active: true })).filter((i) => i.status.state === 'running');

  it('create stores the spec without deploying; deploy brings up N instances that accept connections', async () => {
    const created = await berth.client.createService(grid, echoSpec('web', 3));
    assert.equal(created.deployment, null);
    const shown = await berth.client.getService(grid, 'web');
    assert.equal(shown.spec.replicas, 3);
    assert.equal(shown.status.phase, 'initialized');
    assert.deepEqual(await berth.client.listInstances(grid, 'web'), []);

    await berth.client.deploy(grid, 'web');
    const list = await waitFor('3 running instances', async () => {
      const r = await running('web');
      return r.length === 3 ? r : undefined;
    });
    assert.deepEqual(list.map((i) => i.slot).sort(), [1, 2, 3]);
    assert.equal(new Set(list.map((i) => i.spec.address)).size, 3, 'every instance has its own address');
    for (const i of list) assert.ok(await waitFor(`${i.id} accepts`, () => accepts(i)));
    await waitFor('phase running', async () => (await berth.client.getService(grid, 'web')).status.phase === 'running');
  });

  it('scale web 5 then scale web 2 converges each time, removing the highest slots', async () => {
    await berth.client.scale(grid, 'web', 5);
    await waitFor('5 running', async () => (await running('web')).length === 5);
    const five = await running('web');
    const high = five.filter((i) => i.slot > 2);
    await berth.client.scale(grid, 'web', 2);
    await waitFor('2 active', async () => (await berth.client.listInstances(grid, 'web', { active: true })).length === 2);
    const two = await running('web');
    assert.deepEqual(two.map((i) => i.slot).sort(), [1, 2]);
    for (const i of high) await waitFor(`process of ${i.id} gone`, () => !alive(pidOf(i)));
    const svc = await waitFor('converged at 2', async () => {
      const s = await berth.client.getService(grid, 'web');
      return s.status.phase === 'running' && s.status.runningInstances === 2 ? s : undefined;
    });
    assert.equal(svc.spec.replicas, 2);
  });

  it('a kill -9 of an instance process is healed in the same slot within the restart delay + 1 s, with events', async () => {
    const [victim] = (await running('web')).filter((i) => i.slot === 1);
    assert.ok(victim);
    const killedAt = Date.now();
    process.kill(pidOf(victim), 'SIGKILL');
    const replacement = await waitFor('a new running instance in slot 1', async () => (await running('web')).find((i) => i.slot === 1 && i.id !== victim.id), { intervalMs: 10 });
    const tookMs = Date.now() - killedAt;
    assert.ok(tookMs <= 2000, `replacement running after ${tookMs} ms (restart delay 1 s + 1 s allowed)`);
    assert.equal(replacement.restarts, 1);
    const events = [];
    for await (const e of berth.client.events(grid, 'web')) events.push(e);
    const exited = events.find((e) => e.type === 'instance.exited' && e.instance === victim.id);
    assert.ok(exited, 'the exit is in the event history');
    assert.equal(exited.data?.exitCode, 137);
    assert.ok(events.some((e) => e.type === 'instance.restarting' && e.slot === 1), 'the restart is in the event history');
    assert.ok(events.some((e) => e.type === 'instance.created' && e.instance === replacement.id));
  });

  it('rm stops and removes every instance, then the service is gone', async () => {
    const live = await running('web');
    await berth.client.removeService(grid, 'web');
    await waitFor('service gone', async () => {
      try {
        await berth.client.getService(grid, 'web');
        return false;
      } catch (e) {
        return (e as { status?: number }).status === 404;
      }
    });
    for (const i of live) assert.equal(alive(pidOf(i)), false, `process of ${i.id} is gone`);
  });
});

