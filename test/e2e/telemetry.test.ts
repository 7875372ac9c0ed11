import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cleanup, startBerth, waitFor, type RunningBerth } from './harness.js';
import { echoSpec } from './programs.js';

describe('logs and stats', () => {
  let berth: RunningBerth;
  before(async () => {
    berth = await startBerth({ instanceRange: '127.11.4.0/24' });
  });
  after(async () => cleanup(berth));

  it('logs --follow streams new lines from every instance, in time order', async () => {
    const spec = echoSpec('chatty', 3);
    (spec.containers[0] as { env?: unknown }).env = { TICK_MS: '30' };
    await berth.client.createService('default', spec, { deploy: true });
    await waitFor('3 running', async () => (await berth.client.listInstances('default', 'chatty', { active: true })).filter((i) => i.status.state === 'running').length === 3);
    const abort = new AbortController();
    const seen: { time: string; instance: string; text: string }[] = [];
    const started = new Date().toISOString();
    const timer = setTimeout(() => abort.abort(), 10_000);
    try {
      for await (const line of berth.client.logs('default', 'chatty', { follow: true, tail: 0, signal: abort.signal })) {
        seen.push(line);
        if (seen.length >= 60) break;
      }
    } catch (e) {
      if (!abort.signal.aborted) throw e;
    } finally {
      clearTimeout(timer);
      abort.abort();
    }
    assert.ok(seen.length >= 60, `got ${seen.length} lines`);
    assert.equal(new Set(seen.map((l) => l.instance)).size, 3, 'lines from all three instances');
    for (let k = 1; k < seen.length; k++) assert.ok((seen[k - 1] as { time: string }).time <= (seen[k] as { time: string }).time, `line ${k} is in time order`);
    assert.ok(seen.filter((l) => /line \d+/.test(l.text)).every((l) => l.time.slice(0, 19) >= started.slice(0, 19)), 'new lines, not history');
  });

  it('stats shows non-zero CPU for a busy instance and its memory', async () => {
    await berth.client.createService('default', { name: 'busy', containers: [{ command: 'while :; do :; done', stopGracePeriod: '1s' }] }, { deploy: true });
    await waitFor('busy running', async () => (await berth.client.listInstances('default', 'busy', { active: true })).some((i) => i.status.state === 'running'));
    const stats = await berth.client.stats('default', 'busy');
    assert.equal(stats.length, 1);
    assert.ok((stats[0]?.cpuPercent ?? 0) > 20, `cpu ${stats[0]?.cpuPercent} %`);
    assert.ok((stats[0]?.memoryBytes ?? 0) > 0);
  });
});
