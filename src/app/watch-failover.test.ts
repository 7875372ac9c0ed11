import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { NodeAgentClient, failoverFetch } from '../client/index.js';
import { silentLogger } from '../lib/index.js';
import type { Instance } from '../model/index.js';
import { instance } from '../store/testing/replica-fixtures.js';
import { ClusterMirror } from './cluster-mirror.js';
import { RemoteAgentPorts } from './remote-agent-ports.js';
import { eventually, failoverServers } from '../../test/failover-servers.js';

/*
 * An agent follows its instances through one server's GET /v1/watch and resumes on another when that
 * one dies (app/cluster-mirror.ts, client/failover-fetch.ts). A CI run of control-plane-netns.test.ts
 * saw an instance the next leader assigned stay `new` for good: the agent had resumed past it. These
 * tests run the same servers in-process, on one SqliteKv as etcd, with the leader's etcd writes held
 * where a SIGKILL would catch them (test/failover-servers.ts).
 */

void describe('an agent\'s watch across the death of the leader it followed', () => {
  void it('an agent never sees a change the leader had not made durable, so it sees the change the next leader makes at that revision', async () => {
    const { a, b } = await failoverServers();
    a.store.applyControllerWrites({ createInstances: [instance('web-1-a', 1)] });
    await a.flushed();

    // The agent of node n1, as app/remote-agent.ts starts it: `--join A,B`.
    const client = new NodeAgentClient({ baseUrl: a.url, token: 'x', fetch: failoverFetch([a.url, b.url], (input, init) => fetch(input, init)) });
    const mirror = new ClusterMirror(client, silentLogger);
    await mirror.sync();
    const ports = new RemoteAgentPorts(client, 'n1', silentLogger);
    await ports.sync();
    ports.follow(mirror);
    const assigned = new Map<string, Instance>();
    ports.watchInstances('n1', (inst, op) => (op === 'put' ? assigned.set(inst.id, inst) : assigned.delete(inst.id)));
    mirror.follow();
    after(() => (mirror.stop(), ports.stop()));
    assert.deepEqual(ports.listInstances('n1').map((i) => i.id), ['web-1-a']);

    // A commits a change its writer has not put in etcd yet, and dies (SIGKILL) before it does.
    const durable = a.store.revision();
    a.hold();
    a.store.applyControllerWrites({ createInstances: [instance('web-2-a', 2)] });
    assert.ok(a.store.revision() > durable);
    // Long enough for the stream to have carried it, had it been sent (it is written at the commit).
    await eventually(() => mirror.revision() > durable, 1000);
    assert.ok(mirror.revision() <= durable, `the agent saw revision ${mirror.revision()}, which etcd does not hold (it holds ${durable})`);
    assert.equal(assigned.has('web-2-a'), false, 'an instance that was never durable is not handed to the agent');
    await a.die();

    // B takes the lead: it loads etcd's rows, so it gives out A's lost revisions again, for changes of its own.
    const writerB = await b.takeLead();
    assert.equal(b.store.revision(), durable, 'the next leader goes on from what etcd holds');
    b.store.applyControllerWrites({ createInstances: [instance('web-3-b', 3)] });
    await writerB.flushed();

    // The agent resumed on B: it must see B's assignment, which has the revision A's lost change had.
    const seen = await eventually(() => assigned.has('web-3-b'), 10_000);
    assert.ok(seen, `the agent never saw the instance the next leader assigned it (it is at revision ${mirror.revision()}; B is at ${b.store.revision()})`);
    assert.deepEqual(ports.listInstances('n1').map((i) => i.id).sort(), ['web-1-a', 'web-3-b']);
    assert.equal(mirror.revision(), b.store.revision());
  });
});
