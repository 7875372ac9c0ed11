import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Instance } from '../../src/model/index.js';
import type { RunningBerth } from './harness.js';
import type { RunningAgent } from './agent-harness.js';
import { killAgent, runBerth, spawnAgent, tearDownAgents } from './agent-harness.js';
import { alive, startBerth, tempDir, waitFor } from './harness.js';
import { accepts, echoSpec, pidOf } from './programs.js';
import { queryDns } from '../../src/cli/dns-query.js';

/*
 * A server and two agents of "other machines" (`berth agent --join`), all on loopback: the agents join
 * with a join token, heartbeat, run the instances the server assigns to their nodes, and report them;
 * a killed agent's node goes down after the grace; a restarted agent re-adopts its instances.
 */

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

  after(() => tearDownAgents(berth, agents, dirs));

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
    // No readiness probe: running means started, not yet listening; each must accept within a few seconds.
    for (const i of instances) await waitFor(`instance ${i.id} on ${i.node} accepts connections`, () => accepts(i), { timeoutMs: 5000 });
    // Logs are files of the instance's own machine: the server reads them at its agent's telemetry
    // listener (docs/node-telemetry.md); asked for one instance, it answers that one only.
    const remote = instances.find((i) => i.node === 'vm-a') as Instance;
    const lines = await waitFor(`the line of ${remote.id} from vm-a's agent`, async () => {
      const got: string[] = [];
      for await (const l of berth.client.logs('default', 'spread', { instance: remote.id })) got.push(`${l.instance} ${l.text}`);
      return got.includes(`${remote.id} ${remote.id} listening`) ? got : undefined;
    }, { timeoutMs: 10_000 });
    assert.ok(lines.every((l) => l.startsWith(`${remote.id} `)), `only the asked instance: ${lines.join(' / ')}`);
  });

  it("serves the cluster's names from every agent's own DNS server (its mirror of the cluster)", async () => {
    const agent = agents[1] as RunningAgent;
    assert.ok(agent.dns, 'the agent printed its DNS address');
    const service = await berth.client.getService('default', 'spread');
    const vip = service.spec.clusterIP;
    assert.ok(vip && vip !== 'None');
    const reply = await waitFor('the VIP from the agent\'s DNS', async () => {
      const r = await queryDns(agent.dns as { host: string; port: number }, { name: 'spread.default.berth.local', type: 'A' }, { timeoutMs: 2000 });
      return r.answers.length > 0 ? r : undefined;
    });
    assert.deepEqual(reply.answers.map((a) => ('data' in a ? a.data : undefined)), [vip]);
    // A slot on this agent's node is its own address; one on another node is that node's address (the
    // instance's own address is not routable from another machine: its node-published port is).
    const all = await berth.client.listInstances('default', 'spread', { active: true });
    const nodes = await berth.client.nodes();
    for (const i of all) {
      const slot = await queryDns(agent.dns as { host: string; port: number }, { name: `spread-${i.slot}.default.berth.local`, type: 'A' }, { timeoutMs: 2000 });
      const expected = i.node === agent.name ? i.spec.address : nodes.find((n) => n.name === i.node)?.address;
      assert.deepEqual(slot.answers.map((a) => ('data' in a ? a.data : undefined)), [expected], `spread-${i.slot} on ${i.node}`);
    }
  });

  it('a constraint pins a service to a labelled node; a global service runs on every node, and on a node that joins later', async () => {
    await berth.client.createService('default', { ...echoSpec('pinned', 2), placement: { constraints: ['node.labels.name==vm-b'] } }, { deploy: true });
    const pinned = await waitFor('2 pinned running', async () => {
      const list = (await berth.client.listInstances('default', 'pinned', { active: true })).filter((i) => i.status.state === 'running');
      return list.length === 2 ? list : undefined;
    }, { timeoutMs: 20_000 });
    assert.deepEqual([...new Set(pinned.map((i) => i.node))], ['vm-b']);

    await berth.client.createService('default', { name: 'everywhere', mode: 'global', containers: [{ command: ['sleep', '1000'] }] }, { deploy: true });
    const nodesOf = async (): Promise<string[]> =>
      (await berth.client.listInstances('default', 'everywhere', { active: true })).filter((i) => i.status.state === 'running').map((i) => i.node).sort();
    const names = (await berth.client.nodes()).filter((n) => n.ready).map((n) => n.name).sort();
    assert.equal(names.length, 3);
    await waitFor('one on each of the 3 nodes', async () => JSON.stringify(await nodesOf()) === JSON.stringify(names), { timeoutMs: 20_000 });
    const dir = tempDir('berth-agent-');
    dirs.push(dir);
    agents.push(await spawnAgent(berth, 'vm-c', joinToken, dir));
    await waitFor('one on the 4th node too', async () => JSON.stringify(await nodesOf()) === JSON.stringify([...names, 'vm-c'].sort()), { timeoutMs: 20_000 });
    await berth.client.removeService('default', 'pinned');
    await berth.client.removeService('default', 'everywhere');
    await waitFor('both removed', async () => (await berth.client.listServices('default')).every((x) => x.name === 'spread'), { timeoutMs: 20_000 });
  });

  it("berth plan --fail-node says what then happens: a SIGKILLed agent's node is down after the grace, its instance is replaced where the plan said, and the old one is stopped when the agent comes back (no slot runs twice)", async () => {
    const a = agents[0] as RunningAgent;
    const before = (await berth.client.listInstances('default', 'spread', { active: true })).find((i) => i.node === 'vm-a') as Instance;
    assert.ok(before, 'an instance runs on vm-a');
    const pid = pidOf(before);

    // The plan, through the CLI as a user types it, and as JSON.
    const printed = await runBerth(berth, ['plan', '--fail-node', 'vm-a']);
    assert.match(printed, /What if node vm-a failed/);
    assert.match(printed, new RegExp(`move\\s+spread\\s+${before.slot}\\s+vm-a\\s+\\S+`));
    const plan = await berth.client.plan({ failNode: 'vm-a' });
    const predicted = plan.moves.find((m) => m.service === 'spread' && m.slot === before.slot);
    assert.ok(predicted && predicted.from === 'vm-a' && predicted.to !== null && predicted.to !== 'vm-a', `the plan moves slot ${before.slot} off vm-a: ${JSON.stringify(plan.moves)}`);
    assert.equal(plan.pending.length, 0);

    const killedAt = Date.now();
    await killAgent(a, 'SIGKILL');
    await waitFor('vm-a down', async () => (await berth.client.nodes()).find((n) => n.name === 'vm-a')?.ready === false, { timeoutMs: 10_000 });
    const downAfter = Date.now() - killedAt;
    // The grace counts from the node's last heartbeat, which came up to one period (a third of the
    // grace, plus the beat's round trip) before the kill: down no sooner than grace − period − 100 ms
    // after it (a run saw 1,452 ms).
    assert.ok(downAfter >= 2_000 - Math.floor(2_000 / 3) - 100, `down after the 2 s grace from its last heartbeat, not before (${downAfter} ms after the kill)`);
    const replacement = await waitFor('the slot replaced on another node', async () => {
      const list = await berth.client.listInstances('default', 'spread', { active: true });
      return list.find((i) => i.slot === before.slot && i.id !== before.id && i.status.state === 'running');
    }, { timeoutMs: 2_000 + 5_000 });
    assert.ok(Date.now() - killedAt < 2_000 + 5_000 + 1_000, 'replaced within grace + 5 s');
    assert.equal(replacement.node, predicted.to, 'where the plan said');
    const events: string[] = [];
    for await (const e of berth.client.events('default', 'spread', { tail: 50 })) events.push(e.type);
    assert.ok(events.includes('node.down'), `a node.down event (${events.join(', ')})`);
    assert.ok(alive(pid), 'the old process outlives its agent (nobody can stop it while its node is cut off)');
    const old = (await berth.client.listInstances('default', 'spread')).find((i) => i.id === before.id);
    assert.equal(old?.desiredState, 'shutdown', 'the old instance is fenced: desired shutdown');

    const again = await spawnAgent(berth, 'vm-a', undefined, a.dataDir); // its saved credential, no join token
    agents[0] = again;
    await waitFor('vm-a ready again', async () => (await berth.client.nodes()).find((n) => n.name === 'vm-a')?.ready === true, { timeoutMs: 10_000 });
    await waitFor('the replaced instance stopped by its agent', () => !alive(pid), { timeoutMs: 10_000 });
    const running = (await berth.client.listInstances('default', 'spread', { active: true })).filter((i) => i.slot === before.slot && i.desiredState === 'running');
    assert.equal(running.length, 1, 'one instance in the slot');
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
