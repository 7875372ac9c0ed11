import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dockerForTests } from '../../src/drivers/docker/engine-gate.js';
import { testImage } from '../../src/drivers/docker/test-images.js';
import { cleanup, startBerth, waitFor, type DockerOptions, type RunningBerth } from './harness.js';
import { cli, dockerNetworkFor, removeDockerState } from './docker-harness.js';

/*
 * Issue 10, acceptance: an image that cannot be had. Its deploy fails within its bound (the CLI exits
 * non-zero, naming the image and the reason), `why` says the same, and the slot's restarts back off
 * (Kubernetes' ErrImagePull → ImagePullBackOff) instead of looping at full speed. And a server whose
 * Docker driver is off (BERTH_DOCKER=off) refuses to run an image at once, saying why.
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

    // Back-off: the slot's instances are created 1 s, 2 s, 4 s, 8 s … apart (plus each pull's own
    // time), never in a hot loop. Watch 15 s from the first.
    const createdAt = async (): Promise<number[]> => {
      const times: number[] = [];
      for await (const e of berth.client.events('default', 'ghost')) if (e.type === 'instance.created') times.push(Date.parse(e.time));
      return times.sort((a, b) => a - b);
    };
    const first = (await createdAt())[0] as number;
    await waitFor('15 s since the first instance', () => Date.now() - first >= 15_000, { timeoutMs: 30_000, intervalMs: 250 });
    const window = (await createdAt()).filter((t) => t - first <= 15_000);
    assert.ok(window.length >= 3 && window.length <= 6, `${window.length} instances in 15 s: restarts go on, backing off (${window.map((t) => t - first).join(', ')} ms)`);
    const gaps = window.slice(1).map((t, k) => t - (window[k] as number));
    assert.ok((gaps[gaps.length - 1] as number) >= 2 * (gaps[0] as number), `the delays grow: ${gaps.join(', ')} ms`);
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

  it('says why in `version`, and a deploy of an image fails at once naming why', async () => {
    const version = cli(berth.url, ['version']);
    assert.equal(version.status, 0, version.stderr);
    assert.match(version.stdout, /^docker driver unavailable: turned off \(BERTH_DOCKER=off\)$/m);
    const [node] = await berth.client.nodes();
    assert.deepEqual(node?.drivers, ['process']);

    const started = Date.now();
    const deploy = cli(berth.url, ['service', 'create', 'img', testImage('busybox'), '--cmd', 'sleep 1000', '--deploy', '--timeout', '120s']);
    const tookMs = Date.now() - started;
    assert.notEqual(deploy.status, 0, `the deploy of an image fails:\n${deploy.stdout}`);
    assert.ok(tookMs < 30_000, `it failed after ${tookMs} ms, not at its timeout`);
    assert.match(deploy.stderr, /image/, deploy.stderr);
    assert.match(deploy.stderr, /turned off \(BERTH_DOCKER=off\)/, `the reason is named:\n${deploy.stderr}`);
  });
});
