import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RunningBerth } from './harness.js';
import type { RunningAgent } from './agent-harness.js';
import { spawnAgent, tearDownAgents } from './agent-harness.js';
import { alive, startBerth, tempDir, waitFor } from './harness.js';
import { echoSpec, pidOf } from './programs.js';

/*
 * The drain barrier across nodes (docs/nodes.md): an instance that is to stop waits until every node's
 * data plane (DNS, proxy) dropped it, not only its own node's. One agent's process is frozen (SIGSTOP:
 * its data plane cannot apply anything); an instance of another node that is scaled away keeps running
 * until the frozen node comes back and applies the change, then stops at once.
 */

void describe('the drain barrier across nodes', () => {
  let berth: RunningBerth;
  const agents: RunningAgent[] = [];
  const dirs: string[] = [];

  before(async () => {
    // A long grace: the frozen node stays ready (a down node is not waited for).
    berth = await startBerth({ instanceRange: '127.11.25.0/24', args: ['--node-grace', '60s'] });
    const joinToken = (await berth.client.createToken({ role: 'node', name: 'join' })).token;
    for (const name of ['vm-a', 'vm-b']) {
      const dir = tempDir('berth-barrier-');
      dirs.push(dir);
      agents.push(await spawnAgent(berth, name, joinToken, dir));
    }
  });

  after(async () => {
    for (const a of agents) if (a.proc.exitCode === null) a.proc.kill('SIGCONT');
    await tearDownAgents(berth, agents, dirs);
  });

  it('an instance leaving waits for a frozen node\'s data plane, and stops once it has applied the change', async (t) => {
    // The server's own node runs a proxy, so its instances have a local drain; both pinned there.
    const node = (await berth.client.version()).node;
    await berth.client.createService('default', { ...echoSpec('held', 2), placement: { constraints: [`node.hostname==${node}`] } }, { deploy: true });
    const running = await waitFor('2 running on the server\'s node', async () => {
      const list = (await berth.client.listInstances('default', 'held', { active: true })).filter((i) => i.status.state === 'running');
      return list.length === 2 ? list : undefined;
    }, { timeoutMs: 20_000 });
    const leaving = running.find((i) => i.slot === 2);
    assert.ok(leaving);
    const pid = pidOf(leaving);
    // Let every data plane report the current revision, then freeze vm-b's.
    await new Promise((r) => setTimeout(r, 2500));
    const frozen = agents[1] as RunningAgent;
    frozen.proc.kill('SIGSTOP');
    const scaledAt = Date.now();
    await berth.client.scale('default', 'held', 1);
    await new Promise((r) => setTimeout(r, 3000));
    assert.ok(alive(pid), 'still running 3 s after the scale: vm-b\'s data plane has not dropped it');
    const instance = await berth.client.listInstances('default', 'held').then((l) => l.find((i) => i.id === leaving.id));
    assert.equal(instance?.desiredState, 'shutdown');
    frozen.proc.kill('SIGCONT');
    const resumedAt = Date.now();
    await waitFor('the instance stopped once vm-b applied the change', () => !alive(pid), { timeoutMs: 5000, intervalMs: 20 });
    const stoppedAt = Date.now();
    t.diagnostic(`held ${resumedAt - scaledAt} ms while vm-b was frozen; stopped ${stoppedAt - resumedAt} ms after it resumed`);
    assert.ok(stoppedAt - resumedAt < 3000, `stopped ${stoppedAt - resumedAt} ms after vm-b resumed`);
  });
});
