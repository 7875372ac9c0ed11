import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BerthClient } from '../../src/client/index.js';
import type { Instance, ServiceEvent } from '../../src/model/index.js';
import type { EtcdCluster } from '../etcd-harness.js';
import { startEtcd } from '../etcd-harness.js';
import type { RunningAgent } from './agent-harness.js';
import { killAgent, spawnAgent } from './agent-harness.js';
import { alive, tempDir, waitFor } from './harness.js';
import type { ControlPlaneServer } from './control-plane-harness.js';
import { berth, spawnControlPlane, tearDownCluster, untilLeads } from './control-plane-harness.js';
import { echoSpec } from './programs.js';

/*
 * A cluster on etcd (one server, three agents: pl-a in zone a, pl-b and pl-c in zone b), as the walk
 * through the cluster met it: a deploy that changes only the placement moves the instances whose node
 * no longer meets it through the rollout (docs/rollouts.md, "Placement changes") and leaves the others
 * running; a deploy that adds a spread preference moves just enough instances to even the zones out
 * (docs/rollouts.md, "Spread changes"); a global service whose slot waits for a down node settles as
 * degraded, 2/3, instead of deploying forever, and says so once (docs/reconcile.md, "Phase events").
 */

const INSTANCE_RANGE = '127.11.80.0/24';
const AGENTS = [
  { name: 'pl-a', address: '127.11.81.1', zone: 'a' },
  { name: 'pl-b', address: '127.11.81.2', zone: 'b' },
  { name: 'pl-c', address: '127.11.81.3', zone: 'b' },
] as const;


void describe('placement on a cluster: a constraint change rolls out; a global slot waits for its down node', () => {
  let etcd: EtcdCluster | undefined;
  const servers: ControlPlaneServer[] = [];
  const agents: RunningAgent[] = [];
  const dirs: string[] = [];
  /** Processes of instances whose agent this test SIGKILLs: stopped here if the test ends before the agent comes back. */
  const orphans: number[] = [];
  let token = '';
  let url = '';
  const client = (): BerthClient => new BerthClient({ baseUrl: url, token });

  before(async () => {
    etcd = await startEtcd({ members: 1, portBase: 24120 });
    const dir = tempDir('berth-placement-');
    dirs.push(dir);
    const server = await spawnControlPlane('s', dir, etcd, { instanceRange: INSTANCE_RANGE, leaseSeconds: 3, nodeGrace: '3s' });
    servers.push(server);
    await untilLeads(server);
    url = server.url;
    token = readFileSync(join(dir, 'admin.token'), 'utf8').trim();
    const joinToken = (await client().createToken({ role: 'node', name: 'join' })).token;
    for (const a of AGENTS) {
      const agentDir = tempDir('berth-placement-agent-');
      dirs.push(agentDir);
      agents.push(await spawnAgent({ url, fingerprint: undefined }, a.name, joinToken, agentDir, { address: a.address, args: ['--label', `zone=${a.zone}`] }));
    }
    await waitFor('three ready nodes', async () => (await client().nodes()).filter((n) => n.ready).length === 3, { timeoutMs: 20_000 });
  });

  after(async () => {
    // A server that stopped before the end says why (its stderr, the end of its log), so a run that lost it can be read.
    for (const s of servers.filter((x) => x.proc.exitCode !== null || x.proc.signalCode !== null)) {
      let log = '';
      try {
        log = readFileSync(join(s.dataDir, 'server.log'), 'utf8').split('\n').slice(-40).join('\n');
      } catch {
        log = '(no server.log)';
      }
      console.log(`server ${s.name} stopped (exit ${s.proc.exitCode ?? s.proc.signalCode}):\n${s.stderr.slice(-4000)}\n--- server.log ---\n${log}`);
    }
    try {
      await tearDownCluster({ servers, agents, etcd, dirs, client: () => (token ? client() : undefined) });
    } finally {
      for (const pid of orphans) if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
  });

  it('`service update --constraint … --deploy` moves only the instance whose node no longer meets it, through the rollout, and says so when it completes', async () => {
    await client().createService('default', { ...echoSpec('zoned', 3), updateConfig: { parallelism: 1, monitor: '2s' } }, { deploy: true });
    const before = await waitFor('one ready instance on each node', async () => {
      const list = (await client().listInstances('default', 'zoned', { active: true })).filter((i) => i.status.state === 'running');
      return list.length === 3 && new Set(list.map((i) => i.node)).size === 3 ? list : undefined;
    }, { timeoutMs: 30_000 });
    await waitFor('generation 1 converged', async () => (await client().getService('default', 'zoned')).status.phase === 'running', { timeoutMs: 20_000 });
    const onA = before.find((i) => i.node === 'pl-a') as Instance;
    const staying = before.filter((i) => i.node !== 'pl-a');

    // Without --deploy the change waits for one, and says so (the controllers place by the deployed spec).
    const stored = await berth(url, token, ['service', 'update', 'zoned', '--constraint', 'node.labels.zone==b']);
    assert.equal(stored.code, 0, stored.stderr);
    assert.equal(stored.stdout, 'service zoned updated to generation 2 (not deployed): run `berth service deploy zoned`\n');
    assert.deepEqual((await client().listInstances('default', 'zoned', { active: true })).map((i) => i.id).sort(), before.map((i) => i.id).sort(), 'nothing moved before the deploy');

    const deployed = await berth(url, token, ['service', 'deploy', 'zoned', '--timeout', '60s']);
    assert.equal(deployed.code, 0, `${deployed.stdout}\n${deployed.stderr}`);
    const service = await client().getService('default', 'zoned');
    const update = service.status.update;
    assert.equal(update?.state, 'completed', JSON.stringify(update));
    assert.equal(update?.generation, 2);
    assert.equal(update?.updatedInstances, 3);
    assert.equal(update?.message, 'update to generation 2 completed: 3/3 instance(s) ready; 1 moved to another node');
    const tookMs = Date.parse(update?.completedAt ?? '') - Date.parse(update?.startedAt ?? '');
    assert.ok(tookMs >= 2000, `the rollout waited for the moved instance to be ready for its 2 s monitor (took ${tookMs} ms), not "completed in 0.0 s"`);

    const now = (await client().listInstances('default', 'zoned', { active: true })).filter((i) => i.desiredState === 'running');
    assert.deepEqual(now.map((i) => i.node).filter((n) => n === 'pl-a'), [], 'nothing runs on the zone-a node');
    for (const i of staying) assert.ok(now.some((x) => x.id === i.id), `${i.id} on ${i.node} (zone b) kept running, not restarted`);
    const moved = now.find((i) => i.slot === onA.slot);
    assert.ok(moved && moved.id !== onA.id && (moved.node === 'pl-b' || moved.node === 'pl-c'), `slot ${onA.slot} moved to a zone-b node: ${JSON.stringify(moved)}`);
    const old = (await client().listInstances('default', 'zoned')).find((i) => i.id === onA.id);
    assert.equal(old?.desiredReason, 'update to generation 2: node pl-a does not meet node.labels.zone==b (it has node.labels.zone=a)');
    assert.equal(old?.status.state, 'shutdown');

    const events: ServiceEvent[] = [];
    for await (const e of client().events('default', 'zoned', { tail: 50 })) events.push(e);
    const completed = events.filter((e) => e.type === 'service.update_completed').at(-1);
    assert.match(completed?.message ?? '', /^update to generation 2 completed: 3\/3 instance\(s\) ready; 1 moved to another node in \d+\.\d s$/);
    assert.doesNotMatch(completed?.message ?? '', / in 0\.0 s$/);

    // Removing the constraint moves nothing (every node meets no constraint): done at once, and said so.
    const relaxed = await berth(url, token, ['service', 'update', 'zoned', '--constraint-rm', 'node.labels.zone==b', '--deploy', '--timeout', '30s']);
    assert.equal(relaxed.code, 0, `${relaxed.stdout}\n${relaxed.stderr}`);
    const third = (await client().getService('default', 'zoned')).status.update;
    assert.equal(third?.generation, 3);
    assert.equal(third?.message, 'update to generation 3 completed: 3/3 instance(s) ready; none needed replacing or moving');
    assert.deepEqual((await client().listInstances('default', 'zoned', { active: true })).map((i) => i.id).sort(), now.map((i) => i.id).sort(), 'no instance restarted');
    await client().removeService('default', 'zoned');
  });

  it('`service update --placement-pref spread=… --deploy` moves just enough instances to even the zones out, through the rollout, and says how many moved', async () => {
    const spec = { name: 'spread', replicas: 6, containers: [{ command: ['sleep', '300'] }], updateConfig: { parallelism: 1, monitor: '1s' } };
    await client().createService('default', spec, { deploy: true });
    const before = await waitFor('two ready instances on each node', async () => {
      const list = (await client().listInstances('default', 'spread', { active: true })).filter((i) => i.status.state === 'running');
      return list.length === 6 && ['pl-a', 'pl-b', 'pl-c'].every((n) => list.filter((i) => i.node === n).length === 2) ? list : undefined;
    }, { timeoutMs: 30_000 });
    await waitFor('generation 1 converged', async () => (await client().getService('default', 'spread')).status.phase === 'running', { timeoutMs: 20_000 });

    // Zone a (pl-a) runs 2, zone b (pl-b, pl-c) 4: even over the zones is 3/3, one move from b to a.
    const deployed = await berth(url, token, ['service', 'update', 'spread', '--placement-pref', 'spread=node.labels.zone', '--deploy', '--timeout', '60s']);
    assert.equal(deployed.code, 0, `${deployed.stdout}\n${deployed.stderr}`);
    const update = (await client().getService('default', 'spread')).status.update;
    assert.equal(update?.state, 'completed', JSON.stringify(update));
    assert.equal(update?.generation, 2);
    assert.equal(update?.message, 'update to generation 2 completed: 6/6 instance(s) ready; 1 moved to another node');
    const now = (await client().listInstances('default', 'spread', { active: true })).filter((i) => i.desiredState === 'running');
    assert.deepEqual([now.filter((i) => i.node === 'pl-a').length, now.filter((i) => i.node !== 'pl-a').length], [3, 3], JSON.stringify(now.map((i) => [i.slot, i.node])));
    const gone = before.filter((i) => !now.some((x) => x.id === i.id));
    assert.equal(gone.length, 1, 'one instance moved; the other five kept running');
    const old = (await client().listInstances('default', 'spread')).find((i) => i.id === gone[0]?.id);
    assert.notEqual(old?.node, 'pl-a');
    assert.equal(old?.desiredReason, 'update to generation 2: spread over node.labels.zone: b runs 4 instance(s), a 2');
    assert.equal(now.find((i) => i.slot === old?.slot)?.node, 'pl-a');

    // Dropping the preference moves nothing: done at once, and said so.
    const dropped = await berth(url, token, ['service', 'update', 'spread', '--placement-pref-rm', 'spread=node.labels.zone', '--deploy', '--timeout', '30s']);
    assert.equal(dropped.code, 0, `${dropped.stdout}\n${dropped.stderr}`);
    const third = (await client().getService('default', 'spread')).status.update;
    assert.equal(third?.generation, 3);
    assert.equal(third?.message, 'update to generation 3 completed: 6/6 instance(s) ready; none needed replacing or moving');
    assert.deepEqual((await client().listInstances('default', 'spread', { active: true })).map((i) => i.id).sort(), now.map((i) => i.id).sort());
    await client().removeService('default', 'spread');
  });

  it('a global service whose slot waits for a down node shows 2/3 degraded (not deploying), names the slot in why and ps, and runs again when the node returns', async () => {
    await client().createService('default', { name: 'everywhere', mode: 'global', containers: [{ command: ['sleep', '300'] }] }, { deploy: true });
    const instances = await waitFor('one instance on each node', async () => {
      const list = (await client().listInstances('default', 'everywhere', { active: true })).filter((i) => i.status.state === 'running');
      return list.length === 3 ? list : undefined;
    }, { timeoutMs: 30_000 });
    await waitFor('running 3/3', async () => (await client().getService('default', 'everywhere')).status.phase === 'running', { timeoutMs: 20_000 });
    const onC = instances.find((i) => i.node === 'pl-c') as Instance;
    const pid = onC.status.containers?.[0]?.pid;
    assert.ok(pid);
    orphans.push(pid);

    const c = agents[2] as RunningAgent;
    await killAgent(c, 'SIGKILL');
    const settled = await waitFor('degraded once pl-c is down', async () => {
      const s = await client().getService('default', 'everywhere');
      return s.status.phase === 'degraded' ? s : undefined;
    }, { timeoutMs: 20_000 });
    assert.deepEqual([settled.status.runningInstances, settled.status.desiredInstances], [2, 3]);
    assert.equal(settled.status.message, `2/3 running; everywhere-${onC.slot} waits for node pl-c (down)`);

    const ls = await berth(url, token, ['service', 'ls']);
    assert.match(ls.stdout, /^everywhere\s+2\/3\s+degraded\s/m);
    const why = await berth(url, token, ['service', 'why', 'everywhere']);
    assert.match(why.stdout, new RegExp(`2/3 instances of everywhere ready: everywhere-${onC.slot} waits for node pl-c \\(down\\)`));
    const ps = await berth(url, token, ['service', 'ps', 'everywhere']);
    assert.match(ps.stdout, new RegExp(`^everywhere-${onC.slot}\\s+${onC.id}\\s+.*pl-c \\(down; slot waits for it\\)`, 'm'));
    // It stays so: nothing is on its way (the controller looks again on every heartbeat of the others).
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await client().getService('default', 'everywhere')).status.phase, 'degraded');
    // Said once, as a warning that names the slot and the node (`berth service events` shows it).
    const phaseEvents = async (): Promise<ServiceEvent[]> => {
      const list: ServiceEvent[] = [];
      for await (const e of client().events('default', 'everywhere', { tail: 100 })) if (e.type === 'service.degraded' || e.type === 'service.converged') list.push(e);
      return list;
    };
    const warned = await phaseEvents();
    assert.deepEqual(warned.map((e) => [e.type, e.severity, e.message]).slice(1), [['service.degraded', 'warning', `1 of 3 slots waits: node pl-c is down (everywhere-${onC.slot})`]]);
    const events = await berth(url, token, ['service', 'events', 'everywhere']);
    assert.match(events.stdout, new RegExp(`service\\.degraded\\s.*1 of 3 slots waits: node pl-c is down \\(everywhere-${onC.slot}\\)`));

    agents[2] = await spawnAgent({ url, fingerprint: undefined }, 'pl-c', undefined, c.dataDir, { address: AGENTS[2].address });
    const back = await waitFor('running 3/3 once pl-c is back', async () => {
      const s = await client().getService('default', 'everywhere');
      return s.status.phase === 'running' ? s : undefined;
    }, { timeoutMs: 20_000 });
    assert.deepEqual([back.status.runningInstances, back.status.desiredInstances], [3, 3]);
    const same = (await client().listInstances('default', 'everywhere', { active: true })).find((i) => i.node === 'pl-c');
    assert.equal(same?.id, onC.id, 'the agent took its instance back: the slot waited, it was not replaced');
    const over = await phaseEvents();
    assert.equal(over.length, 3, JSON.stringify(over));
    assert.equal(over[2]?.type, 'service.converged');
    assert.match(over[2]?.message ?? '', /^3\/3 instance\(s\) running generation 1 again, after \d+\.\d s degraded$/);
  });
});
