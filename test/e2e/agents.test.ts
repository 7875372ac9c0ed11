import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Instance } from '../../src/model/index.js';
import type { RunningBerth } from './harness.js';
import { BIN, alive, cleanup, startBerth, tempDir, waitFor } from './harness.js';
import { accepts, echoSpec, pidOf } from './programs.js';

/*
 * A server and two agents of "other machines" (`berth agent --join`), all on loopback: the agents join
 * with a join token, heartbeat, run the instances the server assigns to their nodes, and report them;
 * a killed agent's node goes down after the grace; a restarted agent re-adopts its instances.
 */

interface RunningAgent {
  readonly name: string;
  readonly dataDir: string;
  proc: ChildProcess;
  stderr: string;
}

function spawnAgent(berth: RunningBerth, name: string, joinToken: string | undefined, dataDir: string): Promise<RunningAgent> {
  const proc = spawn(process.execPath, [BIN, 'agent', '--join', berth.url, ...(joinToken ? ['--token', joinToken] : []), '--name', name, '--data-dir', dataDir, '--label', `name=${name}`], {
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const agent: RunningAgent = { name, dataDir, proc, stderr: '' };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent ${name} did not join in 15 s:\n${agent.stderr}`)), 15_000);
    proc.stderr?.on('data', (chunk: Buffer) => {
      agent.stderr += chunk.toString();
      if (/joined http/.test(agent.stderr)) {
        clearTimeout(timer);
        resolve(agent);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`agent ${name} exited with ${code}:\n${agent.stderr}`));
    });
  });
}

async function killAgent(agent: RunningAgent, signal: NodeJS.Signals): Promise<void> {
  if (agent.proc.exitCode !== null || agent.proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => agent.proc.once('exit', () => resolve()));
  agent.proc.kill(signal);
  await exited;
}

describe('agents of other machines (berth agent --join)', () => {
  let berth: RunningBerth;
  let joinToken: string;
  const agents: RunningAgent[] = [];
  const dirs: string[] = [];

  before(async () => {
    berth = await startBerth({ instanceRange: '127.11.22.0/24', args: ['--node-grace', '2s'] });
    joinToken = (await berth.client.createToken({ role: 'node', name: 'join' })).token;
    for (const name of ['vm-a', 'vm-b']) {
      const dir = tempDir('berth-agent-');
      dirs.push(dir);
      agents.push(await spawnAgent(berth, name, joinToken, dir));
    }
  });

  after(async () => {
    try {
      if (berth) await cleanup(berth);
    } finally {
      for (const a of agents) await killAgent(a, 'SIGTERM');
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    }
  });

  it('joins both machines as ready nodes with their labels; the join token is not kept, the node credential is (0600)', async () => {
    const nodes = await berth.client.nodes();
    const byName = new Map(nodes.map((n) => [n.name, n]));
    for (const name of ['vm-a', 'vm-b']) {
      assert.equal(byName.get(name)?.ready, true, `${name} is ready`);
      assert.deepEqual(byName.get(name)?.labels, { name });
      assert.ok(byName.get(name)?.joinedAt);
    }
    const saved = join(dirs[0] as string, 'agent.json');
    assert.ok(existsSync(saved));
    const text = readFileSync(saved, 'utf8');
    assert.doesNotMatch(text, new RegExp(joinToken), 'the join token is not written down');
    assert.match(text, /"token":"bnd1\./);
  });

  it('runs instances on the agents\' nodes: they start, serve and are reported running and ready', async () => {
    await berth.client.createService('default', echoSpec('spread', 3), { deploy: true });
    const instances = await waitFor('3 ready instances', async () => {
      const list = (await berth.client.listInstances('default', 'spread', { active: true })).filter((i) => i.status.state === 'running' && i.status.health?.ready !== false);
      return list.length === 3 ? list : undefined;
    }, { timeoutMs: 30_000 });
    const nodes = new Set(instances.map((i) => i.node));
    assert.ok(nodes.has('vm-a') && nodes.has('vm-b'), `instances on both agents' nodes (got ${[...nodes].join(', ')})`);
    for (const i of instances) assert.ok(await accepts(i), `instance ${i.id} on ${i.node} accepts connections`);
  });

  it('marks a SIGKILLed agent\'s node down after the grace; the restarted agent re-adopts its instance and the node is ready again', async () => {
    const a = agents[0] as RunningAgent;
    const before = (await berth.client.listInstances('default', 'spread', { active: true })).find((i) => i.node === 'vm-a') as Instance;
    assert.ok(before, 'an instance runs on vm-a');
    const pid = pidOf(before);
    const killedAt = Date.now();
    await killAgent(a, 'SIGKILL');
    await waitFor('vm-a down', async () => (await berth.client.nodes()).find((n) => n.name === 'vm-a')?.ready === false, { timeoutMs: 10_000 });
    const downAfter = Date.now() - killedAt;
    assert.ok(downAfter >= 1_500, `down after the 2 s grace, not before (${downAfter} ms)`);
    assert.ok(downAfter < 2_000 + 5_000, `down within grace + 5 s (${downAfter} ms)`);
    const events = await berth.client.events('default', 'spread', { tail: 50 });
    const seen: string[] = [];
    for await (const e of events) seen.push(e.type);
    assert.ok(seen.includes('node.down'), `a node.down event (${seen.join(', ')})`);
    assert.ok(alive(pid), 'the instance process outlives its agent');

    const again = await spawnAgent(berth, 'vm-a', undefined, a.dataDir); // its saved credential, no join token
    agents[0] = again;
    await waitFor('vm-a ready again', async () => (await berth.client.nodes()).find((n) => n.name === 'vm-a')?.ready === true, { timeoutMs: 10_000 });
    assert.match(again.stderr, /re-adopted|joined/);
    const same = await berth.client.listInstances('default', 'spread', { active: true });
    const still = same.find((i) => i.id === before.id);
    if (still && still.desiredState === 'running') {
      assert.equal(pidOf(still), pid, 'the same process, adopted');
      assert.ok(await accepts(still));
    }
  });

  it('stops the instances on the agents\' nodes when the service is removed', async () => {
    const running = (await berth.client.listInstances('default', 'spread', { active: true })).filter((i) => i.node !== berth.client.baseUrl);
    const pids = running.filter((i) => i.node.startsWith('vm-') && i.status.containers?.[0]?.pid).map(pidOf);
    assert.ok(pids.length >= 1);
    await berth.client.removeService('default', 'spread');
    await waitFor('service gone', async () => (await berth.client.listServices('default')).every((s) => s.name !== 'spread'), { timeoutMs: 20_000 });
    await waitFor('processes on the agents stopped', () => pids.every((p) => !alive(p)), { timeoutMs: 10_000 });
  });
});
