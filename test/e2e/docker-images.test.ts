import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isApiError } from '../../src/client/index.js';
import { dockerForTests } from '../../src/drivers/docker/engine-gate.js';
import { testImage } from '../../src/drivers/docker/test-images.js';
import { cleanup, startBerth, waitFor, type DockerOptions, type RunningBerth } from './harness.js';
import { cli, dockerNetworkFor, removeDockerState } from './docker-harness.js';

/*
 * Issue 10, acceptance: an image that cannot be had. Its deploy fails within its bound (the CLI exits
 * non-zero, naming the image and the reason), `why` says the same, and the slot's restarts back off
 * (Kubernetes' ErrImagePull → ImagePullBackOff) instead of looping at full speed. And a server whose
 * Docker driver is off (BERTH_DOCKER=off) refuses the deploy of an image at once, saying why.
 */

const docker = await dockerForTests();
const skip = docker ? undefined : 'no Docker engine answers (see the SKIP line above)';
const RANGE = '127.11.67.0/24';
/** A registry on a port where nothing listens: the engine's pull is refused at once. */
const MISSING = '127.0.0.1:1/nope/nothing:1';

describe('images that cannot run', { ...(skip ? { skip } : {}), timeout: 300_000 }, () => {
  let berth: RunningBerth;
  let net: DockerOptions;
  before(async () => {
    if (!docker) return;
    net = await dockerNetworkFor(docker, 'images', RANGE);
    berth = await startBerth({ instanceRange: RANGE, docker: net });
  });
  after(async () => {
    if (!docker || !berth) return;
    try {
      await cleanup(berth);
    } finally {
      await removeDockerState(docker, net, [berth.owner]);
    }
  });

  it('an image that does not exist: the deploy fails within its bound, why names the image and the reason, restarts back off', async () => {
    const started = Date.now();
    const deploy = cli(berth.url, ['service', 'create', 'ghost', MISSING, '--restart-delay', '1s', '--deploy', '--timeout', '120s']);
    const tookMs = Date.now() - started;
    assert.equal(deploy.status, 1, `the deploy fails:\n${deploy.stdout}\n${deploy.stderr}`);
    assert.ok(tookMs < 60_000, `the deploy failed after ${tookMs} ms, not at its 120 s timeout`);
    const reason = `image ${MISSING} cannot be pulled: registry 127.0.0.1:1 is unreachable`;
    assert.ok(deploy.stderr.includes(reason), `the CLI names the image and the reason:\n${deploy.stderr}`);

    const why = cli(berth.url, ['service', 'why', 'ghost']);
    assert.ok(why.stdout.includes(reason), `why names the image and the reason:\n${why.stdout}${why.stderr}`);
    assert.match(why.stdout, /connection refused/, 'with the engine\'s own words');
    const explained = await berth.client.why('default', 'ghost');
    assert.ok(explained.reasons.some((r) => r.message.includes(reason)), JSON.stringify(explained.reasons));

    // Back-off: the slot's instances are created 1 s, 2 s, 4 s, 8 s … after the previous one was
    // rejected (each pull's own time comes on top), never in a hot loop. Watch 15 s from the first.
    const timeline = async (): Promise<{ type: string; at: number }[]> => {
      const out: { type: string; at: number }[] = [];
      for await (const e of berth.client.events('default', 'ghost')) if (e.type === 'instance.created' || e.type === 'instance.rejected') out.push({ type: e.type, at: Date.parse(e.time) });
      return out.sort((a, b) => a.at - b.at);
    };
    const first = (await timeline()).find((e) => e.type === 'instance.created')?.at as number;
    await waitFor('15 s since the first instance', () => Date.now() - first >= 15_000, { timeoutMs: 30_000, intervalMs: 250 });
    const events = (await timeline()).filter((e) => e.at - first <= 15_000);
    const created = events.filter((e) => e.type === 'instance.created');
    assert.ok(created.length >= 3 && created.length <= 6, `${created.length} instances in 15 s: restarts go on, backing off (${created.map((e) => e.at - first).join(', ')} ms)`);
    // The wait of each restart: from a rejection to the next instance.
    const delays = created.slice(1).map((c) => c.at - Math.max(...events.filter((e) => e.type === 'instance.rejected' && e.at <= c.at).map((e) => e.at)));
    assert.ok((delays[delays.length - 1] as number) >= 1.5 * (delays[0] as number), `the delays grow: ${delays.join(', ')} ms`);
    const instances = await berth.client.listInstances('default', 'ghost');
    assert.ok(instances.every((i) => i.status.state === 'rejected' || i.status.state === 'new' || i.status.state === 'pending' || i.status.state === 'starting'), `no instance ran: ${instances.map((i) => i.status.state).join(', ')}`);
  });
});

// Needs no engine: the driver is off whether one answers or not.
describe('a server with the Docker driver off', { timeout: 120_000 }, () => {
  let berth: RunningBerth;
  before(async () => {
    // startBerth without `docker` sets BERTH_DOCKER=off.
    berth = await startBerth({ instanceRange: '127.11.68.0/24' });
  });
  after(async () => {
    if (berth) await cleanup(berth);
  });

  it('says why in `version`, and refuses a deploy of an image at once (422 DRIVER_UNAVAILABLE), storing nothing', async () => {
    const version = cli(berth.url, ['version']);
    assert.equal(version.status, 0, version.stderr);
    assert.match(version.stdout, /^docker driver unavailable: turned off \(BERTH_DOCKER=off\)$/m);
    const [node] = await berth.client.nodes();
    assert.deepEqual(node?.drivers, ['process']);

    const started = Date.now();
    const deploy = cli(berth.url, ['service', 'create', 'img', testImage('busybox'), '--cmd', 'sleep 1000', '--deploy', '--timeout', '120s']);
    const tookMs = Date.now() - started;
    assert.equal(deploy.status, 1, `the deploy of an image fails:\n${deploy.stdout}`);
    assert.ok(tookMs < 30_000, `it failed after ${tookMs} ms, not at its timeout`);
    assert.match(deploy.stderr, /cannot deploy service "img" in grid "default": its containers run images, and no node has the docker driver \(node \S+: turned off \(BERTH_DOCKER=off\)\)/, deploy.stderr);
    assert.deepEqual(await berth.client.listServices('default'), [], 'nothing is stored');

    // Created without a deploy it is kept; its deploy is refused the same way, and starts nothing.
    const created = cli(berth.url, ['service', 'create', 'img', testImage('busybox'), '--cmd', 'sleep 1000']);
    assert.equal(created.status, 0, created.stderr);
    await assert.rejects(berth.client.deploy('default', 'img'), (e: unknown) => isApiError(e) && e.status === 422 && e.code === 'DRIVER_UNAVAILABLE');
    assert.deepEqual(await berth.client.listInstances('default', 'img'), []);
  });
});
