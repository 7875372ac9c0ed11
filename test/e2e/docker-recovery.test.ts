import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type Dockerode from 'dockerode';
import { dockerForTests } from '../../src/drivers/docker/engine-gate.js';
import { testImage } from '../../src/drivers/docker/test-images.js';
import { cleanup, startBerth, tempDir, waitFor, type DockerOptions, type RunningBerth } from './harness.js';
import { containersOf, dockerNetworkFor, httpGet, removeDockerState } from './docker-harness.js';
import { HTTP_APP } from './docker-programs.js';
import { startLoad, type LoadResult } from './load.js';

/*
 * Issue 10, acceptance: containers outlive the server and are healed like processes. A SIGKILLed
 * server started again adopts its running containers and sandboxes (same container ids, not
 * restarted, `instance.adopted` events) and removes containers labelled with its owner that no live
 * instance claims — never another owner's; a `docker kill` of an app container is healed in its slot;
 * a rolling update of 6 container replicas under a request loop through the virtual IP fails no
 * request (the loop of the process zero-downtime tests, test/e2e/load.ts).
 */

const docker = await dockerForTests();
const engine = (): Dockerode => {
  if (!docker) throw new Error('no Docker engine');
  return docker;
};
const skip = docker ? undefined : 'no Docker engine answers (see the SKIP line above)';
const RANGE = '127.11.66.0/24';

/** An HTTP service of node:local containers on 8080 (HTTP_APP) with a readiness probe on /health. */
function appSpec(name: string, replicas: number, o: { env?: Record<string, string>; updateConfig?: Record<string, unknown> } = {}) {
  return {
    name,
    replicas,
    ports: [{ port: 8080, targetPort: 8080 }],
    containers: [{
      image: testImage('node'),
      command: ['node', '-e', HTTP_APP],
      env: { PORT: '8080', ...o.env },
      ports: [{ name: 'http', containerPort: 8080 }],
      stopGracePeriod: '2s',
      // A new instance whose readiness probe reaches its failure threshold fails the rollout (docs/rollout.md):
      // 3 regular ticks a second apart leave a container on a loaded machine time to start listening;
      // the agent's fast-start probes (every 100 ms until first ready) still make it ready at once.
      readinessProbe: { httpGet: { path: '/health', port: 'http' }, periodSeconds: 1, failureThreshold: 3 },
    }],
    restartPolicy: { delay: '1s' },
    ...(o.updateConfig ? { updateConfig: o.updateConfig } : {}),
  };
}

/** Engine id, start time and restart count of every container (app and sandbox) of `owner`, by container name. */
async function snapshot(owner: string): Promise<Map<string, { id: string; startedAt: string; restarts: number }>> {
  const out = new Map<string, { id: string; startedAt: string; restarts: number }>();
  for (const c of await containersOf(engine(), owner, { all: true })) {
    const info = await engine().getContainer(c.Id).inspect();
    out.set(info.Name, { id: info.Id, startedAt: info.State.StartedAt, restarts: info.RestartCount });
  }
  return out;
}

describe('containers across a server crash, a docker kill and a rolling update', { ...(skip ? { skip } : {}), timeout: 600_000 }, () => {
  const dataDir = tempDir();
  let berth: RunningBerth;
  let net: DockerOptions;
  const foreign: string[] = [];
  before(async () => {
    if (!docker) return;
    net = await dockerNetworkFor(docker, 'recovery', RANGE);
    berth = await startBerth({ dataDir, instanceRange: RANGE, docker: net });
  });
  after(async () => {
    if (!docker || !berth) return;
    try {
      await cleanup(berth);
    } finally {
      for (const id of foreign) await docker.getContainer(id).remove({ force: true }).catch(() => undefined);
      await removeDockerState(docker, net, [berth.owner]);
    }
  });

  const running = async (name: string) => (await berth.client.listInstances('default', name, { active: true })).filter((i) => i.status.state === 'running' && i.status.health?.ready === true).sort((a, b) => a.slot - b.slot);

  async function converged(name: string, replicas: number): Promise<void> {
    let seen = '';
    await waitFor(`${name}: ${replicas} ready, rollout done`, async () => {
      const s = await berth.client.getService('default', name);
      const e = await berth.client.endpoints('default', name);
      const state = s.status.update?.state;
      seen = `update ${state} of generation ${s.status.update?.generation} (deployed ${s.deployment?.generation}): ${s.status.update?.message}; endpoints ${e.endpoints.map((x) => `${x.ip}${x.ready ? '' : ' (not ready)'}`).join(', ')}`;
      return (state === 'completed' || state === 'rollback_completed') && s.status.update?.generation === s.deployment?.generation && e.endpoints.filter((x) => x.ready).length === replicas && e.endpoints.length === replicas;
    }, { timeoutMs: 180_000, intervalMs: 100 }).catch(async (error: Error) => {
      const why = await berth.client.why('default', name).catch(() => undefined);
      throw new Error(`${error.message}\nlast seen: ${seen}\nwhy: ${JSON.stringify(why)}`);
    });
  }

  it('a SIGKILLed server, started again, adopts its containers without restarting them and removes its unclaimed ones, never another owner\'s', async () => {
    await berth.client.createService('default', appSpec('steady', 3), { deploy: true });
    await converged('steady', 3);
    const instancesBefore = await running('steady');
    const containersBefore = await snapshot(berth.owner);
    assert.equal(containersBefore.size, 6, `3 app containers and 3 sandboxes: ${[...containersBefore.keys()].join(', ')}`);

    await berth.kill();
    // While no server runs: a container labelled with this server's owner that no instance claims (a
    // leftover of an instance that ended), and one of another owner on the same engine.
    const ghost = await engine().createContainer({
      name: `berth-e2e-ghost-${berth.owner}`,
      Image: testImage('busybox'),
      Cmd: ['sleep', '100000'],
      Labels: { 'io.berth.owner': berth.owner, 'io.berth.instance': 'steady-9-0a0b0c', 'io.berth.container': 'steady', 'io.berth.role': 'container' },
      HostConfig: { NetworkMode: 'none' },
    });
    await ghost.start();
    const other = await engine().createContainer({
      name: `berth-e2e-other-${berth.owner}`,
      Image: testImage('busybox'),
      Cmd: ['sleep', '100000'],
      Labels: { 'io.berth.owner': `x${berth.owner.slice(1)}`, 'io.berth.instance': 'steady-9-0a0b0c', 'io.berth.container': 'steady', 'io.berth.role': 'container' },
      HostConfig: { NetworkMode: 'none' },
    });
    foreign.push(other.id);
    await other.start();
    const vip = (await berth.client.getService('default', 'steady').catch(() => undefined))?.spec.clusterIP;
    assert.equal(vip, undefined, 'the server is down');

    berth = await startBerth({ dataDir, instanceRange: RANGE, docker: net });
    await waitFor('3 instances adopted', async () => {
      const types = [];
      for await (const e of berth.client.events('default', 'steady')) if (e.type === 'instance.adopted') types.push(e.instance);
      return new Set(types).size === 3;
    }, { timeoutMs: 60_000, intervalMs: 250 });
    await waitFor('the unclaimed container removed', async () => !(await containersOf(engine(), berth.owner, { all: true })).some((c) => c.Id === ghost.id), { timeoutMs: 30_000, intervalMs: 250 });
    await converged('steady', 3);

    const instancesAfter = await running('steady');
    assert.deepEqual(instancesAfter.map((i) => [i.id, i.restarts]), instancesBefore.map((i) => [i.id, 0]), 'the same instances, none restarted');
    const containersAfter = await snapshot(berth.owner);
    assert.deepEqual([...containersAfter.entries()].sort(), [...containersBefore.entries()].sort(), 'the same containers, started once, at the same time');
    const otherNow = await engine().getContainer(other.id).inspect();
    assert.equal(otherNow.State.Running, true, 'another owner\'s container is left alone');

    const svc = await berth.client.getService('default', 'steady');
    const served = new Set<string>();
    await waitFor('the 3 adopted instances serve through the virtual IP', async () => {
      for (let k = 0; k < 9; k++) served.add((await httpGet(svc.spec.clusterIP as string, 8080)).body.trim());
      return served.size === 3;
    }, { timeoutMs: 30_000, intervalMs: 100 });
    assert.deepEqual([...served].sort(), ['steady-1 1', 'steady-2 1', 'steady-3 1']);
  });

  it('a docker kill of one app container is healed in its slot: a new instance, the old container and sandbox removed', async () => {
    const before = await running('steady');
    const victim = before.find((i) => i.slot === 2);
    assert.ok(victim);
    const victimContainers = (await containersOf(engine(), berth.owner, { all: true })).filter((c) => c.Labels['io.berth.instance'] === victim.id);
    assert.equal(victimContainers.length, 2, 'an app container and a sandbox');
    const app = victimContainers.find((c) => c.Labels['io.berth.role'] === 'container');
    assert.ok(app);
    await engine().getContainer(app.Id).kill({ signal: 'SIGKILL' });

    const healed = await waitFor('slot 2 healed by a new instance', async () => {
      const now = await running('steady');
      const two = now.find((i) => i.slot === 2);
      return now.length === 3 && two && two.id !== victim.id ? now : undefined;
    }, { timeoutMs: 60_000, intervalMs: 100 });
    for (const slot of [1, 3]) assert.equal(healed.find((i) => i.slot === slot)?.id, before.find((i) => i.slot === slot)?.id, `slot ${slot} untouched`);
    const old = (await berth.client.listInstances('default', 'steady')).find((i) => i.id === victim.id);
    assert.ok(old);
    assert.equal(old.status.state, 'failed');
    assert.equal(old.status.exitCode, 137, 'the exit code of the kill');
    await waitFor('the killed instance\'s containers removed', async () => !(await containersOf(engine(), berth.owner, { all: true })).some((c) => c.Labels['io.berth.instance'] === victim.id), { timeoutMs: 30_000, intervalMs: 250 });
    const events = [];
    for await (const e of berth.client.events('default', 'steady')) events.push(e);
    assert.ok(events.some((e) => e.type === 'instance.exited' && e.instance === victim.id), 'the exit is an event');
  });

  for (const order of ['stop-first', 'start-first'] as const) {
    it(`rolls out 6 container replicas ${order}, 2 at a time, without failing a request through the virtual IP`, async () => {
      const name = `rolling-${order}`;
      const update = { parallelism: 2, monitor: '1s', order };
      await berth.client.createService('default', appSpec(name, 6, { env: { DELAY_MS: '50' }, updateConfig: update }), { deploy: true });
      await converged(name, 6);
      const svc = await berth.client.getService('default', name);
      const load = startLoad(svc.spec.clusterIP as string, 8080, { concurrency: 8 });
      let result: LoadResult;
      try {
        await waitFor('the load to get going', () => load.ok() >= 20, { timeoutMs: 20_000 });
        await berth.client.updateService('default', name, appSpec(name, 6, { env: { DELAY_MS: '50', VERSION: '2' }, updateConfig: update }), { deploy: true, version: svc.version });
        await converged(name, 6);
        const settled = load.ok();
        await waitFor('requests after the rollout', () => load.ok() >= settled + 20, { timeoutMs: 20_000 });
      } finally {
        result = await load.stop();
      }
      assert.equal(result.failed, 0, `${result.failed} of ${result.ok + result.failed} requests failed:\n${result.errors.join('\n')}`);
      assert.ok(result.ok > 100, `only ${result.ok} requests were answered`);
      const versions = new Set([...result.byInstance.keys()].map((body) => body.split(' ')[1]));
      assert.deepEqual([...versions].sort(), ['1', '2'], 'the loop was answered by the old and the new version');
      const now = await running(name);
      assert.equal(now.length, 6);
      for (const i of now) assert.equal(i.generation, (await berth.client.getService('default', name)).deployment?.generation, `${i.id} runs the new spec`);
      const types = new Set<string>();
      for await (const e of berth.client.events('default', name)) types.add(e.type);
      assert.ok(types.has('instance.draining') && types.has('instance.drained'), `the stopped instances drained: ${[...types].join(', ')}`);
    });
  }
});
