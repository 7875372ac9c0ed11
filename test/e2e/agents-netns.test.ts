import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { Instance } from '../../src/model/index.js';
import type { RunningAgent } from './agent-harness.js';
import { killAgent, spawnAgent, tearDownAgents } from './agent-harness.js';
import type { RunningBerth } from './harness.js';
import { alive, startBerth, tempDir, waitFor } from './harness.js';
import { echoSpec, pidOf } from './programs.js';
import type { TestHost } from './netns-harness.js';
import { getIn, isRoot, testNetwork } from './netns-harness.js';

/*
 * Issue 13's acceptance on this machine's own test hosts: the server on a bridge this test creates
 * (10.253.23.1), and two agents, each in a network namespace of its own with its own address on that
 * bridge. Every node runs its own proxy; a virtual IP balances over the instances of all three nodes
 * through their node-published ports. Traffic stays on the bridge and the namespaces' loopbacks.
 * (Where namespaces cannot be made — not root — the loopback variant, agents.test.ts, covers the rest.)
 */

const SUBNET = '10.253.23';
const net = testNetwork('23', SUBNET, ['vm-a', 'vm-b']);
const NAMESPACES = net.hosts;
const setUpNetwork = (): void => net.setUp();
const tearDownNetwork = (): void => net.tearDown();

/** One HTTP GET of `host:port` (from this, the host's, network namespace); resolves with the body or rejects. */
function get(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path: '/', timeout: 2000, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body.trim()));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const root = isRoot;

describe('several machines in network namespaces (server on a bridge, an agent per namespace)', { skip: root ? false : 'network namespaces need root: agents.test.ts runs the agents on loopback instead' }, () => {
  let berth: RunningBerth;
  const agents: RunningAgent[] = [];
  const dirs: string[] = [];
  let vip = '';

  before(async () => {
    setUpNetwork();
    berth = await startBerth({ instanceRange: '127.11.23.0/24', listen: `${SUBNET}.1:0`, args: ['--node-grace', '2s', '--node-address', `${SUBNET}.1`] });
    const joinToken = (await berth.client.createToken({ role: 'node', name: 'join' })).token;
    for (const n of NAMESPACES) {
      const dir = tempDir('berth-agent-ns-');
      dirs.push(dir);
      agents.push(await spawnAgent(berth, n.name, joinToken, dir, { netns: n.ns, address: n.address }));
    }
  });

  after(async () => {
    try {
      await tearDownAgents(berth, agents, dirs);
    } finally {
      tearDownNetwork();
    }
  });

  it('joins over HTTPS from each namespace, and a service of 6 replicas spreads 2/2/2', async () => {
    assert.match(berth.url, /^https:/, 'a non-loopback listener serves HTTPS (the agents pin its fingerprint)');
    const nodes = await berth.client.nodes();
    assert.deepEqual(nodes.filter((n) => n.ready).map((n) => n.address).sort(), [`${SUBNET}.1`, `${SUBNET}.2`, `${SUBNET}.3`]);
    await berth.client.createService('default', echoSpec('web', 6), { deploy: true });
    const running = await waitFor('6 running', async () => {
      const list = (await berth.client.listInstances('default', 'web', { active: true })).filter((i) => i.status.state === 'running');
      return list.length === 6 ? list : undefined;
    }, { timeoutMs: 30_000 });
    const perNode = new Map<string, number>();
    for (const i of running) perNode.set(i.node, (perNode.get(i.node) ?? 0) + 1);
    assert.deepEqual([...perNode.values()], [2, 2, 2], `2/2/2 (${JSON.stringify([...perNode])})`);
    for (const i of running) assert.ok((i.spec.hostPorts ?? []).length === 1, `${i.id} has a node-published port`);
    vip = String((await berth.client.getService('default', 'web')).spec.clusterIP);
    // Logs and stats of the namespaces' instances, read across the bridge at each agent's telemetry
    // listener (its address, port 10250; docs/node-telemetry.md).
    const warnings: string[] = [];
    await waitFor("every instance's first line, the namespaces' too", async () => {
      const texts = new Set<string>();
      for await (const l of berth.client.logs('default', 'web', { onWarning: (w) => warnings.push(w.message) })) texts.add(l.text);
      return running.every((i) => texts.has(`${i.id} listening`));
    }, { timeoutMs: 10_000 });
    assert.deepEqual(warnings, []);
    const stats = await berth.client.statsReport('default', 'web');
    assert.deepEqual(stats.items.map((s) => s.instance).sort(), running.map((i) => i.id).sort());
    assert.deepEqual(stats.unreachable, []);
  });

  it("the server's virtual IP reaches the instances of all three nodes (other nodes' through their node-published ports)", async () => {
    const instances = await berth.client.listInstances('default', 'web', { active: true });
    const seen = new Set<string>();
    await waitFor('every instance answered through the VIP', async () => {
      for (let k = 0; k < 12; k++) seen.add(await get(vip, 8080).catch(() => ''));
      return instances.every((i) => seen.has(i.id));
    }, { timeoutMs: 15_000 });
    assert.ok(instances.some((i) => i.node === 'vm-a') && instances.some((i) => i.node === 'vm-b'));
  });

  it("an agent's own proxy serves the same virtual IP inside its namespace, over every node's instances", async () => {
    const instances = await berth.client.listInstances('default', 'web', { active: true });
    const seen = new Set<string>();
    await waitFor('every instance answered through vm-a\'s proxy', async () => {
      for (let k = 0; k < 12; k++) seen.add(getIn('berth-bt23-a', vip, 8080));
      return instances.every((i) => seen.has(i.id));
    }, { timeoutMs: 20_000 });
  });

  it('a SIGKILLed agent with its link down: its node is down after the grace, its instances run elsewhere, the VIP answers; back up, the replaced ones are stopped', async () => {
    const a = agents[0] as RunningAgent;
    const victim = NAMESPACES[0] as TestHost;
    const lost = (await berth.client.listInstances('default', 'web', { active: true })).filter((i) => i.node === victim.name);
    assert.equal(lost.length, 2);
    const pids = lost.map(pidOf);
    const killedAt = Date.now();
    await killAgent(a, 'SIGKILL');
    net.link(victim, 'down');
    await waitFor('replacements running on other nodes', async () => {
      const list = await berth.client.listInstances('default', 'web', { active: true });
      return lost.every((l) => list.some((i) => i.slot === l.slot && i.id !== l.id && i.node !== victim.name && i.status.state === 'running'));
    }, { timeoutMs: 2_000 + 5_000 + 2_000 });
    assert.ok(Date.now() - killedAt < 2_000 + 5_000 + 2_000, `replaced within grace + 5 s (${Date.now() - killedAt} ms)`);
    // Every request through the VIP now succeeds (the lost node's endpoints are gone from every proxy).
    const answers = await Promise.all(Array.from({ length: 12 }, () => get(vip, 8080)));
    const now = (await berth.client.listInstances('default', 'web', { active: true })).filter((i: Instance) => i.desiredState === 'running');
    for (const answer of answers) assert.ok(now.some((i) => i.id === answer && i.node !== victim.name), `answered by a live instance (${answer})`);

    net.link(victim, 'up');
    agents[0] = await spawnAgent(berth, victim.name, undefined, a.dataDir, { netns: victim.ns, address: victim.address });
    await waitFor('the replaced instances stopped by their agent (fenced)', () => pids.every((p) => !alive(p)), { timeoutMs: 15_000 });
    const bySlot = new Map<number, number>();
    for (const i of await berth.client.listInstances('default', 'web', { active: true })) if (i.desiredState === 'running') bySlot.set(i.slot, (bySlot.get(i.slot) ?? 0) + 1);
    assert.deepEqual([...bySlot.values()].filter((n) => n > 1), [], 'no slot runs twice');
  });
});
