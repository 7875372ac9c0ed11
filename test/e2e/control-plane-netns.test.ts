import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join as joinPath } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BerthClient } from '../../src/client/index.js';
import { tlsFetch } from '../../src/cli/index.js';
import type { EtcdCluster } from '../etcd-harness.js';
import { startEtcd } from '../etcd-harness.js';
import type { RunningAgent } from './agent-harness.js';
import { killAgent, spawnAgent } from './agent-harness.js';
import type { ControlPlaneServer } from './control-plane-harness.js';
import { certificateFor, roleOf, spawnControlPlane, stopProc, untilLeads } from './control-plane-harness.js';
import { alive, tempDir, waitFor } from './harness.js';
import type { TestHost } from './netns-harness.js';
import { getIn, isRoot, testNetwork } from './netns-harness.js';
import { echoSpec, pidOf } from './programs.js';

/*
 * Issue 13's acceptance, whole, on this machine's own test hosts: a 3-member etcd cluster (loopback),
 * two `berth server --store etcd://…` on a bridge the test creates (HTTPS, one certificate), and three
 * agents, each in a network namespace of its own with its own address on that bridge, each running
 * its own DNS and proxy. (Without root: control-plane.test.ts runs the servers with agents on loopback.)
 */

const SUBNET = '10.253.26';

/** SIGKILL of an instance's process group (its pid leads one), else the process; gone already is fine. */
function killGroup(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
      return;
    } catch {
      // not a group leader, or gone
    }
  }
}
/** Puts every change `client`'s watch sends from `fromRevision` in `into` (revision → its line) until `signal` aborts or the stream ends. */
async function collectChanges(client: BerthClient, fromRevision: number, into: Map<number, string>, signal: AbortSignal): Promise<void> {
  try {
    for await (const change of client.watch({ fromRevision, signal })) into.set(change.revision, JSON.stringify(change));
  } catch {
    // aborted, or the server died
  }
}

const net = testNetwork('26', SUBNET, ['vm-a', 'vm-b', 'vm-c']);
const GRACE_S = 3;
const LEASE_S = 3;

void describe('several servers on etcd, agents in network namespaces', { skip: isRoot ? false : 'network namespaces need root: control-plane.test.ts runs the same servers with agents on loopback' }, () => {
  let etcd: EtcdCluster;
  const servers: ControlPlaneServer[] = [];
  const agents: RunningAgent[] = [];
  const dirs: string[] = [];
  let token = '';
  let fingerprint = '';
  let join = '';
  let vip = '';
  const fetchFn = (): ReturnType<typeof tlsFetch> => tlsFetch({ fingerprint });
  const client = (s: ControlPlaneServer): BerthClient => new BerthClient({ baseUrl: s.url, token, fetch: fetchFn() });
  const live = (): ControlPlaneServer => servers.find((s) => s.proc.exitCode === null && s.proc.signalCode === null) as ControlPlaneServer;
  const ns = (name: string): string => (net.hosts.find((h) => h.name === name) as TestHost).ns;

  before(async () => {
    net.setUp();
    const certDir = tempDir('berth-cp-tls-');
    dirs.push(certDir);
    const cert = certificateFor(net.hostAddress, certDir);
    fingerprint = cert.fingerprint;
    etcd = await startEtcd({ members: 3, portBase: 23880 });
    const options = { instanceRange: '127.11.26.0/24', leaseSeconds: LEASE_S, nodeGrace: `${GRACE_S}s`, listen: `${net.hostAddress}:0`, tls: cert };
    for (const name of ['a', 'b']) {
      const dir = tempDir('berth-cp-ns-');
      dirs.push(dir);
      servers.push(await spawnControlPlane(name, dir, etcd, options));
      if (name === 'a') await untilLeads(servers[0] as ControlPlaneServer);
    }
    token = readFileSync(joinPath((servers[0] as ControlPlaneServer).dataDir, 'admin.token'), 'utf8').trim();
    const joinToken = (await client(servers[1] as ControlPlaneServer).createToken({ role: 'node', name: 'join' })).token;
    join = servers.map((s) => s.url).join(',');
    for (const host of net.hosts) {
      const dir = tempDir('berth-cp-ns-agent-');
      dirs.push(dir);
      agents.push(await spawnAgent({ url: join, fingerprint }, host.name, joinToken, dir, { netns: host.ns, address: host.address }));
    }
  });

  after(async () => {
    // Whatever a failed test left: every instance that ever ran is killed by pid once the agents are gone.
    const pids = new Set<number>();
    try {
      for (const host of net.hosts) net.link(host, 'up');
      const c = live() && token ? client(live()) : undefined;
      if (c) {
        for (const s of await c.listServices('default').catch(() => [])) {
          for (const i of await c.listInstances('default', s.name).catch(() => [])) for (const k of i.status.containers ?? []) if (k.pid) pids.add(k.pid);
          await c.removeService('default', s.name).catch(() => undefined);
        }
        await waitFor('services removed', async () => (await c.listServices('default')).length === 0, { timeoutMs: 30_000 }).catch(() => undefined);
      }
    } finally {
      for (const a of agents) await killAgent(a, 'SIGTERM');
      for (const pid of pids) killGroup(pid);
      for (const s of servers) await stopProc(s.proc, 'SIGTERM');
      await etcd?.stop();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
      net.tearDown();
    }
  });

  it('three agents in namespaces join both servers over HTTPS; 6 replicas spread 2/2/2; a constraint pins; a global service runs on all 3', async () => {
    assert.match(join, /^https:\/\/10\.253\.26\.1:\d+,https:\/\/10\.253\.26\.1:\d+$/);
    const c = client(servers[1] as ControlPlaneServer);
    const nodes = await c.nodes();
    assert.deepEqual(nodes.filter((n) => n.ready).map((n) => n.address).sort(), net.hosts.map((h) => h.address).sort());
    await c.createService('default', echoSpec('web', 6), { deploy: true });
    await c.createService('default', { ...echoSpec('pinned', 2), placement: { constraints: ['node.labels.name==vm-b'] } }, { deploy: true });
    const { replicas: _one, ...global } = echoSpec('everywhere', 1);
    await c.createService('default', { ...global, mode: 'global' }, { deploy: true });
    const running = async (name: string, n: number) =>
      waitFor(`${n} running of ${name}`, async () => {
        const list = (await c.listInstances('default', name, { active: true })).filter((i) => i.status.state === 'running');
        return list.length === n ? list : undefined;
      }, { timeoutMs: 40_000 });
    const web = await running('web', 6);
    const perNode = new Map<string, number>();
    for (const i of web) perNode.set(i.node, (perNode.get(i.node) ?? 0) + 1);
    assert.deepEqual([...perNode.values()], [2, 2, 2], `2/2/2 (${JSON.stringify([...perNode])})`);
    assert.deepEqual([...new Set((await running('pinned', 2)).map((i) => i.node))], ['vm-b']);
    assert.deepEqual((await running('everywhere', 3)).map((i) => i.node).sort(), ['vm-a', 'vm-b', 'vm-c']);
    vip = String((await c.getService('default', 'web')).spec.clusterIP);
  });

  it('each agent\'s proxy serves the virtual IP inside its namespace, over the instances of every node', async () => {
    const instances = await client(live()).listInstances('default', 'web', { active: true });
    for (const host of net.hosts) {
      const seen = new Set<string>();
      await waitFor(`every instance answered through ${host.name}'s proxy`, async () => {
        for (let k = 0; k < 12; k++) seen.add(getIn(host.ns, vip, 8080));
        return instances.every((i) => seen.has(i.id));
      }, { timeoutMs: 20_000 });
    }
  });

  it('SIGKILL of an agent with its link down: replaced within grace + 5 s, the VIP answers from another node; back, no slot runs twice', async (t) => {
    const c = client(live());
    const victimIndex = 2;
    const victim = net.hosts[victimIndex] as TestHost;
    const lost = (await c.listInstances('default', 'web', { active: true })).filter((i) => i.node === victim.name);
    assert.equal(lost.length, 2);
    const pids = lost.map(pidOf);
    const killedAt = Date.now();
    await killAgent(agents[victimIndex] as RunningAgent, 'SIGKILL');
    net.link(victim, 'down');
    // During the grace the dead node's endpoints are still in the tables: a connection the proxy sends
    // there gets no answer. A client that gives up on a request after 1 s and retries (up to 3 times)
    // reaches a live instance every time; one that does not retry fails at most during the grace.
    let failures = 0;
    let firstTryFailures = 0;
    let requests = 0;
    const probing = (async () => {
      while (Date.now() - killedAt < (GRACE_S + 5) * 1000) {
        requests++;
        let answer = getIn(ns('vm-a'), vip, 8080, 1000);
        if (answer.startsWith('ERR')) {
          firstTryFailures++;
          for (let retry = 0; retry < 2 && answer.startsWith('ERR'); retry++) answer = getIn(ns('vm-a'), vip, 8080, 1000);
        }
        if (answer.startsWith('ERR') || answer === '') failures++;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await waitFor('replacements running on other nodes', async () => {
      const list = await c.listInstances('default', 'web', { active: true });
      return lost.every((l) => list.some((i) => i.slot === l.slot && i.id !== l.id && i.node !== victim.name && i.status.state === 'running'));
    }, { timeoutMs: (GRACE_S + 5) * 1000 + 1000 });
    const replacedMs = Date.now() - killedAt;
    await probing;
    t.diagnostic(`replaced ${replacedMs} ms after the kill (grace ${GRACE_S} s); through the VIP from vm-a, ${firstTryFailures} of ${requests} requests failed at the first try, ${failures} after retries`);
    assert.ok(replacedMs <= (GRACE_S + 5) * 1000, `replaced within grace + 5 s (${replacedMs} ms)`);
    assert.equal(failures, 0, 'a client that retries never failed');

    net.link(victim, 'up');
    agents[victimIndex] = await spawnAgent({ url: join, fingerprint }, victim.name, undefined, (agents[victimIndex] as RunningAgent).dataDir, { netns: victim.ns, address: victim.address });
    await waitFor('the replaced instances stopped by their agent (fenced)', () => pids.every((p) => !alive(p)), { timeoutMs: 15_000 });
    const bySlot = new Map<number, number>();
    for (const i of await c.listInstances('default', 'web', { active: true })) if (i.desiredState === 'running') bySlot.set(i.slot, (bySlot.get(i.slot) ?? 0) + 1);
    assert.deepEqual([...bySlot.values()].filter((n) => n > 1), [], 'no slot runs twice');
  });

  it('SIGKILL of the leader: the other leads within the lease, the VIP never stops answering, and writes go on', async (t) => {
    const [a, b] = servers as [ControlPlaneServer, ControlPlaneServer];
    const leader = (await roleOf(a.url, fetchFn())) === 'leader' ? a : b;
    const other = leader === a ? b : a;
    // A write in flight at the kill, as when a CI run saw web-7 stay `new` on vm-c: the leader is
    // SIGKILLed as soon as its watch has sent a change of it. Everything a watcher was sent must be the
    // next leader's at those revisions, or a watcher that resumes after the last one it saw (every
    // agent does) skips the next leader's changes there for good.
    const sent = new Map<number, string>();
    const watching = new AbortController();
    const from = (await client(leader).listServicesAt('default')).revision + 1;
    const watched = collectChanges(client(leader), from, sent, watching.signal);
    void client(leader).scale('default', 'pinned', 3).catch(() => undefined);
    await waitFor('the leader\'s watch sent a change of the write', () => sent.size > 0, { timeoutMs: 10_000, intervalMs: 1 });
    const killedAt = Date.now();
    await stopProc(leader.proc, 'SIGKILL');
    watching.abort();
    await watched;
    let failures = 0;
    let requests = 0;
    let leadsAt = 0;
    while (leadsAt === 0 && Date.now() - killedAt < (LEASE_S + 10) * 1000) {
      requests++;
      if (getIn(ns('vm-b'), vip, 8080).startsWith('ERR')) failures++;
      if ((await roleOf(other.url, fetchFn())) === 'leader') leadsAt = Date.now();
      else await new Promise((r) => setTimeout(r, 100));
    }
    t.diagnostic(`the other server leads ${leadsAt - killedAt} ms after the kill (lease ${LEASE_S} s); ${failures} of ${requests} VIP requests failed meanwhile`);
    assert.ok(leadsAt > 0 && leadsAt - killedAt <= (LEASE_S + 2) * 1000, `took over within the lease (${leadsAt - killedAt} ms)`);
    assert.equal(failures, 0, 'the data plane does not depend on the control plane');
    const c = client(other);
    await c.scale('default', 'web', 7);
    const last = Math.max(...sent.keys());
    const held = new Map<number, string>();
    const reading = new AbortController();
    const read = collectChanges(c, Math.min(...sent.keys()), held, reading.signal);
    await waitFor(`the next leader's history reaches revision ${last}`, () => [...held.keys()].some((r) => r >= last), { timeoutMs: 10_000 }).catch(() => undefined);
    reading.abort();
    await read;
    const differ = [...sent.keys()].filter((r) => held.get(r) !== sent.get(r)).map((r) => `${r}: sent ${String(sent.get(r)).slice(0, 100)}; the next leader's: ${String(held.get(r)).slice(0, 100)}`);
    assert.deepEqual(differ, [], 'a watcher of the dead leader was sent only changes the next leader holds at the same revisions');
    try {
      await waitFor('7 running under the new leader', async () => (await c.listInstances('default', 'web', { active: true })).filter((i) => i.status.state === 'running').length === 7, { timeoutMs: 30_000 });
    } catch (error) {
      const list = await c.listInstances('default', 'web', { active: true });
      t.diagnostic(JSON.stringify(list.map((i) => [i.id, i.node, i.desiredState, i.status.state, i.status.message])));
      // The agent of a node whose instance did not run says most (a CI run once saw one stay `new`).
      const stuck = new Set(list.filter((i) => i.status.state !== 'running').map((i) => i.node));
      for (const a of agents) t.diagnostic(`${a.name}: ${a.stderr.slice(stuck.has(a.name) ? -8000 : -1500)}`);
      t.diagnostic(`new leader: ${other.stderr.slice(-1500)}`);
      throw error;
    }
  });
});
