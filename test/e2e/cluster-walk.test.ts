import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { RunningBerth } from './harness.js';
import type { RunningAgent } from './agent-harness.js';
import { freePortAt, killAgent, spawnAgent, tearDownAgents } from './agent-harness.js';
import { BIN, RANGES_DIR, alive, startBerth, tempDir, waitFor } from './harness.js';
import { ECHO, askOnce, pidOf } from './programs.js';
import { ROOT } from './harness.js';

/** Where the DNS servers forward other names: the discard port, where nothing in these tests listens (no query leaves the machine). */
const NO_UPSTREAM = '127.0.0.1:9';

/*
 * What a new user met walking through several machines on one machine (docs/nodes.md): a server and
 * an agent of "another machine" on addresses of their own (127.11.107.x), the server's proxy holding
 * the virtual IPs (`--proxy off` on the agent, as docs/nodes.md says beside an all-in-one server).
 */

const SERVER_NODE_ADDRESS = '127.11.107.21';
const AGENT_ADDRESS = '127.11.107.22';

describe('several machines as a new user walks them (server + agent on loopback)', () => {
  let berth: RunningBerth;
  let joinToken: string;
  const agents: RunningAgent[] = [];
  const dirs: string[] = [];
  let telemetryPort = '';

  before(async () => {
    berth = await startBerth({
      instanceRange: '127.11.107.128/27',
      env: { BERTH_SERVICE_RANGE: '127.11.107.224/28', BERTH_NODE_PORT_RANGE: '32760-32767', BERTH_DNS_UPSTREAMS: NO_UPSTREAM },
      args: ['--node-grace', '2s', '--node-address', SERVER_NODE_ADDRESS],
    });
    joinToken = (await berth.client.createToken({ role: 'node', name: 'join' })).token;
    // Chosen free once (the restarted agent keeps it), not fixed: a fixed port in the ephemeral range
    // (32768–60999) can be any connection's at that moment (EADDRINUSE in CI).
    telemetryPort = String(await freePortAt(AGENT_ADDRESS));
    const dir = tempDir('berth-walk-agent-');
    dirs.push(dir);
    agents.push(await spawnAgent(berth, 'walk-n2', joinToken, dir, { address: AGENT_ADDRESS, args: ['--telemetry-port', telemetryPort], env: { BERTH_DNS_UPSTREAMS: NO_UPSTREAM } }));
  });

  after(() => tearDownAgents(berth, agents, dirs));

  it('balances a virtual IP over the instances of both nodes when the service names its target port only in --port (no container port)', async () => {
    // As README's `--port http:80:8080`: the containers declare no port. Before the fix, the agent's
    // instance was published at no port of its node: the VIP went to the server's own instance only.
    const svc = await berth.client.createService(
      'default',
      {
        name: 'walkweb',
        replicas: 2,
        containers: [{ command: ['node', ECHO], env: [{ name: 'PORT', value: '8080' }], workingDir: ROOT, stopGracePeriod: '2s' }],
        ports: [{ name: 'http', port: 80, targetPort: 8080 }],
      },
      { deploy: true },
    );
    const instances = await waitFor('one ready instance per node', async () => {
      const list = (await berth.client.listInstances('default', 'walkweb')).filter((i) => i.status.state === 'running');
      return list.length === 2 && new Set(list.map((i) => i.node)).size === 2 ? list : undefined;
    }, { timeoutMs: 30_000 });
    const remote = instances.find((i) => i.node === 'walk-n2');
    assert.ok(remote, 'one instance runs on the agent');
    assert.deepEqual(remote.spec.hostPorts?.map((p) => `${p.containerPort}/${p.protocol}`), ['8080/TCP'], 'the target port is published on its node');
    const vip = svc.spec.clusterIP as string;
    await waitFor('both instances answer through the virtual IP', async () => {
      const answered = new Set<string>();
      for (let k = 0; k < 8; k++) {
        const body = await askOnce(vip, 80);
        if (body) answered.add(body);
      }
      return answered.size === 2 ? true : undefined;
    }, { timeoutMs: 15_000, intervalMs: 200 });
    const endpoints = await berth.client.endpoints('default', 'walkweb');
    assert.ok(endpoints.endpoints.every((e) => Object.keys(e.ports).length === 1), `every endpoint has a port: ${JSON.stringify(endpoints.endpoints)}`);
  });

  it('removes a service whose instance was on a node removed with --force; the agent, without a join token, says its node was removed; with one, it joins and stops the forgotten instance', async () => {
    const agent = agents[0] as RunningAgent;
    const remote = (await berth.client.listInstances('default', 'walkweb')).find((i) => i.node === 'walk-n2' && i.status.state === 'running');
    assert.ok(remote, 'an instance runs on the agent');
    const pid = pidOf(remote);
    await killAgent(agent, 'SIGTERM'); // its instances keep running
    await berth.client.removeNode('walk-n2', { force: true });
    await berth.client.removeService('default', 'walkweb');
    // Before the fix the service stayed `removing` for ever: its instance on the removed node was never deleted.
    await waitFor('walkweb removed', async () => (await berth.client.listServices('default')).length === 0 || undefined, { timeoutMs: 20_000 });
    assert.ok(alive(pid), 'the instance on the removed node still runs: nobody could stop it');

    const again = spawn(process.execPath, [BIN, 'agent', '--join', berth.url, '--name', 'walk-n2', '--data-dir', agent.dataDir, '--address', AGENT_ADDRESS, '--proxy', 'off', '--dns', 'off', '--telemetry-port', telemetryPort], {
      env: { ...process.env, BERTH_RANGES_DIR: RANGES_DIR, NO_COLOR: '1', BERTH_JOIN_TOKEN: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    again.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => again.once('exit', (c) => resolve(c)));
    assert.equal(code, 1, stderr);
    assert.match(stderr, /node "walk-n2" is no longer a node of .*: its credential in .*agent\.json is refused \(401: the node was removed, `berth node rm`\); give a join token to join again/);
    assert.doesNotMatch(stderr, /has no credential/);

    // Given a join token, it joins again and stops what it ran for the forgotten service.
    agents.push(await spawnAgent(berth, 'walk-n2', joinToken, agent.dataDir, { address: AGENT_ADDRESS, args: ['--telemetry-port', telemetryPort], env: { BERTH_DNS_UPSTREAMS: NO_UPSTREAM } }));
    await waitFor('the forgotten instance stopped', () => !alive(pid) || undefined, { timeoutMs: 20_000 });
  });

  it('an agent whose join token is refused says it is the join token, and how to make one', async () => {
    const dir = tempDir('berth-walk-agent-');
    dirs.push(dir);
    const proc = spawn(process.execPath, [BIN, 'agent', '--join', berth.url, '--token', 'not-a-token', '--name', 'walk-n3', '--data-dir', dir, '--address', '127.11.107.23', '--proxy', 'off', '--dns', 'off', '--telemetry-port', '0'], {
      env: { ...process.env, BERTH_RANGES_DIR: RANGES_DIR, NO_COLOR: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    proc.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => proc.once('exit', (c) => resolve(c)));
    assert.equal(code, 1, stderr);
    assert.ok(stderr.includes(`the join token (--token or BERTH_JOIN_TOKEN) is refused by ${berth.url}: `), stderr);
    assert.match(stderr, /is refused by \S+: .+; make one with `berth node join-token` on a server/);
  });
});
