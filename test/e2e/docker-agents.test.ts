import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type Dockerode from 'dockerode';
import { BerthClient } from '../../src/client/index.js';
import type { Instance, NodeInfo } from '../../src/model/index.js';
import { dockerForTests } from '../../src/drivers/docker/engine-gate.js';
import { testImage } from '../../src/drivers/docker/test-images.js';
import type { EtcdCluster } from '../etcd-harness.js';
import { startEtcd } from '../etcd-harness.js';
import type { RunningAgent } from './agent-harness.js';
import { freePortAt, killAgent, spawnAgent } from './agent-harness.js';
import type { ControlPlaneServer } from './control-plane-harness.js';
import { spawnControlPlane, tearDownCluster, untilLeads } from './control-plane-harness.js';
import { appContainer, containersOf, dockerNetworkFor, engineForwarder, execIn, httpGet, removeDockerState } from './docker-harness.js';
import { ownerOf, tempDir, waitFor, type DockerOptions } from './harness.js';

/*
 * Images on several machines (docs/agent.md, "Images"): one etcd, one `berth server --store etcd://…`,
 * two `berth agent`s on loopback addresses of their own, each with the machine's Docker engine. The
 * cluster record's container range is the file's test subnet: both agents make (share) one bridge with
 * it, and the leader addresses image instances there. A service of nginx:latest with 2 replicas runs
 * one container instance on each agent (labelled with that agent's owner), each answers at its
 * container address, and the virtual IP and the node port of the agent whose proxy runs reach both
 * (the other agent's through its node-published port), from the host and from a container of the
 * other agent. Only one agent can hold berth's DNS on the shared gateway: the other says so on its
 * node record. A SIGKILLed agent started again adopts its container instead of making another. A
 * third agent whose engine answers only after it started (DOCKER_HOST names a socket of the test's,
 * where a forwarder to the machine's engine opens later) takes the engine in without a restart, and
 * runs the third replica.
 */

const docker = await dockerForTests();
const engine = (): Dockerode => {
  if (!docker) throw new Error('no Docker engine');
  return docker;
};
const skip = docker ? undefined : 'no Docker engine answers (see the SKIP line above)';
const INSTANCE_RANGE = '127.11.109.0/24';
const AGENTS = [
  { name: 'img-a', address: '127.11.109.2', proxy: 'on' },
  { name: 'img-b', address: '127.11.109.3', proxy: 'off' },
] as const;
/** The agent whose engine answers late (it joins in the last test). */
const LATE = { name: 'img-c', address: '127.11.109.4', proxy: 'off' } as const;
/**
 * Each agent's telemetry port, chosen free at its address once (a restarted agent keeps it): a fixed
 * port in the ephemeral range (32768–60999) can be any connection's at that moment.
 */
const telemetryPorts = new Map<string, number>();
const NGINX = testImage('nginx');

/** Which nginx answered (its X-Served-By header: the container's host name), or undefined when the request failed. */
async function servedBy(host: string, port: number): Promise<string | undefined> {
  const answer = await httpGet(host, port, { timeoutMs: 3000 }).catch(() => undefined);
  return answer?.status === 200 ? String(answer.headers['x-served-by']) : undefined;
}

/** Asks `ask` until it has seen every one of `want` answer (the proxy balances connections). */
async function reachesAll(what: string, want: ReadonlySet<string>, ask: () => Promise<string | undefined> | string | undefined): Promise<void> {
  const seen = new Set<string>();
  await waitFor(what, async () => {
    const by = await ask();
    if (by !== undefined) seen.add(by);
    if ([...want].every((w) => seen.has(w))) return true;
    throw new Error(`answered by ${[...seen].join(', ') || 'none'} of ${[...want].join(', ')}`);
  }, { timeoutMs: 30_000, intervalMs: 100 });
}

describe('images on agents of an etcd cluster (the Docker driver on every agent)', { ...(skip ? { skip } : {}), timeout: 300_000 }, () => {
  let etcd: EtcdCluster | undefined;
  let net: DockerOptions;
  const servers: ControlPlaneServer[] = [];
  const agents: RunningAgent[] = [];
  const dirs: string[] = [];
  const agentDirs = new Map<string, string>();
  let token = '';
  let client: BerthClient;
  const owner = (name: string): string => ownerOf(agentDirs.get(name) as string);
  let forwarder: ChildProcess | undefined;
  const placement = (a: (typeof AGENTS)[number] | typeof LATE, env: Record<string, string> = {}) => ({
    address: a.address,
    env: { BERTH_DOCKER: 'auto', BERTH_DOCKER_NETWORK: net.network, ...env },
    args: ['--telemetry-port', String(telemetryPorts.get(a.name)), ...(a.proxy === 'on' ? ['--proxy', 'on'] : [])],
  });
  const running = async (): Promise<Instance[]> => (await client.listInstances('default', 'web', { active: true })).filter((i) => i.status.state === 'running' && i.status.health?.ready !== false);

  before(async () => {
    if (!docker) return;
    net = await dockerNetworkFor(docker, 'agents', INSTANCE_RANGE);
    for (const a of [...AGENTS, LATE]) telemetryPorts.set(a.name, await freePortAt(a.address));
    etcd = await startEtcd({ members: 1, portBase: 24190 });
    const dir = tempDir('berth-da-');
    dirs.push(dir);
    // The cluster's container range is the file's subnet (BERTH_DOCKER_SUBNET of the first server), and
    // its virtual IPs are in a range containers reach (routed locally by the agents).
    servers.push(await spawnControlPlane('cp', dir, etcd, { instanceRange: INSTANCE_RANGE, leaseSeconds: 3, nodeGrace: '20s', env: { BERTH_DOCKER_SUBNET: net.subnet, BERTH_SERVICE_RANGE: net.serviceRange } }));
    await untilLeads(servers[0] as ControlPlaneServer);
    token = readFileSync(join(dir, 'admin.token'), 'utf8').trim();
    client = new BerthClient({ baseUrl: (servers[0] as ControlPlaneServer).url, token });
    const joinToken = (await client.createToken({ role: 'node', name: 'join' })).token;
    for (const a of AGENTS) {
      const agentDir = tempDir('berth-da-agent-');
      dirs.push(agentDir);
      agentDirs.set(a.name, agentDir);
      agents.push(await spawnAgent({ url: (servers[0] as ControlPlaneServer).url, fingerprint: undefined }, a.name, joinToken, agentDir, placement(a)));
    }
  });

  after(async () => {
    if (!docker) return;
    const owners = [...agentDirs.values()].map(ownerOf);
    try {
      await tearDownCluster({ servers, agents, etcd, dirs, client: () => (token ? client : undefined) });
    } finally {
      forwarder?.kill();
      if (net) await removeDockerState(docker, net, owners);
    }
  });

  it('both agents report the docker driver and one bridge with the cluster\'s container range; only one holds berth\'s DNS on its gateway, the other says why', async () => {
    const version = await client.version();
    assert.equal(version.cluster?.containerRange, net.subnet, 'GET /v1/version names the cluster\'s container range');
    const nodes = await waitFor('both agents ready with the docker driver', async () => {
      const list = (await client.nodes()).filter((n) => n.ready && n.drivers.includes('docker') && n.containerNetwork !== undefined);
      return list.length === 2 ? list : undefined;
    }, { timeoutMs: 20_000 });
    for (const a of agents) assert.match(a.stderr, new RegExp(`berth agent: node ${a.name} joined .*; images on \\S+ \\(network ${net.network}, ${net.subnet.replace(/[./]/g, '\\$&')}\\)\n`), a.stderr);
    const gateway = net.subnet.replace(/0\/24$/, '1');
    for (const n of nodes) assert.deepEqual({ name: n.containerNetwork?.name, subnet: n.containerNetwork?.subnet, gateway: n.containerNetwork?.gateway }, { name: net.network, subnet: net.subnet, gateway }, n.name);
    const withDns = nodes.filter((n) => n.containerNetwork?.dns === `${gateway}:53`);
    assert.equal(withDns.length, 1, `one node holds the gateway's DNS port: ${JSON.stringify(nodes.map((n) => n.containerNetwork))}`);
    const other = nodes.find((n) => n !== withDns[0]) as NodeInfo;
    assert.equal(other.containerNetwork?.dns, undefined);
    assert.ok(other.containerNetwork?.problems?.some((p) => p.includes(`containers cannot use berth's DNS: listening on ${gateway}:53 failed`) && p.includes('EADDRINUSE')), JSON.stringify(other.containerNetwork));
    assert.equal((await engine().listNetworks({ filters: JSON.stringify({ name: [net.network] }) })).filter((n) => n.Name === net.network).length, 1, 'one bridge for both agents');
  });

  it('a service of nginx:latest with 2 replicas runs one container instance on each agent, labelled with that agent\'s owner, each answering at its container address', async () => {
    const images = (await engine().listImages({ filters: JSON.stringify({ reference: [NGINX] }) })).length;
    assert.equal(images, 1, `${NGINX} is present locally (scripts/build-images.sh): this test never pulls`);
    await client.createService('default', { name: 'web', replicas: 2, type: 'NodePort', ports: [{ port: 80, targetPort: 80 }], placement: { maxReplicasPerNode: 1 }, containers: [{ name: 'web', image: NGINX, ports: [{ containerPort: 80 }], stopGracePeriod: '2s' }] }, { deploy: true });
    const list = await waitFor('one running instance of web on each agent', async () => {
      const l = await running();
      return l.length === 2 && new Set(l.map((i) => i.node)).size === 2 ? l : undefined;
    }, { timeoutMs: 90_000, intervalMs: 250 });
    const prefix = net.subnet.replace(/0\/24$/, '');
    for (const i of list) {
      assert.ok(i.spec.address.startsWith(prefix) && i.spec.address !== `${prefix}1`, `${i.id} is addressed on the cluster's container range ${net.subnet}, not its gateway: ${i.spec.address}`);
      const id = await appContainer(engine(), owner(i.node), i.id, 'web');
      const info = await engine().getContainer(id).inspect();
      assert.equal(info.Config.Image, NGINX);
      assert.equal(info.Config.Labels?.['io.berth.owner'], owner(i.node), `the container of ${i.id} carries ${i.node}'s owner label`);
      assert.ok(await servedBy(i.spec.address, 80), `${i.id} answers at ${i.spec.address}:80`);
    }
    assert.notEqual(owner('img-a'), owner('img-b'));
  });

  it('the virtual IP and the node port of the agent whose proxy runs reach both instances (the other agent\'s through its node-published port), from the host and from a container of the other agent', async () => {
    const list = await running();
    const want = new Set<string>();
    for (const i of list) want.add((await servedBy(i.spec.address, 80)) as string);
    assert.equal(want.size, 2, `two nginx host names: ${[...want].join(', ')}`);
    const service = await client.getService('default', 'web');
    const vip = service.spec.clusterIP as string;
    const nodePort = service.spec.ports[0]?.nodePort as number;
    assert.ok(vip.startsWith(net.serviceRange.replace(/0\/24$/, '')), `the virtual IP ${vip} is in ${net.serviceRange}`);
    const onB = list.find((i) => i.node === 'img-b') as Instance;
    const published = onB.spec.hostPorts?.[0]?.hostPort as number;
    assert.ok(await servedBy('127.11.109.3', published), `img-b's node-published port ${published} forwards to its container at ${onB.spec.address}`);
    await reachesAll(`both instances through the virtual IP ${vip}:80`, want, () => servedBy(vip, 80));
    await reachesAll(`both instances through img-a's node port 127.11.109.2:${nodePort}`, want, () => servedBy('127.11.109.2', nodePort));
    // A container of img-b (whose proxy is off) reaches the virtual IP: the route of the range leads it to img-a's proxy.
    const container = await appContainer(engine(), owner('img-b'), onB.id, 'web');
    await reachesAll(`both instances through ${vip}:80 from img-b's container`, want, () => {
      // busybox's nc: the image's busybox wget ends in a segmentation fault here.
      const r = execIn(container, `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${vip} 80`, { timeoutMs: 10_000 });
      return r.status === 0 ? /^X-Served-By: *(\S+)\r?$/im.exec(r.output)?.[1] : undefined;
    });
  });

  it('a SIGKILLed agent started again adopts its container instead of making another', async () => {
    const before = await running();
    const onB = before.find((i) => i.node === 'img-b') as Instance;
    const containersB = async () => (await containersOf(engine(), owner('img-b'), { all: true })).map((c) => `${c.Id}:${c.State}`).sort();
    const kept = await containersB();
    assert.equal(kept.length, 2, `img-b's sandbox and app container: ${kept.join(' ')}`);
    const agent = agents.find((a) => a.name === 'img-b') as RunningAgent;
    await killAgent(agent, 'SIGKILL');
    assert.deepEqual(await containersB(), kept, 'the containers outlive the agent');
    const spec = AGENTS[1];
    const again = await spawnAgent({ url: (servers[0] as ControlPlaneServer).url, fingerprint: undefined }, spec.name, undefined, agent.dataDir, placement(spec));
    agents[agents.indexOf(agent)] = again;
    await waitFor('img-b ready again with the docker driver', async () => (await client.nodes()).some((n) => n.name === 'img-b' && n.ready && n.drivers.includes('docker')), { timeoutMs: 20_000 });
    await waitFor(`img-b adopted ${onB.id} (an instance.adopted event)`, async () => {
      for await (const e of client.events('default', 'web')) if (e.type === 'instance.adopted' && e.instance === onB.id) return true;
      return false;
    }, { timeoutMs: 30_000, intervalMs: 250 });
    // Settled: the same instance runs in the same containers, and none was added.
    const after = await waitFor('web running 2/2 again', async () => {
      const l = await running();
      return l.length === 2 ? l : undefined;
    }, { timeoutMs: 30_000 });
    assert.deepEqual(after.map((i) => i.id).sort(), before.map((i) => i.id).sort(), 'the same instances: none replaced');
    assert.deepEqual(await containersB(), kept, 'the same containers, still running: adopted, not duplicated');
    assert.ok(await servedBy(onB.spec.address, 80), `${onB.id} still answers at ${onB.spec.address}`);
  });

  it('an agent whose engine answers only after it started takes it in without a restart, and runs the third replica on the cluster\'s bridge', async () => {
    const agentDir = tempDir('berth-da-agent-');
    dirs.push(agentDir);
    agentDirs.set(LATE.name, agentDir);
    const socket = join(agentDir, 'late-engine.sock');
    const joinToken = (await client.createToken({ role: 'node', name: 'join-late' })).token;
    const late = await spawnAgent({ url: (servers[0] as ControlPlaneServer).url, fingerprint: undefined }, LATE.name, joinToken, agentDir, placement(LATE, { DOCKER_HOST: `unix://${socket}` }));
    agents.push(late);
    assert.match(late.stderr, new RegExp(`berth agent: node img-c joined .*; no images: no Docker engine answers at unix://${socket.replace(/[./]/g, '\\$&')}`), late.stderr);
    const before = await waitFor('img-c ready without the docker driver', async () => (await client.nodes()).find((n) => n.name === LATE.name && n.ready), { timeoutMs: 20_000 });
    assert.deepEqual(before.drivers, ['process']);
    assert.match(before.unavailableDrivers?.docker ?? '', /no Docker engine answers at unix:\/\/\S+late-engine\.sock: .*berth asks again every 5 s/);
    forwarder = await engineForwarder(socket);
    // Within the re-probe period (5 s) and a beat: the node record lists the driver and the cluster's bridge.
    const taken = await waitFor('img-c with the docker driver', async () => (await client.nodes()).find((n) => n.name === LATE.name && n.drivers.includes('docker')), { timeoutMs: 20_000, intervalMs: 200 });
    assert.equal(taken.containerNetwork?.subnet, net.subnet);
    assert.equal(taken.unavailableDrivers, undefined);
    assert.match(late.stderr, /Docker engine found at unix:\/\/\S+late-engine\.sock/);
    await client.scale('default', 'web', 3);
    const third = await waitFor('a running instance of web on img-c', async () => (await running()).find((i) => i.node === LATE.name), { timeoutMs: 90_000, intervalMs: 250 });
    assert.ok(third.spec.address.startsWith(net.subnet.replace(/0\/24$/, '')), `${third.id} at ${third.spec.address}`);
    const id = await appContainer(engine(), owner(LATE.name), third.id, 'web');
    assert.equal((await engine().getContainer(id).inspect()).Config.Image, NGINX);
    assert.ok(await servedBy(third.spec.address, 80), `${third.id} answers at ${third.spec.address}:80`);
  });
});
