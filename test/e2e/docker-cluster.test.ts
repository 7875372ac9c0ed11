import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BerthClient } from '../../src/client/index.js';
import type { EtcdCluster } from '../etcd-harness.js';
import { startEtcd } from '../etcd-harness.js';
import type { RunningAgent } from './agent-harness.js';
import { freePortAt, killAgent, spawnAgent } from './agent-harness.js';
import type { ControlPlaneServer } from './control-plane-harness.js';
import { roleOf, spawnControlPlane, tearDownCluster, untilLeads } from './control-plane-harness.js';
import type { DockerCliResult } from './docker-cli.js';
import { DOCKER_CLI, dockerCliWith } from './docker-cli.js';
import { BIN, tempDir, waitFor } from './harness.js';

/*
 * The Docker API face on several servers (docs/docker-api.md, "Several servers"): one etcd, two
 * `berth server --store etcd://…` (each with its face on `<data>/docker.sock`), two agents on loopback
 * addresses of their own. The real docker 28 CLI creates and updates services through the follower's
 * face (the leader makes the writes), both faces list the same services and tasks, `docker node ls`
 * lists the agents, `docker service logs` reads the instances' lines at the agents' telemetry listeners,
 * and with an agent SIGKILLed the logs name the node whose lines are missing.
 */

const INSTANCE_RANGE = '127.11.45.0/24';
const ADDRESSES = { 'vm-a': '127.11.44.2', 'vm-b': '127.11.44.3' } as const;

type Server = ControlPlaneServer;

/** A program that says hello once, then ticks every second, each line naming its slot. */
const talker = {
  name: 'talk',
  replicas: 2,
  containers: [{ command: ['sh', '-c', 'echo "hello from slot $BERTH_SLOT"; n=0; while sleep 1; do n=$((n+1)); echo "tick $n of slot $BERTH_SLOT"; done'], stopGracePeriod: '1s' }],
};

describe('the Docker API face on every server of an etcd cluster (docker CLI)', { timeout: 300_000 }, () => {
  let etcd: EtcdCluster;
  const servers: Server[] = [];
  const agents: RunningAgent[] = [];
  const dirs: string[] = [];
  const ports: Record<string, number> = {};
  let token = '';
  const client = (s: Server): BerthClient => new BerthClient({ baseUrl: s.url, token });
  const hostOf = (s: Server): string => `unix://${join(s.dataDir, 'docker.sock')}`;
  const docker = (s: Server, ...args: string[]): Promise<DockerCliResult> => dockerCliWith({ host: hostOf(s), timeoutMs: 60_000 }, ...args);
  const ok = async (s: Server, ...args: string[]): Promise<string> => {
    const r = await docker(s, ...args);
    assert.equal(r.code, 0, `docker ${args.join(' ')} on server ${s.name} → exit ${r.code}\n${r.stderr}\n${r.stdout}`);
    return r.stdout;
  };
  const leaderAndFollower = (): [Server, Server] => servers as [Server, Server];

  before(async () => {
    etcd = await startEtcd({ members: 1, portBase: 23980 });
    for (const name of ['a', 'b']) {
      const dir = tempDir('berth-dc-');
      dirs.push(dir);
      servers.push(await spawnControlPlane(name, dir, etcd, { instanceRange: INSTANCE_RANGE, leaseSeconds: 3, nodeGrace: '4s' }));
      if (name === 'a') await untilLeads(servers[0] as Server);
    }
    token = readFileSync(join(dirs[0] as string, 'admin.token'), 'utf8').trim();
    // The agents join in a test of their own, once the image service is made (see there).
  });

  after(() => tearDownCluster({ servers, agents, etcd, dirs, client: (s) => (token ? client(s) : undefined) }));

  it('each server prints its face, and GET /v1/version reports it with every server of the cluster', async () => {
    const [a, b] = leaderAndFollower();
    assert.equal(await roleOf(a.url), 'leader');
    assert.equal(await roleOf(b.url), 'follower');
    for (const s of servers) {
      assert.match(s.stderr, new RegExp(`Docker API: DOCKER_HOST=${hostOf(s).replace(/[.]/g, '\\.')}\\n`));
      assert.deepEqual((await client(s).version()).dockerApi, [hostOf(s)]);
    }
    // Both servers registered in etcd, listed alike on both, the leader marked.
    const lists = async () => Promise.all(servers.map(async (s) => (await client(s).version()).controlPlane?.servers ?? []));
    // A server registers in the background once it listens: the second may take a moment.
    const listed = await waitFor('both servers registered, seen by both', async () => {
      const l = await lists();
      return l.every((x) => x.length === 2) ? l : undefined;
    });
    const expected = [
      { url: a.url, leader: true },
      { url: b.url, leader: false },
    ].sort((x, y) => (x.url < y.url ? -1 : 1));
    for (const l of listed) assert.deepEqual(l.map((x) => ({ url: x.url, leader: x.leader })).sort((x, y) => (x.url < y.url ? -1 : 1)), expected);
    assert.deepEqual(listed[0], listed[1]);
    // berth version on the follower says so too.
    const version = spawnSync(process.execPath, [BIN, '--host', b.url, 'version'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', BERTH_TOKEN: token }, timeout: 30_000 });
    assert.equal(version.status, 0, version.stderr);
    assert.match(version.stdout, new RegExp(`one of several servers on etcd, follower \\(the leader is ${a.url.replace(/[.]/g, '\\.')}\\)\\n`));
    assert.match(version.stdout, /\nservers \(2\):\n/);
    assert.equal((version.stdout.match(/^ {2}server [0-9a-f]{8} at /gm) ?? []).length, 2, version.stdout);
    assert.equal((version.stdout.match(/ \(leader\)$/gm) ?? []).length, 1, version.stdout);
    // Swarm's managers are the servers: docker info on either counts both, with their addresses.
    for (const s of servers) {
      const out = (await ok(s, 'info', '--format', '{{.Swarm.Managers}} {{range .Swarm.RemoteManagers}}{{.Addr}} {{end}}')).trim();
      assert.equal(out.split(' ')[0], '2', out);
      assert.equal(out.split(' ').length, 3, out);
    }
  });

  it('docker node inspect self on either server shows that server as Swarm shows a manager (drained: it runs no tasks), the leader marked; the other manager by its id too', async () => {
    const [a] = leaderAndFollower();
    // Both servers registered (in the background, once each listens): docker info counts two managers.
    for (const s of servers) await waitFor(`server ${s.name} sees both managers`, async () => (await docker(s, 'info', '--format', '{{.Swarm.Managers}}')).stdout.trim() === '2');
    const FORMAT = '{{.ID}} {{.Description.Hostname}}|{{.Spec.Role}} {{.Spec.Availability}} {{.Status.State}} {{.Status.Addr}} {{.ManagerStatus.Leader}} {{.ManagerStatus.Reachability}} {{.ManagerStatus.Addr}}';
    const selves: string[] = [];
    for (const s of servers) {
      const self = (await ok(s, 'node', 'inspect', 'self', '--format', FORMAT)).trim();
      const nodeId = (await ok(s, 'info', '--format', '{{.Swarm.NodeID}}')).trim();
      const leads = s === a;
      assert.match(self, new RegExp(`^${nodeId} control-plane [0-9a-f]{8}\\|manager drain ready 127\\.0\\.0\\.1 ${leads} reachable 127\\.0\\.0\\.1:2377$`), `server ${s.name}: ${self}`);
      // berth version names the same server: `control-plane` and its id's first 8 characters.
      const id = (await client(s).version()).controlPlane?.servers.find((x) => x.url === s.url)?.id ?? '';
      assert.equal(self.split('|')[0], `${nodeId} control-plane ${id.slice(0, 8)}`);
      selves.push(self);
    }
    // Each server shows the other manager alike, by the id docker info lists it under.
    const [first, second] = servers as [Server, Server];
    const otherId = (selves[1] as string).split(' ')[0] as string;
    assert.equal((await ok(first, 'node', 'inspect', otherId, '--format', FORMAT)).trim(), selves[1]);
    // The servers are no nodes that run tasks: node ls lists none of them (before any agent joined: none).
    assert.equal((await ok(second, 'node', 'ls', '-q')).trim(), '');
    const unknown = await docker(first, 'node', 'inspect', 'nosuchnode');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /node nosuchnode not found/);
  });

  it('docker service create through the follower: the leader makes it, and both faces list it', async () => {
    const [a, b] = leaderAndFollower();
    // An image service, made before any node joined (berth refuses to deploy images when every node it
    // knows lacks the docker driver, and these agents have no engine): it waits for a node that has one.
    const id = (await ok(b, 'service', 'create', '--detach', '--no-resolve-image', '--name', 'img', '--replicas', '1', 'busybox:latest', 'sleep', '600')).trim();
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.equal((await client(a).getService('default', 'img'))?.id, id, 'the leader holds it');
    const row = (s: Server): Promise<string> => ok(s, 'service', 'ls', '--filter', 'name=img', '--format', '{{.ID}} {{.Name}} {{.Mode}} {{.Image}}');
    assert.equal((await row(b)).trim(), `${id.slice(0, 12)} img replicated busybox:latest`, 'read your write on the follower');
    assert.equal(await row(a), await row(b));
  });

  it('two agents join (either server); docker node ls on either server lists them, Ready and Active', async () => {
    const joinToken = (await client(servers[1] as Server).createToken({ role: 'node', name: 'join' })).token;
    const both = { url: servers.map((s) => s.url).join(','), fingerprint: undefined };
    for (const [name, address] of Object.entries(ADDRESSES)) {
      const dir = tempDir('berth-dc-agent-');
      dirs.push(dir);
      ports[name] = await freePortAt(address);
      agents.push(await spawnAgent(both, name, joinToken, dir, { address, args: ['--telemetry-port', String(ports[name])] }));
    }
    await waitFor('both agents ready', async () => (await client(servers[0] as Server).nodes()).filter((n) => n.ready).length === 2, { timeoutMs: 15_000 });
    const outputs: string[] = [];
    for (const s of servers) {
      const out = await ok(s, 'node', 'ls', '--format', '{{.Hostname}} {{.Status}} {{.Availability}} {{.ManagerStatus}}');
      // Workers: the servers are no nodes of their own (they run no instances), so no MANAGER STATUS.
      assert.deepEqual(out.trim().split('\n').map((l) => l.trimEnd()).sort(), ['vm-a Ready Active', 'vm-b Ready Active'], `server ${s.name}:\n${out}`);
      outputs.push(out);
    }
    assert.equal(outputs[0], outputs[1]);
    // docker info: an active swarm whose manager the CLI may drive, with the cluster's two nodes.
    for (const s of servers) assert.equal((await ok(s, 'info', '--format', '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}} {{.Swarm.Nodes}}')).trim(), 'active true 2');
  });

  it('docker service update through the follower rolls out a process service; service ls and ps agree on both servers', async () => {
    const [a, b] = leaderAndFollower();
    await client(b).createService('default', talker, { deploy: true });
    let states = '';
    await waitFor('2 running instances of talk', async () => {
      const list = await client(a).listInstances('default', 'talk', { active: true });
      states = list.map((i) => `${i.id}@${i.node}: ${i.status.state} ${i.status.message ?? ''}`).join('; ');
      return list.filter((i) => i.status.state === 'running').length === 2;
    }, { timeoutMs: 30_000 }).catch(async (e: unknown) => assert.fail(`${String(e)}: ${states}; ${JSON.stringify(await client(a).getService('default', 'talk'))}\n${servers.map((x) => x.stderr).join('\n')}`));
    const before = (await client(a).getService('default', 'talk'))?.deployment?.generation ?? 0;
    // The CLI waits for convergence, reading the follower's replica as it goes.
    const out = await ok(b, 'service', 'update', '--env-add', 'GREETING=hi', 'talk');
    assert.match(out, /verify: Service \S+ converged/);
    const service = await client(a).getService('default', 'talk');
    assert.deepEqual(service?.spec.containers[0]?.env?.find((e) => e.name === 'GREETING'), { name: 'GREETING', value: 'hi' });
    assert.ok((service?.deployment?.generation ?? 0) > before, 'a new generation was rolled out');

    const ls = (s: Server): Promise<string> => ok(s, 'service', 'ls', '--format', '{{.Name}} {{.Mode}} {{.Replicas}}');
    const listed = await waitFor('talk 2/2 on both servers', async () => {
      const [la, lb] = [await ls(a), await ls(b)];
      return la === lb && /^talk replicated 2\/2$/m.test(la) ? la : undefined;
    }, { timeoutMs: 15_000 });
    assert.match(listed, /^img replicated 0\/1$/m);
    const ps = (s: Server): Promise<string> => ok(s, 'service', 'ps', '--filter', 'desired-state=running', '--format', '{{.ID}} {{.Name}} {{.Node}} {{.DesiredState}}', 'talk');
    const tasks = await waitFor('the same running tasks on both servers', async () => {
      const [pa, pb] = [await ps(a), await ps(b)];
      return pa === pb && pa.trim().split('\n').length === 2 ? pa : undefined;
    }, { timeoutMs: 15_000 });
    const rows = tasks.trim().split('\n').map((l) => l.split(' '));
    assert.deepEqual(rows.map((r) => r[1]).sort(), ['talk.1', 'talk.2'], tasks);
    assert.deepEqual(rows.map((r) => r[2]).sort(), ['vm-a', 'vm-b'], 'one task on each agent');
    assert.deepEqual(rows.map((r) => r[3]), ['Running', 'Running']);
  });

  it('docker service logs on either server shows the lines of the instances on both agents', async () => {
    const running = (await client(servers[0] as Server).listInstances('default', 'talk', { active: true })).filter((i) => i.status.state === 'running');
    assert.equal(running.length, 2);
    for (const s of servers) {
      const out = await waitFor(`both hellos through server ${s.name}`, async () => {
        const r = await docker(s, 'service', 'logs', 'talk');
        return r.code === 0 && running.every((i) => new RegExp(`^talk\\.${i.slot}\\.\\w+@${i.node} +\\| hello from slot ${i.slot}$`, 'm').test(r.stdout)) ? r : undefined;
      }, { timeoutMs: 15_000 });
      assert.equal(out.stderr, '', `no node is missing (server ${s.name})`);
    }
  });

  it('with an agent SIGKILLed, docker service logs shows the other node\'s lines and names the node that did not answer', async () => {
    const [a, b] = leaderAndFollower();
    const vmB = agents.find((x) => x.name === 'vm-b') as RunningAgent;
    const onA = (await client(a).listInstances('default', 'talk', { active: true })).find((i) => i.node === 'vm-a' && i.status.state === 'running');
    assert.ok(onA, 'an instance on vm-a');
    await killAgent(vmB, 'SIGKILL');
    const refused = new RegExp(`node vm-b is not available \\(connect ECONNREFUSED 127\\.11\\.44\\.3:${ports['vm-b']}\\)`);
    for (const s of [b, a]) {
      const r = await docker(s, 'service', 'logs', 'talk');
      assert.match(r.stdout, new RegExp(`^talk\\.${onA.slot}\\.\\w+@vm-a +\\| hello from slot ${onA.slot}$`, 'm'), `vm-a's lines through server ${s.name}`);
      // As Swarm ends a stream some nodes did not send: the CLI prints the daemon's error and exits 1.
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /error from daemon in stream: Error grabbing logs: warning: incomplete log stream\. some logs could not be retrieved for the following reasons: /);
      assert.match(r.stderr, refused);
    }

    // Following: a stderr line of vm-b's task names the node, and vm-a's lines keep coming.
    const config = mkdtempSync(join(tmpdir(), 'berth-docker-config-'));
    writeFileSync(join(config, 'config.json'), '{}');
    const proc = spawn(DOCKER_CLI, ['service', 'logs', '--follow', '--tail', '0', 'talk'], { env: { ...process.env, DOCKER_HOST: hostOf(b), DOCKER_CONFIG: config, DOCKER_CLI_HINTS: 'false' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    proc.stderr?.on('data', (c: Buffer) => (err += c.toString()));
    try {
      // The CLI shows it as a line of vm-b's task, on stderr.
      await waitFor('the notice of vm-b on stderr', () => /^talk\.\d\.\w+@vm-b +\| berth: node vm-b did not answer \(connect ECONNREFUSED 127\.11\.44\.3:\d+\): lines of its instances are missing until it answers again$/m.test(err), { timeoutMs: 15_000 });
      await waitFor("vm-a's ticks while following", () => new RegExp(`^talk\\.${onA.slot}\\.\\w+@vm-a +\\| tick \\d+ of slot ${onA.slot}$`, 'm').test(out), { timeoutMs: 15_000 });
      assert.equal(proc.exitCode, null, `the CLI still follows:\n${err}`);
    } finally {
      proc.kill('SIGINT');
      rmSync(config, { recursive: true, force: true });
    }

    // vm-b comes back (its saved credential): it stops its instance replaced meanwhile, and its lines are read again.
    const again = await spawnAgent({ url: servers.map((s) => s.url).join(','), fingerprint: undefined }, 'vm-b', undefined, vmB.dataDir, { address: ADDRESSES['vm-b'], args: ['--telemetry-port', String(ports['vm-b'])] });
    agents[agents.indexOf(vmB)] = again;
    await waitFor('vm-b ready again', async () => (await client(a).nodes()).find((n) => n.name === 'vm-b')?.ready === true, { timeoutMs: 15_000 });
    await waitFor('docker service logs without a missing node', async () => {
      const r = await docker(b, 'service', 'logs', 'talk');
      return r.code === 0 && r.stderr === '';
    }, { timeoutMs: 15_000 });
  });

  it('docker service rm through the follower removes it on both servers', async () => {
    const [a, b] = leaderAndFollower();
    assert.equal((await ok(b, 'service', 'rm', 'img')).trim(), 'img');
    for (const s of [b, a]) {
      await waitFor(`img gone on server ${s.name}`, async () => !/\bimg\b/.test(await ok(s, 'service', 'ls', '--format', '{{.Name}}')), { timeoutMs: 15_000 });
    }
  });
});
