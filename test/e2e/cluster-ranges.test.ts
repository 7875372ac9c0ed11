import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BerthClient } from '../../src/client/index.js';
import type { EtcdCluster } from '../etcd-harness.js';
import { startEtcd } from '../etcd-harness.js';
import type { RunningAgent } from './agent-harness.js';
import { killAgent, spawnAgent } from './agent-harness.js';
import type { ControlPlaneServer } from './control-plane-harness.js';
import { spawnControlPlane, tearDownCluster, untilLeads } from './control-plane-harness.js';
import { BIN, RANGES_DIR, tempDir, waitFor } from './harness.js';

/*
 * A cluster's address ranges on a machine's range registry (BERTH_RANGES_DIR, docs/networking.md):
 * the server on etcd opens nothing of them there and claims nothing; the agent, whose instances and
 * proxy use them, claims them under the cluster's id; a single-machine `berth server` asked to use
 * them beside it is refused, naming the agent's data directory.
 */

const INSTANCE_RANGE = '127.11.85.0/24';
const SERVICE_RANGE = '127.11.87.0/24';
const NODE_PORTS = '32700-32719';
const RANGES = { BERTH_INSTANCE_RANGE: INSTANCE_RANGE, BERTH_SERVICE_RANGE: SERVICE_RANGE, BERTH_NODE_PORT_RANGE: NODE_PORTS };

interface Claim {
  readonly dataDir: string;
  readonly cluster?: string;
  readonly ranges: { instanceRange: string; serviceRange: string; nodePortRange: [number, number] };
}

const claims = (): Claim[] =>
  readdirSync(RANGES_DIR)
    .filter((f) => f.endsWith('.json'))
    .flatMap((f) => {
      try {
        return [JSON.parse(readFileSync(join(RANGES_DIR, f), 'utf8')) as Claim];
      } catch {
        return []; // another test's claim being written
      }
    });

/** A single-machine `berth server` (no etcd) asked for half of the cluster's instance range, its stderr piped. */
function spawnLoneServer(dataDir: string) {
  return spawn(process.execPath, [BIN, 'server', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--dns', '127.0.0.1:0', '--docker-api', 'off'], {
    env: { ...process.env, BERTH_RANGES_DIR: RANGES_DIR, BERTH_DOCKER: 'off', BERTH_INSTANCE_RANGE: '127.11.85.128/25', BERTH_SERVICE_RANGE: '127.11.89.0/24', BERTH_NODE_PORT_RANGE: '32720-32739', NO_COLOR: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

void describe('a cluster on etcd and the machine\'s range registry', () => {
  let etcd: EtcdCluster | undefined;
  const servers: ControlPlaneServer[] = [];
  const agents: RunningAgent[] = [];
  const dirs: string[] = [];
  let token = '';

  before(async () => {
    etcd = await startEtcd({ members: 1, portBase: 24140 });
    const dir = tempDir('berth-cluster-ranges-');
    dirs.push(dir);
    servers.push(await spawnControlPlane('a', dir, etcd, { instanceRange: INSTANCE_RANGE, leaseSeconds: 3, nodeGrace: '4s', env: RANGES }));
    await untilLeads(servers[0] as ControlPlaneServer);
    token = readFileSync(join(dir, 'admin.token'), 'utf8').trim();
    const joinToken = (await new BerthClient({ baseUrl: (servers[0] as ControlPlaneServer).url, token }).createToken({ role: 'node', name: 'join' })).token;
    const agentDir = tempDir('berth-cluster-ranges-agent-');
    dirs.push(agentDir);
    agents.push(await spawnAgent({ url: (servers[0] as ControlPlaneServer).url, fingerprint: undefined }, 'ranges-a', joinToken, agentDir, { address: '127.11.86.1' }));
  });

  after(() => tearDownCluster({ servers, agents, etcd, dirs, client: (s) => (token ? new BerthClient({ baseUrl: s.url, token }) : undefined) }));

  it('the agent claims the cluster\'s ranges under its id; the server on etcd, which opens none of them, claims none', async () => {
    const server = servers[0] as ControlPlaneServer;
    const agent = agents[0] as RunningAgent;
    const version = await new BerthClient({ baseUrl: server.url, token }).version();
    // The container range (the agents' Docker bridge subnet) is the default: the environment names none.
    assert.deepEqual(version.cluster && { ...version.cluster, id: 'id' }, { id: 'id', instanceRange: INSTANCE_RANGE, serviceRange: SERVICE_RANGE, nodePortRange: NODE_PORTS, containerRange: '10.213.0.0/16' });
    assert.match(version.cluster?.id ?? '', /^key:[0-9a-f]{24}$/);
    const mine = claims().filter((c) => c.dataDir === agent.dataDir || c.dataDir === server.dataDir);
    assert.deepEqual(mine, [{ ...mine[0], dataDir: agent.dataDir, cluster: version.cluster?.id, ranges: { instanceRange: INSTANCE_RANGE, serviceRange: SERVICE_RANGE, nodePortRange: [32700, 32719] } }]);
  });

  it('a single-machine berth server asked for the cluster\'s instance range beside the agent does not start, and names the agent', async () => {
    const dataDir = tempDir('berth-cluster-ranges-standalone-');
    dirs.push(dataDir);
    const proc = spawnLoneServer(dataDir);
    let stderr = '';
    proc.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      // Started after all (the claim did not hold it back): stop it, and the assertion below fails.
      if (/listening on/.test(stderr)) proc.kill('SIGTERM');
    });
    const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
    assert.equal(code, 1, stderr);
    const agent = agents[0] as RunningAgent;
    assert.match(stderr, new RegExp(`the instance range 127\\.11\\.85\\.128/25 \\(from BERTH_INSTANCE_RANGE\\) overlaps 127\\.11\\.85\\.0/24 of another berth server \\(data directory ${agent.dataDir.replace(/[/.]/g, '\\$&')}, pid \\d+`));
  });

  it('an agent of the cluster beside a single-machine berth server that holds part of its ranges does not start, and names that server', async () => {
    // The agent above stops (it ran no instance: its claim goes with it); a lone server takes half of
    // the cluster's instance range meanwhile.
    await killAgent(agents[0] as RunningAgent, 'SIGTERM');
    const dataDir = tempDir('berth-cluster-ranges-lone-');
    dirs.push(dataDir);
    const lone = spawnLoneServer(dataDir);
    let stderr = '';
    lone.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    try {
      await waitFor('the lone server listens', () => /listening on/.test(stderr) || lone.exitCode !== null, { timeoutMs: 20_000 });
      assert.equal(lone.exitCode, null, stderr);
      const agentDir = tempDir('berth-cluster-ranges-agent-');
      dirs.push(agentDir);
      const joinToken = (await new BerthClient({ baseUrl: (servers[0] as ControlPlaneServer).url, token }).createToken({ role: 'node', name: 'join-b' })).token;
      const refused = await spawnAgent({ url: (servers[0] as ControlPlaneServer).url, fingerprint: undefined }, 'ranges-b', joinToken, agentDir, { address: '127.11.86.2' }).then(
        (a) => {
          agents.push(a);
          return 'started';
        },
        (e: Error) => e.message,
      );
      assert.match(
        refused,
        new RegExp(
          `exited with 1:[\\s\\S]*the cluster's instance range 127\\.11\\.85\\.0/24 \\(fixed by its first server\\) overlaps 127\\.11\\.85\\.128/25 of another berth on this machine \\(data directory ${dataDir.replace(/[/.]/g, '\\$&')}, pid ${lone.pid}, or containers it started\\)`,
        ),
      );
    } finally {
      lone.kill('SIGTERM');
      if (lone.exitCode === null) await new Promise((resolve) => lone.once('exit', resolve));
    }
  });
});
