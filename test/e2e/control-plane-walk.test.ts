import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BerthClient, isApiError } from '../../src/client/index.js';
import type { EtcdCluster } from '../etcd-harness.js';
import { startEtcd } from '../etcd-harness.js';
import type { RunningAgent } from './agent-harness.js';
import { spawnAgent } from './agent-harness.js';
import { BIN, tempDir, waitFor } from './harness.js';
import type { ControlPlaneServer } from './control-plane-harness.js';
import { berth, spawnControlPlane, tearDownCluster, untilLeads } from './control-plane-harness.js';
import { askOnce, echoSpec } from './programs.js';

/*
 * Several machines as a new user meets them on one machine: one etcd member, two `berth server --store
 * etcd://…`, two agents on addresses of their own, of which only the first runs the proxy of the virtual
 * IPs (`--proxy off` on the second, as docs/nodes.md tells one machine to do). What the CLI says about
 * the servers, the endpoints they show, where DNS is asked, and traffic through the virtual IP to the
 * instance of the agent whose proxy is off.
 */

const INSTANCE_RANGE = '127.11.96.0/24';
const ADDRESS_A = '127.11.97.1';
const ADDRESS_B = '127.11.97.2';


void describe('several servers on etcd, as the docs tell a new user to run them on one machine', () => {
  let etcd: EtcdCluster | undefined;
  const servers: ControlPlaneServer[] = [];
  const agents: RunningAgent[] = [];
  const dirs: string[] = [];
  let token = '';
  const client = (s: ControlPlaneServer): BerthClient => new BerthClient({ baseUrl: s.url, token });

  before(async () => {
    etcd = await startEtcd({ members: 1, portBase: 24110 });
    for (const name of ['a', 'b']) {
      const dir = tempDir('berth-walk-');
      dirs.push(dir);
      servers.push(await spawnControlPlane(name, dir, etcd, { instanceRange: INSTANCE_RANGE, leaseSeconds: 3, nodeGrace: '4s' }));
      if (name === 'a') await untilLeads(servers[0] as ControlPlaneServer);
    }
    token = readFileSync(join(dirs[0] as string, 'admin.token'), 'utf8').trim();
    const joinToken = (await client(servers[0] as ControlPlaneServer).createToken({ role: 'node', name: 'join' })).token;
    const both = { url: servers.map((s) => s.url).join(','), fingerprint: undefined };
    for (const [name, address, args] of [['walk-a', ADDRESS_A, ['--proxy', 'on']], ['walk-b', ADDRESS_B, []]] as const) {
      const dir = tempDir('berth-walk-agent-');
      dirs.push(dir);
      agents.push(await spawnAgent(both, name, joinToken, dir, { address, args }));
    }
  });

  after(() => tearDownCluster({ servers, agents, etcd, dirs, client: (s) => (token ? client(s) : undefined) }));

  it("a follower says it follows and who leads, at start and in `berth version`, instead of naming a node it does not run", async () => {
    const [a, b] = servers as [ControlPlaneServer, ControlPlaneServer];
    assert.match(b.stderr, new RegExp(`berth server: this server follows; the leader is ${a.url.replace(/\./g, '\\.')}`));
    const follower = await berth(b.url, token, ['version']);
    assert.equal(follower.code, 0, follower.stderr);
    assert.match(follower.stdout, new RegExp(`one of several servers on etcd, follower \\(the leader is ${a.url.replace(/\./g, '\\.')}\\)`));
    assert.doesNotMatch(follower.stdout, /node control-plane/);
    const leader = await berth(a.url, token, ['version']);
    assert.match(leader.stdout, /one of several servers on etcd, leader \(this server leads\)/);
    // The join command names the server asked, then the leader and every other server, so an agent has others to move to.
    const join = await berth(b.url, token, ['node', 'join-token']);
    assert.equal(join.code, 0, join.stderr);
    assert.ok(join.stdout.includes(`berth agent --join ${b.url},${a.url} --token berth_`), join.stdout);
  });

  it("the servers show the cluster's endpoints (each instance at its node's address and published port), and the virtual IP reaches the instance of the agent whose proxy is off", async () => {
    const [a, b] = servers as [ControlPlaneServer, ControlPlaneServer];
    await client(b).createService('default', { ...echoSpec('walk', 2), placement: { maxReplicasPerNode: 1 } }, { deploy: true });
    const running = await waitFor('one running instance on each agent', async () => {
      const list = (await client(a).listInstances('default', 'walk', { active: true })).filter((i) => i.status.state === 'running');
      return list.length === 2 && new Set(list.map((i) => i.node)).size === 2 ? list : undefined;
    }, { timeoutMs: 30_000 });
    const expected = running
      .map((i) => `${i.node === 'walk-a' ? ADDRESS_A : ADDRESS_B}:${i.spec.hostPorts?.[0]?.hostPort}`)
      .sort();
    for (const s of [a, b]) {
      const shown = await waitFor(`both endpoints on server ${s.name}`, async () => {
        const e = await client(s).endpoints('default', 'walk');
        const ready = e.endpoints.filter((x) => x.ready).map((x) => `${x.ip}:${Object.values(x.ports)[0]}`).sort();
        return ready.length === 2 ? ready : undefined;
      }, { timeoutMs: 10_000 });
      assert.deepEqual(shown, expected, `server ${s.name}'s endpoints`);
    }
    const ls = await berth(b.url, token, ['endpoints', 'ls', 'walk']);
    assert.equal(ls.code, 0, ls.stderr);
    for (const e of expected) assert.ok(ls.stdout.includes(e), `endpoints ls lists ${e}:\n${ls.stdout}`);

    // Walk-a's proxy holds the virtual IP; walk-b's instance is reached through walk-b's forward of
    // its published port, which runs although walk-b's proxy is off.
    const vip = (await client(a).getService('default', 'walk')).spec.clusterIP as string;
    const onB = running.find((i) => i.node === 'walk-b');
    assert.ok(onB);
    const answered = new Set<string>();
    await waitFor(`the virtual IP ${vip} answered by walk-b's instance ${onB.id} too`, async () => {
      for (let n = 0; n < 10; n++) {
        const body = await askOnce(vip, 8080);
        if (body) answered.add(body);
      }
      if (answered.has(onB.id) && answered.size === 2) return true;
      throw new Error(`answered by ${[...answered].join(', ') || 'none'}`);
    }, { timeoutMs: 15_000, intervalMs: 200 });
    assert.equal(await askOnce(ADDRESS_B, onB.spec.hostPorts?.[0]?.hostPort ?? 0), onB.id, "walk-b's published port forwards to its instance");
  });

  it('a grid operator cannot ask the agents for root, a host path or a directory outside the allowed roots (403, as from berth server); a cluster admin can', async () => {
    const [a, b] = servers as [ControlPlaneServer, ControlPlaneServer];
    const operator = (await client(a).createToken({ role: 'operator', grid: 'default', name: 'op' })).token;
    const asOperator = new BerthClient({ baseUrl: b.url, token: operator });
    const spec = { name: 'rooted', containers: [{ command: ['sleep', '1000'], user: 'root', workingDir: '/etc' }] };
    await assert.rejects(asOperator.createService('default', spec), (e: unknown) => {
      assert.ok(isApiError(e, 'FORBIDDEN'), String(e));
      assert.match(e.message, /spec\.containers\[0\]\.user: "root" runs as root.*spec\.containers\[0\]\.workingDir: "\/etc" is outside.*cluster-admin/);
      return true;
    });
    await asOperator.createService('default', { name: 'plain', containers: [{ command: ['sleep', '1000'] }] });
    await client(b).createService('default', spec);
    for (const name of ['plain', 'rooted']) await client(b).removeService('default', name);
  });

  it('`berth server --store etcd://… --dns …` refuses the flags of a node instead of ignoring them', async () => {
    const dir = tempDir('berth-walk-');
    dirs.push(dir);
    const store = `etcd://${(etcd as EtcdCluster).endpoints.map((e) => e.replace(/^http:\/\//, '')).join(',')}`;
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const proc = spawn(process.execPath, [BIN, 'server', '--data-dir', dir, '--listen', '127.0.0.1:0', '--store', store, '--dns', '127.0.0.1:0', '--node-label', 'zone=a'], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      proc.once('exit', (code) => resolve({ code, stderr }));
    });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /--dns, --node-label: a server on etcd runs no node .*berth agent --dns, --label, --address/);
    assert.doesNotMatch(r.stderr, /listening on/);
  });

  it('`berth dns lookup` on a server names the agents as the DNS servers; with an agent\'s --dns it answers the virtual IP', async () => {
    const [, b] = servers as [ControlPlaneServer, ControlPlaneServer];
    const refused = await berth(b.url, token, ['dns', 'lookup', 'walk']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /one of several servers on etcd and runs no DNS server: every node's agent runs one/);
    assert.doesNotMatch(refused.stderr, /berth server --dns/);
    const dns = (agents[0] as RunningAgent).dns;
    assert.ok(dns);
    const vip = (await client(b).getService('default', 'walk')).spec.clusterIP as string;
    const answered = await berth(b.url, token, ['dns', 'lookup', 'walk', '--dns', `${dns.host}:${dns.port}`]);
    assert.equal(answered.code, 0, answered.stderr);
    assert.match(answered.stdout, new RegExp(`^walk\\.default\\.berth\\.local\\.\\s+\\d+\\s+IN\\s+A\\s+${vip.replace(/\./g, '\\.')}$`, 'm'));
  });
});
