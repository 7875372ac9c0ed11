import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Instance, NodeInfo, Service } from '../model/index.js';
import { swarmNodeId } from '../model/index.js';
import { planService } from './plan-service.js';
import { explainService } from './explain-service.js';
import { ServiceScheduler, describeUnschedulable, indexUsage } from './schedule.js';
import { instance, node, service, T0 } from '../../test/fixtures.js';

const NOW = T0 + 60_000;
const three = [node('a'), node('b'), node('c')];
/** A service whose containers run an image and reserve `cpus` and `memory` each (resources need an image). */
const reserving = (o: { cpus?: number; memory?: string; replicas?: number; name?: string } = {}): Service =>
  service({
    name: o.name ?? 'web',
    replicas: o.replicas ?? 1,
    containers: [{ image: 'nginx:1.27', resources: { reservations: { ...(o.cpus !== undefined ? { cpus: o.cpus } : {}), ...(o.memory !== undefined ? { memory: o.memory } : {}) } } }],
  });
const docker = (name: string, extra: Partial<NodeInfo> = {}): NodeInfo => node(name, { drivers: ['process', 'docker'], ...extra });
/** A running instance of `svc` in `slot` on `on` (its containers: the deployed ones, so it is current). */
const running = (svc: Service, slot: number, on: string, o: Parameters<typeof instance>[0] = {}): Instance => {
  const i = instance({ slot, node: on, service: svc.name, ...o });
  return { ...i, id: `${svc.name}-${slot}-${i.version}`, spec: { ...i.spec, containers: svc.deployment?.spec.containers ?? [] } };
};
const perNode = (nodes: readonly string[]): Record<string, number> => nodes.reduce<Record<string, number>>((acc, n) => ({ ...acc, [n]: (acc[n] ?? 0) + 1 }), {});

describe('scheduling: filters', () => {
  it('spreads 6 replicas over 3 nodes 2/2/2', () => {
    const plan = planService(service({ replicas: 6 }), [], { now: NOW, nodes: three });
    assert.deepEqual(perNode(plan.create.map((c) => c.node)), { a: 2, b: 2, c: 2 });
  });

  it('fills the emptiest node first: the spread counts the instances that already run', () => {
    const svc = service({ replicas: 4 });
    const plan = planService(svc, [running(svc, 1, 'a'), running(svc, 2, 'a')], { now: NOW, nodes: three });
    assert.deepEqual(plan.create.map((c) => [c.slot, c.node]), [[3, 'b'], [4, 'c']]);
  });

  it('pins instances to the node a constraint names (node.labels.zone==a)', () => {
    const nodes = [node('a'), node('b', { labels: { zone: 'a' } }), node('c', { labels: { zone: 'b' } })];
    const plan = planService(service({ replicas: 3, placement: { constraints: ['node.labels.zone==a'] } }), [], { now: NOW, nodes });
    assert.deepEqual(plan.create.map((c) => c.node), ['b', 'b', 'b']);
    const away = planService(service({ replicas: 2, placement: { constraints: ['node.hostname!=a'] } }), [], { now: NOW, nodes });
    assert.deepEqual(away.create.map((c) => c.node), ['b', 'c']);
  });

  it('leaves an instance pending with Swarm\'s "no suitable node" and every node\'s reason when no constraint holds', () => {
    const plan = planService(service({ replicas: 1, placement: { constraints: ['node.labels.zone==z'] } }), [], { now: NOW, nodes: [node('a', { labels: { zone: 'a' } }), node('b')] });
    assert.equal(plan.create.length, 0);
    assert.equal(plan.pending.length, 1);
    assert.equal(
      plan.pending[0]?.unschedulable.message,
      'no suitable node (scheduling constraints not satisfied on 2 nodes): node a does not meet node.labels.zone==z (it has node.labels.zone=a); node b does not meet node.labels.zone==z (it has none)',
    );
    assert.match(plan.status.message, /^0\/1 running; web-1 pending: no suitable node \(scheduling constraints not satisfied on 2 nodes\)/);
  });

  it('shows a pending slot\'s reasons in `why` (explainService reads them from the status message)', () => {
    const svc = service({ replicas: 3, placement: { constraints: ['node.labels.zone==z'] } });
    const nodes = [node('a'), node('b', { availability: 'drain' })];
    const plan = planService(svc, [], { now: NOW, nodes });
    assert.match(plan.status.message, /^0\/3 running; web-1 and 2 more slot\(s\) pending: no suitable node \(1 node not available for new instances; scheduling constraints not satisfied on 1 node\): node a does not meet/);
    const why = explainService({ ...svc, status: { ...svc.status, ...plan.status, updatedAt: '' } }, []);
    assert.equal(why.verdict, 'failed');
    assert.equal(why.reasons[0]?.kind, 'unschedulable');
    assert.equal(why.reasons[0]?.slot, 1);
    assert.match(why.summary, /^no instance of web is ready \(0\/3\): web-1 and 2 more slot\(s\) pending: no suitable node .*node b is draining$/);
    assert.ok(why.suggestions.some((x) => x.includes('berth node ls')), JSON.stringify(why.suggestions));
  });

  it('places instances while reservations fit, then says which nodes lack what', () => {
    const nodes = [docker('a'), docker('b')];
    const plan = planService(reserving({ cpus: 1, replicas: 5 }), [], { now: NOW, nodes });
    assert.deepEqual(plan.create.map((c) => c.node), ['a', 'b', 'a', 'b']);
    assert.deepEqual(plan.pending.map((p) => p.slot), [5]);
    assert.equal(plan.pending[0]?.unschedulable.message, 'no suitable node (insufficient resources on 2 nodes): node a has 0 of 2 CPUs free, an instance reserves 1; node b has 0 of 2 CPUs free, an instance reserves 1');
    assert.deepEqual(plan.pending[0]?.unschedulable.nodes.map((n) => n.filter), ['resources', 'resources']);
  });

  it('counts what other services reserve on a node (the usage index of every active instance)', () => {
    const other = reserving({ name: 'db', memory: '3Gi' });
    const usage = indexUsage([running(other, 1, 'a')]);
    const plan = planService(reserving({ memory: '2Gi', replicas: 3 }), [], { now: NOW, nodes: [docker('a'), docker('b')], usage });
    assert.deepEqual(plan.create.map((c) => c.node), ['b', 'b']);
    assert.match(plan.pending[0]?.message ?? '', /node a has 1Gi of 4Gi memory free, an instance reserves 2Gi; node b has 0 of 4Gi memory free/);
  });

  it('takes the least reserved node among those with as few instances of the service', () => {
    const other = reserving({ name: 'db', cpus: 1.5 });
    const usage = indexUsage([running(other, 1, 'a')]);
    const plan = planService(reserving({ cpus: 0.25 }), [], { now: NOW, nodes: [docker('a'), docker('b')], usage });
    assert.deepEqual(plan.create.map((c) => c.node), ['b']);
  });

  it('sends nothing new to a paused, draining or down node, and says so per node', () => {
    const nodes = [node('a', { availability: 'pause' }), node('b', { availability: 'drain' }), node('c', { ready: false })];
    const plan = planService(service({ replicas: 1 }), [], { now: NOW, nodes });
    assert.equal(plan.create.length, 0);
    assert.equal(plan.pending[0]?.unschedulable.message, `no suitable node (1 node down; 2 nodes not available for new instances): node a is paused; node b is draining; node c is down`);
  });

  it('runs containers with images only on nodes with the docker driver', () => {
    const plan = planService(reserving({ cpus: 0.1, replicas: 2 }), [], { now: NOW, nodes: [node('a'), docker('b')] });
    assert.deepEqual(plan.create.map((c) => c.node), ['b', 'b']);
  });

  it('keeps to maxReplicasPerNode and says so when the rest fit nowhere', () => {
    const plan = planService(service({ replicas: 3, placement: { maxReplicasPerNode: 1 } }), [], { now: NOW, nodes: [node('a'), node('b')] });
    assert.deepEqual(plan.create.map((c) => c.node), ['a', 'b']);
    assert.match(plan.pending[0]?.unschedulable.message ?? '', /^no suitable node \(max replicas per node reached on 2 nodes\): node a runs 1 instance\(s\) of web already \(maxReplicasPerNode 1\)/);
  });

  it('honours platforms (x86_64 is amd64)', () => {
    const nodes = [node('a', { arch: 'aarch64' }), node('b', { arch: 'x86_64' })];
    const plan = planService(service({ replicas: 1, placement: { platforms: [{ os: 'linux', architecture: 'amd64' }] } }), [], { now: NOW, nodes });
    assert.deepEqual(plan.create.map((c) => c.node), ['b']);
  });

  it('spreads over the values of a label before the nodes (swarmkit spread preference)', () => {
    const nodes = [node('a1', { labels: { zone: 'a' } }), node('a2', { labels: { zone: 'a' } }), node('b1', { labels: { zone: 'b' } })];
    const plan = planService(service({ replicas: 4, placement: { preferences: [{ spread: 'node.labels.zone' }] } }), [], { now: NOW, nodes });
    assert.deepEqual(perNode(plan.create.map((c) => c.node)), { a1: 1, a2: 1, b1: 2 });
  });

  it('counts the instances of a full or paused node in its zone: that zone is not taken for emptier than it is', () => {
    const nodes = [node('a1', { labels: { zone: 'a' } }), node('a2', { labels: { zone: 'a' } }), node('b1', { labels: { zone: 'b' } })];
    const svc = service({ replicas: 4, placement: { preferences: [{ spread: 'node.labels.zone' }], maxReplicasPerNode: 2 } });
    // Zone a runs 2 (on a1, full), zone b 1: the fourth goes to zone b (swarmkit's tree, which leaves a1 out, would say a2).
    const full = planService(svc, [running(svc, 1, 'a1'), running(svc, 2, 'a1'), running(svc, 3, 'b1')], { now: NOW, nodes });
    assert.deepEqual(full.create.map((c) => [c.slot, c.node]), [[4, 'b1']]);
    const paused = planService(svc, [running(svc, 1, 'a1'), running(svc, 2, 'a1'), running(svc, 3, 'b1')], { now: NOW, nodes: nodes.map((n) => (n.name === 'a1' ? { ...n, availability: 'pause' as const } : n)) });
    assert.deepEqual(paused.create.map((c) => [c.slot, c.node]), [[4, 'b1']]);
  });

  it('says that no node has registered when there is none', () => {
    assert.equal(describeUnschedulable([]).message, 'no node has registered yet');
    const plan = planService(service({ replicas: 1 }), [], { now: NOW, nodes: [] });
    assert.equal(plan.create.length, 0);
    assert.match(plan.status.message, /web-1 pending: no node has registered yet/);
  });

  it('matches node.id against the Swarm id the Docker face shows (and the name)', () => {
    const nodes = [node('a'), node('b')];
    const byId = planService(service({ replicas: 2, placement: { constraints: [`node.id==${swarmNodeId('b')}`] } }), [], { now: NOW, nodes });
    assert.deepEqual(byId.create.map((c) => c.node), ['b', 'b']);
    const byName = new ServiceScheduler({ spec: service({ placement: { constraints: ['node.id==a'] } }).spec, nodes, instances: [] });
    assert.equal(byName.check(node('a')), undefined);
    assert.equal(byName.check(node('b'))?.filter, 'constraints');
  });
});

describe('scheduling: no churn, drain, node loss', () => {
  it('does not move a running instance because another node is emptier', () => {
    const svc = service({ replicas: 2 });
    const plan = planService(svc, [running(svc, 1, 'a'), running(svc, 2, 'a')], { now: NOW, nodes: three });
    assert.equal(plan.create.length, 0);
    assert.equal(plan.shutdown.length, 0);
  });

  it('keeps a paused node\'s instances where they run', () => {
    const svc = service({ replicas: 1 });
    const plan = planService(svc, [running(svc, 1, 'a')], { now: NOW, nodes: [node('a', { availability: 'pause' }), node('b')] });
    assert.equal(plan.create.length + plan.shutdown.length, 0);
  });

  it('moves instances off a draining node start-first: the replacement first, the old one once it is ready', () => {
    const svc = service({ replicas: 2 });
    const nodes = [node('a', { availability: 'drain' }), node('b'), node('c')];
    const old1 = running(svc, 1, 'a');
    const old2 = running(svc, 2, 'b');
    const first = planService(svc, [old1, old2], { now: NOW, nodes });
    assert.deepEqual(first.create.map((c) => [c.slot, c.node, c.reason]), [[1, 'c', 'moving off node a (node a is draining)']]);
    assert.equal(first.shutdown.length, 0, 'nothing stops before its replacement is ready');
    const starting = running(svc, 1, 'c', { state: 'starting', createdAt: T0 + 50_000 });
    assert.equal(planService(svc, [starting, old1, old2], { now: NOW, nodes }).shutdown.length, 0);
    const ready = running(svc, 1, 'c', { createdAt: T0 + 50_000 });
    const second = planService(svc, [ready, old1, old2], { now: NOW, nodes });
    assert.deepEqual(second.shutdown, [{ id: old1.id, reason: 'node a is draining: moved to node c' }]);
    assert.equal(second.create.length, 0);
  });

  it('keeps an instance on a draining node, pending with the reason, when no other node can take it', () => {
    const svc = service({ replicas: 1 });
    const plan = planService(svc, [running(svc, 1, 'a')], { now: NOW, nodes: [node('a', { availability: 'drain' }), node('b', { availability: 'pause' })] });
    assert.equal(plan.create.length + plan.shutdown.length, 0);
    assert.match(plan.pending[0]?.message ?? '', /^web-1 stays on node a \(node a is draining\): no other node can take it: no suitable node \(2 nodes not available for new instances\)/);
  });

  it('moves an instance whose node no longer meets a constraint after its rollout completed, start-first (swarmkit constraint enforcer)', () => {
    const deployed = service({ replicas: 1, placement: { constraints: ['node.labels.zone==a'] } });
    const requestedAt = deployed.deployment?.requestedAt ?? '';
    // Its rollout completed; then node a's label changed (`berth node update --label-add zone=b`).
    const update = { state: 'completed' as const, generation: 1, requestedAt, startedAt: requestedAt, message: 'update to generation 1 completed: 1/1 instance(s) ready', failedInstances: [], updatedInstances: 1, totalInstances: 1 };
    const svc: Service = { ...deployed, status: { ...deployed.status, phase: 'running', observedGeneration: 1, update } };
    const nodes = [node('a', { labels: { zone: 'b' } }), node('b', { labels: { zone: 'a' } })];
    const plan = planService(svc, [running(svc, 1, 'a')], { now: NOW, nodes });
    assert.deepEqual(plan.create.map((c) => [c.node, c.reason]), [['b', 'moving off node a (node a does not meet node.labels.zone==a (it has node.labels.zone=b))']]);
    assert.equal(plan.shutdown.length, 0, 'the old instance stops once its replacement is ready');
    assert.equal(plan.status.update?.state, 'completed', 'a completed rollout is not reopened by a node\'s label');
  });

  it('replaces a replicated instance of a down node elsewhere at once, keeping its record with desired state shutdown', () => {
    const svc = service({ replicas: 2 });
    const lost = running(svc, 1, 'a');
    const plan = planService(svc, [lost, running(svc, 2, 'b')], { now: NOW, nodes: [node('a', { ready: false }), node('b'), node('c')] });
    assert.deepEqual(plan.create.map((c) => [c.slot, c.node, c.reason]), [[1, 'c', 'replacing an instance: node a is down']]);
    assert.deepEqual(plan.shutdown, [{ id: lost.id, reason: 'node a is down: replaced on another node' }]);
    assert.ok(!plan.remove.includes(lost.id), 'the record stays: the node may come back');
    assert.equal(plan.status.runningInstances, 1);
  });

  it('leaves an instance of a down node as it is when no other node can take it (a lone node that missed heartbeats loses nothing)', () => {
    const svc = service({ replicas: 1 });
    const alone = running(svc, 1, 'a');
    const plan = planService(svc, [alone], { now: NOW, nodes: [node('a', { ready: false })] });
    assert.deepEqual([plan.create, plan.shutdown], [[], []]);
    assert.equal(plan.pending[0]?.message, 'web-1 stays on node a (node a is down): no other node can take it: no suitable node (1 node down): node a is down');
    assert.equal(plan.status.runningInstances, 0, 'not counted ready while its node is down');
  });

  it('replaces a start-first update\'s new instance lost with its node once, and lets the rollout go on from there', () => {
    const svc = service({ replicas: 1, generation: 2, updateConfig: { order: 'start-first' } });
    const old = running(svc, 1, 'a', { generation: 1 });
    const outdated = { ...old, spec: { ...old.spec, containers: old.spec.containers.map((c) => ({ ...c, command: ['node', 'old.js'] })) } };
    const fresh = running(svc, 1, 'b', { generation: 2, state: 'starting', createdAt: T0 + 50_000 });
    const plan = planService(svc, [fresh, outdated], { now: NOW, nodes: [node('a'), node('b', { ready: false }), node('c')] });
    assert.deepEqual(plan.create.map((c) => [c.slot, c.node, c.reason]), [[1, 'c', 'replacing an instance: node b is down']]);
    assert.deepEqual(plan.shutdown.map((x) => x.id), [fresh.id], 'the outdated instance serves on until the replacement is ready');
  });

  it('replaces the instances of a removed node', () => {
    const svc = service({ replicas: 1 });
    const plan = planService(svc, [running(svc, 1, 'gone')], { now: NOW, nodes: [node('b')] });
    assert.deepEqual(plan.create.map((c) => [c.node, c.reason]), [['b', 'replacing an instance: node gone was removed']]);
  });

  it('finishes removing a service whose instance was on a node that is removed since', () => {
    const svc = service({ replicas: 1, desired: 'removing' });
    const stranded = running(svc, 1, 'gone', { desiredState: 'shutdown' });
    const waits = planService(svc, [stranded], { now: NOW, nodes: [node('a'), node('gone', { ready: false })] });
    assert.equal(waits.removeService, false, 'a down node may come back: its agent stops the instance');
    const done = planService(svc, [stranded], { now: NOW, nodes: [node('a')] });
    assert.equal(done.removeService, true);
    assert.deepEqual(done.remove, [stranded.id]);
  });

  it('lets a stateful slot wait for its down node (its data is there), or move it when the service says so', () => {
    const nodes = [node('a', { ready: false }), node('b')];
    const svc = service({ replicas: 1, stateful: true });
    const waits = planService(svc, [running(svc, 1, 'a')], { now: NOW, nodes });
    assert.equal(waits.create.length + waits.shutdown.length, 0);
    assert.match(waits.status.message, /web-1 waits for node a \(down\), where its data is/);
    const moving = service({ replicas: 1, stateful: true, placement: { moveStatefulSlots: true } });
    const moved = planService(moving, [running(moving, 1, 'a')], { now: NOW, nodes });
    assert.deepEqual(moved.create.map((c) => c.node), ['b']);
  });

  it('restarts a stateful slot on its own node, even paused, and waits when that node is down', () => {
    const svc = service({ replicas: 1, stateful: true });
    const stopped = running(svc, 1, 'b', { desiredState: 'shutdown', state: 'shutdown', finishedAt: T0 });
    const back = planService(svc, [stopped], { now: NOW, nodes: [node('a'), node('b', { availability: 'pause' })] });
    assert.deepEqual(back.create.map((c) => c.node), ['b']);
    const down = planService(svc, [stopped], { now: NOW, nodes: [node('a'), node('b', { ready: false })] });
    assert.equal(down.create.length, 0);
    assert.match(down.pending[0]?.message ?? '', /^web-1 waits for node b, where its data is \(placement.moveStatefulSlots starts it elsewhere with an empty data directory\): node b is down/);
  });
});

describe('scheduling: global services', () => {
  const global = service({ mode: 'global' });
  it('runs one instance per eligible node, and one on a node that joins later', () => {
    const first = planService(global, [], { now: NOW, nodes: three });
    assert.deepEqual(first.create.map((c) => [c.slot, c.node]), [[1, 'a'], [2, 'b'], [3, 'c']]);
    const runningOnThree = first.create.map((c) => running(global, c.slot, c.node));
    // A node that sorts between the others gets a new slot number; no instance moves.
    const joined = planService(global, runningOnThree, { now: NOW, nodes: [...three, node('b2')] });
    assert.deepEqual(joined.create.map((c) => [c.slot, c.node]), [[4, 'b2']]);
    assert.equal(joined.shutdown.length, 0);
    assert.equal(joined.status.desiredInstances, 4);
  });

  it('stops the instance of a draining node, keeps a down node\'s slot waiting, and never gives a used slot number to another node', () => {
    const on = [running(global, 1, 'a'), running(global, 2, 'b'), running(global, 3, 'c')];
    const plan = planService(global, on, { now: NOW, nodes: [node('a', { availability: 'drain' }), node('b', { ready: false }), node('c'), node('d')] });
    assert.deepEqual(plan.shutdown, [{ id: on[0]?.id, reason: 'node a is draining' }]);
    assert.deepEqual(plan.create.map((c) => [c.slot, c.node]), [[4, 'd']]);
    assert.match(plan.status.message, /web-2 waits for node b \(down\)/);
  });

  it('gives a node short of resources its slot, pending with the reason', () => {
    const agent = { ...reserving({ cpus: 1.5 }), spec: { ...reserving({ cpus: 1.5 }).spec, mode: 'global' as const, replicas: 0 } };
    const svc: Service = { ...agent, deployment: agent.deployment ? { ...agent.deployment, spec: agent.spec } : null };
    const other = reserving({ name: 'db', cpus: 1 });
    const plan = planService(svc, [], { now: NOW, nodes: [docker('a'), docker('b')], usage: indexUsage([running(other, 1, 'b')]) });
    assert.deepEqual(plan.create.map((c) => [c.slot, c.node]), [[1, 'a']]);
    assert.equal(plan.status.desiredInstances, 2);
    assert.match(plan.pending[0]?.message ?? '', /^web-2 pending: node b has 1 of 2 CPUs free, an instance reserves 1.5$/);
  });

  it('updates a global instance start-first on its own node, maxReplicasPerNode notwithstanding', () => {
    const svc = service({ mode: 'global', generation: 2, updateConfig: { order: 'start-first' }, placement: { maxReplicasPerNode: 1 } });
    const old = running(svc, 1, 'a', { generation: 1 });
    const outdated = { ...old, spec: { ...old.spec, containers: old.spec.containers.map((c) => ({ ...c, command: ['node', 'old.js'] })) } };
    const plan = planService(svc, [outdated], { now: NOW, nodes: [node('a'), node('b')] });
    assert.deepEqual(plan.create.map((c) => [c.slot, c.node, c.reason]).sort(), [[1, 'a', 'update to generation 2'], [2, 'b', 'new slot']]);
  });

  it('says why no node can run it', () => {
    const plan = planService(global, [], { now: NOW, nodes: [node('a', { availability: 'pause' })] });
    assert.match(plan.status.message, /no node can run it: no suitable node \(1 node not available for new instances\): node a is paused/);
  });
});
