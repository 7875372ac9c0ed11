import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Service, UpdateState } from '../../src/model/index.js';
import { cleanup, startBerth, waitFor, type RunningBerth } from './harness.js';
import { slowSpec } from './programs.js';

/** Records every distinct update state the service goes through until `until` is seen. */
async function watchStates(berth: RunningBerth, name: string, until: UpdateState[], timeoutMs: number): Promise<{ states: UpdateState[]; last: Service }> {
  const states: UpdateState[] = [];
  let last: Service | undefined;
  await waitFor(`update of ${name} to reach ${until.join(' or ')}`, async () => {
    last = await berth.client.getService('default', name);
    const s = last.status.update?.state;
    if (s && states.at(-1) !== s) states.push(s);
    return s !== undefined && until.includes(s) && last.status.update?.generation === last.deployment?.generation;
  }, { timeoutMs, intervalMs: 20 });
  return { states, last: last as Service };
}

describe('rolling updates', () => {
  let berth: RunningBerth;
  before(async () => {
    berth = await startBerth({ instanceRange: '127.11.40.0/24' });
  });
  after(async () => cleanup(berth));

  it('moves 10 replicas in batches of 2 with a 2 s monitor: updating → completed, history has both versions', async () => {
    await berth.client.createService('default', slowSpec('roll', 10, { updateConfig: { parallelism: 2, monitor: '2s' } }), { deploy: true });
    await watchStates(berth, 'roll', ['completed'], 30_000);
    const v1 = await berth.client.getService('default', 'roll');

    await berth.client.updateService('default', 'roll', slowSpec('roll', 10, { env: { VERSION: '2' }, updateConfig: { parallelism: 2, monitor: '2s' } }), { deploy: true, version: v1.version });
    const { states, last } = await watchStates(berth, 'roll', ['completed', 'paused'], 60_000);
    assert.deepEqual(states.filter((s) => s !== 'completed' || states.indexOf(s) === states.length - 1).slice(-2), ['updating', 'completed'], `states: ${states.join(' → ')}`);
    assert.equal(last.status.update?.updatedInstances, 10);

    // Batches: the 10 new instances were created 2 at a time, each batch ≥ the 2 s monitor after the previous.
    const fresh = (await berth.client.listInstances('default', 'roll', { active: true })).filter((i) => i.generation === last.generation);
    assert.equal(fresh.length, 10);
    const created = fresh.map((i) => Date.parse(i.createdAt)).sort((a, b) => a - b);
    const batches: number[][] = [];
    for (const t of created) {
      const open = batches.at(-1);
      if (open && t - (open[0] as number) < 1000) open.push(t);
      else batches.push([t]);
    }
    assert.deepEqual(batches.map((b) => b.length), [2, 2, 2, 2, 2], `creation times (ms after the first): ${created.map((t) => t - (created[0] as number)).join(', ')}`);
    for (let k = 1; k < batches.length; k++) {
      const gap = (batches[k]?.[0] as number) - (batches[k - 1]?.[0] as number);
      assert.ok(gap >= 2000, `batch ${k + 1} started ${gap} ms after batch ${k}: the monitor is 2 s`);
    }
    const history = await fetch(`${berth.url}/v1/grids/default/services/roll/history`, { headers: { authorization: `Bearer ${berth.token}` } }).then((r) => r.json()) as { items?: { generation: number }[] } | { generation: number }[];
    const versions = (Array.isArray(history) ? history : history.items ?? []).map((h) => h.generation);
    assert.ok(versions.includes(1) && versions.includes(2), `history: ${JSON.stringify(history)}`);
  });

  it('pauses at the first batch when the new instances fail their readiness probe, and says which probe answered what', async () => {
    await berth.client.createService('default', slowSpec('pausing', 4, { updateConfig: { parallelism: 2, monitor: '0.5s' } }), { deploy: true });
    const { last: v1 } = await watchStates(berth, 'pausing', ['completed'], 20_000);
    await berth.client.updateService('default', 'pausing', slowSpec('pausing', 4, { env: { HEALTH_STATUS: '503' }, updateConfig: { parallelism: 2, monitor: '0.5s', failureAction: 'pause' } }), { deploy: true, version: v1.version });
    const { last } = await watchStates(berth, 'pausing', ['paused', 'completed'], 20_000);
    assert.equal(last.status.update?.state, 'paused');
    assert.match(last.status.update?.message ?? '', /readiness probe GET http:\/\/[\d.]+:8080\/health failed \d+ time\(s\): HTTP 503: warming up/);
    // Stopped at the first batch: two old instances still serve.
    const active = await berth.client.listInstances('default', 'pausing', { active: true });
    assert.equal(active.filter((i) => i.generation === v1.generation && i.desiredState === 'running').length, 2);
  });

  it('rolls back to the old version on failure with failureAction rollback, and ends healthy in rollback_completed', async () => {
    await berth.client.createService('default', slowSpec('back', 3, { updateConfig: { parallelism: 1, monitor: '0.5s' } }), { deploy: true });
    const { last: v1 } = await watchStates(berth, 'back', ['completed'], 20_000);
    const oldEnv = v1.spec.containers[0]?.env;
    await berth.client.updateService('default', 'back', slowSpec('back', 3, { env: { HEALTH_STATUS: '500' }, updateConfig: { parallelism: 1, monitor: '0.5s', failureAction: 'rollback' } }), { deploy: true, version: v1.version });
    const { states, last } = await watchStates(berth, 'back', ['rollback_completed', 'rollback_paused', 'completed'], 30_000);
    assert.equal(last.status.update?.state, 'rollback_completed', `states: ${states.join(' → ')}`);
    assert.ok(states.includes('rollback_started'));
    assert.deepEqual(last.spec.containers[0]?.env, oldEnv, 'the spec is the old one again');
    assert.equal(last.deployment?.cause, 'auto-rollback');
    const active = await berth.client.listInstances('default', 'back', { active: true });
    assert.equal(active.filter((i) => i.status.health?.ready).length, 3);
    assert.ok(active.every((i) => !i.spec.containers[0]?.env.some((e) => e.name === 'HEALTH_STATUS')));
  });

  it('refuses a stale deploy with 409', async () => {
    const s = await berth.client.createService('default', slowSpec('stale', 1), { deploy: true });
    await berth.client.updateService('default', 'stale', slowSpec('stale', 2), { version: s.version });
    await assert.rejects(berth.client.deploy('default', 'stale', { version: s.version }), (e: { status?: number; code?: string }) => e.status === 409 && e.code === 'VERSION_CONFLICT');
  });
});
