import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isApiError } from '../../src/client/index.js';
import { dockerForTests } from '../../src/drivers/docker/engine-gate.js';
import { testImage } from '../../src/drivers/docker/test-images.js';
import { cleanup, startBerth, waitFor, type DockerOptions, type RunningBerth } from './harness.js';
import { cli, containersOf, dockerNetworkFor, engineForwarder, execIn, httpGet, removeDockerState } from './docker-harness.js';

/*
 * A Docker engine that starts after `berth server` (docs/drivers.md, "Finding the engine"): the server
 * runs processes only and refuses a deploy of an image, saying the engine is asked for again; once the
 * engine answers, within the re-probe period, the node has the docker driver and the deploy runs a
 * container that answers — with no restart of berth. The engine "starts late" without a second dockerd:
 * DOCKER_HOST names a socket of this test's own where nothing listens at first, then a forwarder to
 * the machine's engine socket opens there.
 */

const docker = await dockerForTests();
const skip = docker ? undefined : 'no Docker engine answers (see the SKIP line above)';
const RANGE = '127.11.105.0/24';
/** Where the published port of the test's service opens (berth's proxy on the node's addresses). */
/** Below the ephemeral range (32768–60999), where no connection of the moment can hold it. */
const PUBLISHED = 28150;

describe('a Docker engine that starts after berth', { ...(skip ? { skip } : {}), timeout: 240_000 }, () => {
  let berth: RunningBerth;
  let net: DockerOptions;
  let dir: string;
  let socket: string;
  let forwarder: ChildProcess | undefined;
  before(async () => {
    if (!docker) return;
    dir = mkdtempSync(join(tmpdir(), 'berth-late-engine-'));
    socket = join(dir, 'engine.sock');
    net = await dockerNetworkFor(docker, 'late-engine', RANGE);
    berth = await startBerth({ instanceRange: RANGE, docker: net, env: { DOCKER_HOST: `unix://${socket}` } });
  });
  after(async () => {
    if (!docker) return;
    try {
      if (berth) await cleanup(berth);
    } finally {
      forwarder?.kill();
      if (berth) await removeDockerState(docker, net, [berth.owner]);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses an image while no engine answers, finds the engine within the re-probe period, then deploys it and its container answers', async () => {
    const host = `unix://${socket}`;
    // No engine yet: processes only, and `version` says why and that it is asked again.
    const version = cli(berth.url, ['version']);
    assert.equal(version.status, 0, version.stderr);
    assert.ok(version.stdout.includes(`docker driver unavailable: no Docker engine answers at ${host}`), version.stdout);
    assert.match(version.stdout, /berth asks again every 5 s/);
    const [before] = await berth.client.nodes();
    assert.deepEqual(before?.drivers, ['process']);
    assert.equal(before?.containerNetwork, undefined);

    const args = ['service', 'create', 'late', testImage('nginx'), '-p', `${PUBLISHED}:80`];
    const refused = cli(berth.url, [...args, '--deploy', '--timeout', '60s']);
    assert.equal(refused.status, 1, `the deploy of an image is refused:\n${refused.stdout}`);
    assert.match(refused.stderr, /no node has the docker driver/);
    assert.match(refused.stderr, /start a Docker engine \(berth finds it within 5 s, no restart needed\)/);
    assert.doesNotMatch(refused.stderr, /restart berth/);
    // Kept without a deploy: its deploy is refused the same way until the engine answers.
    const created = cli(berth.url, args);
    assert.equal(created.status, 0, created.stderr);
    await assert.rejects(berth.client.deploy('default', 'late'), (e: unknown) => isApiError(e) && e.status === 422 && e.code === 'DRIVER_UNAVAILABLE' && e.message.includes('berth finds it within 5 s'));

    // The engine "starts": within one re-probe period (5 s, plus the probe) the node has the driver.
    forwarder = await engineForwarder(socket);
    const opened = Date.now();
    const found = await waitFor('the node to gain the docker driver', async () => {
      const [node] = await berth.client.nodes();
      return node?.drivers.includes('docker') ? node : undefined;
    }, { timeoutMs: 10_000, intervalMs: 100 });
    const tookMs = Date.now() - opened;
    // One re-probe period (5 s) at most, plus the ping and the berth network's set-up on a loaded engine.
    assert.ok(tookMs <= 9_000, `found after ${tookMs} ms`);
    assert.deepEqual([...found.drivers].sort(), ['docker', 'process']);
    assert.equal(found.unavailableDrivers?.docker, undefined, JSON.stringify(found.unavailableDrivers));
    assert.equal(found.containerNetwork?.name, net.network);
    assert.equal(found.containerNetwork?.subnet, net.subnet);
    assert.ok(berth.stderr().includes(`Docker engine found at ${host}`), berth.stderr());
    const after = cli(berth.url, ['version']);
    assert.doesNotMatch(after.stdout, /docker driver unavailable/, after.stdout);

    // The deploy that was refused now runs a container on the berth network, reached at its address and the published port.
    const deploy = cli(berth.url, ['service', 'deploy', 'late', '--timeout', '120s']);
    assert.equal(deploy.status, 0, `${deploy.stdout}\n${deploy.stderr}\n${berth.stderr()}`);
    const [instance] = (await berth.client.listInstances('default', 'late')).filter((i) => i.status.state === 'running');
    assert.ok(instance, 'one running instance');
    assert.ok(instance.spec.address.startsWith(net.subnet.split('.').slice(0, 3).join('.')), `addressed on the container network: ${instance.spec.address}`);
    const containers = await docker?.listContainers({ filters: JSON.stringify({ label: [`io.berth.owner=${berth.owner}`, `io.berth.instance=${instance.id}`] }) });
    assert.ok((containers?.length ?? 0) >= 1, 'the instance runs on the engine');
    // Its sandbox asks berth's DNS on the bridge gateway, started when the engine was found.
    assert.equal(found.containerNetwork?.dns, `${found.containerNetwork?.gateway}:53`);
    const app = containers?.find((c) => c.Labels['io.berth.container'] === 'late');
    assert.ok(app, `the app container: ${JSON.stringify(containers?.map((c) => c.Labels))}`);
    const vip = (await berth.client.getService('default', 'late')).spec.clusterIP as string;
    const lookup = execIn(app.Id, 'nslookup late');
    assert.match(lookup.output, new RegExp(`Name:\\s+late\\.default\\.berth\\.local\\s+Address:\\s+${vip.replace(/\./g, '\\.')}\\b`), lookup.output);
    const direct = await waitFor('nginx at the instance address', () => httpGet(instance.spec.address, 80).catch(() => undefined), { timeoutMs: 20_000 });
    assert.equal(direct.status, 200);
    const published = await waitFor('nginx at the published port', () => httpGet('127.0.0.1', PUBLISHED).catch(() => undefined), { timeoutMs: 20_000 });
    assert.equal(published.status, 200);
  });

  it('after a restart of berth while the engine is down, the containers it left are swept once the engine answers, and the service runs again', async () => {
    assert.ok(docker && forwarder);
    const [old] = (await berth.client.listInstances('default', 'late')).filter((i) => i.status.state === 'running');
    assert.ok(old, 'the first case left one running instance');
    const left = (await containersOf(docker, berth.owner)).map((c) => c.Id);
    assert.equal(left.length, 2, 'its sandbox and its container');
    // The engine goes away (the socket with it), then berth restarts: its containers keep running on the engine.
    const exited = new Promise((resolve) => forwarder?.once('exit', resolve));
    forwarder.kill();
    await exited;
    forwarder = undefined;
    rmSync(socket, { force: true });
    await berth.stop();
    berth = await startBerth({ dataDir: berth.dataDir, instanceRange: RANGE, docker: net, env: { DOCKER_HOST: `unix://${socket}` } });
    await waitFor('the instance that cannot be recovered without the engine to count as exited', async () => {
      const inst = (await berth.client.listInstances('default', 'late')).find((i) => i.id === old.id);
      return inst?.status.state === 'failed';
    }, { timeoutMs: 15_000 });

    forwarder = await engineForwarder(socket);
    await waitFor('the containers berth left to be removed', async () => {
      const now = new Set((await containersOf(docker, berth.owner, { all: true })).map((c) => c.Id));
      return left.every((id) => !now.has(id));
    }, { timeoutMs: 15_000, intervalMs: 250 });
    const replacement = await waitFor('a new running instance', async () => (await berth.client.listInstances('default', 'late')).find((i) => i.id !== old.id && i.status.state === 'running'), { timeoutMs: 60_000, intervalMs: 250 });
    const answer = await waitFor('nginx at the new instance', () => httpGet(replacement.spec.address, 80).catch(() => undefined), { timeoutMs: 20_000 });
    assert.equal(answer.status, 200);
  });
});
