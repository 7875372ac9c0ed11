import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BerthClient, isApiError } from '../../src/client/index.js';
import type { EtcdCluster } from '../etcd-harness.js';
import { startEtcd } from '../etcd-harness.js';
import type { RunningAgent } from './agent-harness.js';
import { spawnAgent } from './agent-harness.js';
import { tempDir, waitFor } from './harness.js';
import type { ControlPlaneServer } from './control-plane-harness.js';
import { roleOf, spawnControlPlane, stopProc, tearDownCluster, untilLeads } from './control-plane-harness.js';
import { accepts, echoSpec } from './programs.js';

/*
 * Issue 13's acceptance on loopback: a 3-member etcd cluster, two `berth server --store etcd://…` and
 * three agents joined to both servers (`--join A,B`). Writes go through either server; the leader is
 * SIGKILLed under a stream of writes, the other takes over within the lease and no acknowledged write
 * is lost; an etcd member is killed and the cluster goes on. (The agents' own network namespaces are
 * agents-netns.test.ts's; here they share loopback.)
 */

const INSTANCE_RANGE = '127.11.24.0/24';
const LEASE_S = 3;

type Server = ControlPlaneServer;
const spawnServer = (name: string, dataDir: string, etcd: EtcdCluster): Promise<Server> => spawnControlPlane(name, dataDir, etcd, { instanceRange: INSTANCE_RANGE, leaseSeconds: LEASE_S, nodeGrace: '4s' });
const role = (url: string): Promise<string | undefined> => roleOf(url);

void describe('several servers on etcd (berth server --store etcd://…)', () => {
  let etcd: EtcdCluster;
  const servers: Server[] = [];
  const agents: RunningAgent[] = [];
  const dirs: string[] = [];
  let token: string;
  const client = (s: Server): BerthClient => new BerthClient({ baseUrl: s.url, token });

  before(async () => {
    etcd = await startEtcd({ members: 3, portBase: 23870 });
    for (const name of ['a', 'b']) {
      const dir = tempDir('berth-cp-');
      dirs.push(dir);
      servers.push(await spawnServer(name, dir, etcd));
      // The first server leads a new cluster and writes the admin token; the second waits as a follower.
      if (name === 'a') await untilLeads(servers[0] as Server);
    }
    token = readFileSync(join(dirs[0] as string, 'admin.token'), 'utf8').trim();
    const joinToken = (await client(servers[1] as Server).createToken({ role: 'node', name: 'join' })).token;
    const both = { url: servers.map((s) => s.url).join(','), fingerprint: undefined };
    for (const name of ['vm-a', 'vm-b', 'vm-c']) {
      const dir = tempDir('berth-cp-agent-');
      dirs.push(dir);
      agents.push(await spawnAgent(both, name, joinToken, dir));
    }
  });

  after(() => tearDownCluster({ servers, agents, etcd, dirs, client: (s) => (token ? client(s) : undefined) }));

  it('one leads, one follows; writes through either are read on both; 6 replicas spread 2/2/2 over the agents', async () => {
    const [a, b] = servers as [Server, Server];
    assert.equal(await role(a.url), 'leader');
    assert.equal(await role(b.url), 'follower');
    // Through the follower: it passes the write to the leader and answers once its own replica has it.
    await client(b).createService('default', echoSpec('spread', 6), { deploy: true });
    assert.equal((await client(b).getService('default', 'spread'))?.spec.replicas, 6, 'read your write on the server you wrote through');
    const running = await waitFor('6 running instances', async () => {
      const list = (await client(a).listInstances('default', 'spread', { active: true })).filter((i) => i.status.state === 'running');
      return list.length === 6 ? list : undefined;
    }, { timeoutMs: 40_000 });
    const perNode = new Map<string, number>();
    for (const i of running) perNode.set(i.node, (perNode.get(i.node) ?? 0) + 1);
    assert.deepEqual([...perNode.values()].sort(), [2, 2, 2], `spread 2/2/2: ${JSON.stringify([...perNode])}`);
    for (const i of running) await waitFor(`${i.id} accepts connections`, () => accepts(i), { timeoutMs: 10_000 });
    assert.deepEqual((await client(b).listInstances('default', 'spread')).map((i) => i.id).sort(), (await client(a).listInstances('default', 'spread')).map((i) => i.id).sort(), 'both servers list the same instances');
    // Logs and stats through the follower: read at the agents' telemetry listeners (docs/node-telemetry.md).
    const warnings: string[] = [];
    await waitFor("every instance's first line through the follower", async () => {
      const texts = new Set<string>();
      for await (const l of client(b).logs('default', 'spread', { onWarning: (w) => warnings.push(w.message) })) texts.add(l.text);
      return running.every((i) => texts.has(`${i.id} listening`));
    }, { timeoutMs: 10_000 });
    assert.deepEqual(warnings, [], 'no node is missing');
    const stats = await client(b).statsReport('default', 'spread');
    assert.deepEqual(stats.items.map((s) => s.instance).sort(), running.map((i) => i.id).sort(), 'stats of the 6 instances on the 3 agents');
    assert.deepEqual(stats.unreachable, []);
  });

  it('SIGKILL of the leader under a stream of writes: the other leads within the lease, no acknowledged write is lost, the agents carry on', async (t) => {
    const [a, b] = servers as [Server, Server];
    const acknowledged: string[] = [];
    const refused: string[] = [];
    let killedAt = 0;
    let leadingAt = 0;
    const writer = (async () => {
      for (let k = 0; k < 400 && leadingAt === 0; k++) {
        const name = `w-${k}`;
        try {
          await client(b).createToken({ role: 'viewer', grid: 'default', name });
          acknowledged.push(name);
        } catch (error) {
          if (!isApiError(error) || error.status !== 503) throw error;
          refused.push(`${name}: ${error.code}`);
          await new Promise((r) => setTimeout(r, 100));
        }
        if (k === 15) {
          killedAt = Date.now();
          await stopProc(a.proc, 'SIGKILL');
        }
      }
    })();
    await waitFor('b leads', async () => ((await role(b.url)) === 'leader' ? true : undefined), { timeoutMs: (LEASE_S + 10) * 1000, intervalMs: 50 });
    leadingAt = Date.now();
    await writer;
    const takeoverMs = leadingAt - killedAt;
    t.diagnostic(`takeover ${takeoverMs} ms after the SIGKILL (lease ${LEASE_S} s); ${acknowledged.length} writes acknowledged, ${refused.length} refused while no server led`);
    assert.ok(takeoverMs <= (LEASE_S + 2) * 1000, `b leads ${takeoverMs} ms after the kill (lease ${LEASE_S} s)`);
    assert.ok(acknowledged.length >= 15, `writes before the kill were acknowledged (${acknowledged.length}); refused while electing: ${refused.join(', ')}`);
    const stored = new Set((await client(b).listTokens()).map((t) => t.name));
    const lost = acknowledged.filter((n) => !stored.has(n));
    assert.deepEqual(lost, [], 'every acknowledged write is in the new leader\'s store');

    // The controllers run on b now, and the agents reach it (their requests to a fail over to b).
    await client(b).scale('default', 'spread', 7);
    await waitFor('7 running on the new leader', async () => (await client(b).listInstances('default', 'spread', { active: true })).filter((i) => i.status.state === 'running').length === 7, { timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 5000)); // past the node grace: heartbeats reach the new leader
    const nodes = await client(b).nodes();
    assert.deepEqual(nodes.filter((n) => n.ready).map((n) => n.name).sort(), ['vm-a', 'vm-b', 'vm-c'], 'every agent still heartbeats');
  });

  it('the killed server comes back as a follower; an etcd member is killed and the cluster goes on', async () => {
    const a = servers[0] as Server;
    const b = servers[1] as Server;
    const again = await spawnServer('a', a.dataDir, etcd);
    servers[0] = again;
    await waitFor('a follows', async () => ((await role(again.url)) === 'follower' ? true : undefined), { timeoutMs: 15_000 });
    assert.equal((await client(again).getService('default', 'spread'))?.spec.replicas, 7, 'the restarted server loaded the store from etcd');

    await etcd.kill(0);
    await client(again).scale('default', 'spread', 6);
    await waitFor('back to 6 with a member down', async () => (await client(b).listInstances('default', 'spread', { active: true })).filter((i) => i.status.state === 'running').length === 6, { timeoutMs: 30_000 });
    assert.equal((await client(again).getService('default', 'spread'))?.spec.replicas, 6);
    await etcd.restart(0);
  });
});
