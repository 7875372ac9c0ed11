import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { UnauthenticatedError } from '../../model/index.js';
import { openSqliteStore } from '../../store/index.js';
import type { Authenticator } from '../authenticator.js';
import { FakeTelemetry, createDockerApi } from '../index.js';
import type { LeaderRouting } from '../leader-routing.js';
import { controlPlaneName } from '../leader-routing.js';
import type { HostFacts } from './docker-ports.js';

/*
 * A server of a cluster on etcd as Swarm shows a manager (swarm-objects.ts, swarmManagerNode): the
 * docker CLI's `docker node inspect self` reads /info's Swarm.NodeID, then GET /nodes/{id}.
 */

const HOST: HostFacts = { os: 'linux', goArch: 'amd64', machine: 'x86_64', kernelVersion: '6.1.0-test', operatingSystem: 'Debian GNU/Linux 12 (bookworm)', ncpu: 4, memTotal: 8 * 2 ** 30 };
const anyone: Authenticator = {
  authenticate: (authorization) => {
    if (authorization !== undefined) throw new UnauthenticatedError('no tokens here');
    return { kind: 'user', subject: 'socket owner', grants: [{ role: 'cluster-admin' }] };
  },
};
const SERVERS = [
  { id: 'aaaabbbbccccdddd', url: 'http://10.0.0.1:7420' },
  { id: 'eeeeffff00001111', url: 'http://[fd00::2]:7420' },
];

function face() {
  const store = openSqliteStore(':memory:');
  store.upsertNode({ name: 'vm-a', address: '10.0.0.9', drivers: ['process'], ready: true, heartbeatAt: '2026-12-01T00:00:00.000Z' });
  const routing: LeaderRouting = { role: () => 'leader', leaderUrl: () => 'http://10.0.0.1:7420', servers: () => SERVERS, flushed: async () => 1, caughtUp: async () => true };
  const app = createDockerApi({ store, authenticator: anyone, telemetry: new FakeTelemetry(), node: controlPlaneName('aaaabbbbccccdddd'), version: '9.8.7', host: HOST, leaderRouting: routing, transport: 'unix', relayKey: Buffer.alloc(32, 1) });
  after(() => app.close());
  return app;
}

type SwarmNode = { ID: string; Spec: { Role: string; Availability: string }; Description: { Hostname: string; Platform: Record<string, string> }; Status: { State: string; Addr: string }; ManagerStatus?: { Leader: boolean; Reachability: string; Addr: string } };

describe('Docker face: the servers of a cluster as Swarm managers', () => {
  it('answers GET /nodes/{Swarm.NodeID of /info} (docker node inspect self) with this server as a drained, leading manager', async () => {
    const app = face();
    const self = (await app.inject({ method: 'GET', url: '/v1.50/info' })).json<{ Swarm: { NodeID: string } }>().Swarm.NodeID;
    const res = await app.inject({ method: 'GET', url: `/v1.50/nodes/${self}` });
    assert.equal(res.statusCode, 200, res.body);
    const node = res.json<SwarmNode>();
    assert.deepEqual(
      { id: node.ID, role: node.Spec.Role, availability: node.Spec.Availability, hostname: node.Description.Hostname, platform: node.Description.Platform, status: node.Status, manager: node.ManagerStatus },
      {
        id: self,
        role: 'manager',
        availability: 'drain',
        hostname: 'control-plane aaaabbbb',
        platform: { Architecture: 'x86_64', OS: 'linux' },
        status: { State: 'ready', Addr: '10.0.0.1' },
        manager: { Leader: true, Reachability: 'reachable', Addr: '10.0.0.1:2377' },
      },
    );
  });

  it('finds the other manager by name and by a unique id prefix, not leading, without the platform it does not know', async () => {
    const app = face();
    const byName = (await app.inject({ method: 'GET', url: `/v1.50/nodes/${encodeURIComponent('control-plane eeeeffff')}` })).json<SwarmNode>();
    assert.deepEqual([byName.Spec.Role, byName.Status.Addr, byName.ManagerStatus?.Leader, byName.ManagerStatus?.Addr, byName.Description.Platform], ['manager', 'fd00::2', false, 'fd00::2:2377', {}]);
    const byPrefix = await app.inject({ method: 'GET', url: `/v1.50/nodes/${byName.ID.slice(0, 6)}` });
    assert.equal(byPrefix.json<SwarmNode>().ID, byName.ID);
  });

  it('still lists only the nodes that run instances, and answers 404 for an unknown node', async () => {
    const app = face();
    const listed = (await app.inject({ method: 'GET', url: '/v1.50/nodes' })).json<SwarmNode[]>();
    assert.deepEqual(listed.map((n) => [n.Description.Hostname, n.Spec.Role]), [['vm-a', 'worker']]);
    const vm = await app.inject({ method: 'GET', url: '/v1.50/nodes/vm-a' });
    assert.equal(vm.json<SwarmNode>().Spec.Role, 'worker', 'a node of the store is found as before');
    const missing = await app.inject({ method: 'GET', url: '/v1.50/nodes/nope' });
    assert.equal(missing.statusCode, 404);
    assert.match(missing.json<{ message: string }>().message, /node nope not found/);
  });
});
