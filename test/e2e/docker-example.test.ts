import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dockerForTests } from '../../src/drivers/docker/engine-gate.js';
import { ROOT, cleanup, freePort, startBerth, tempDir, waitFor, type DockerOptions, type RunningBerth } from './harness.js';
import { cli, dockerNetworkFor, httpGet, removeDockerState } from './docker-harness.js';

/*
 * Issue 10, acceptance: the example that runs with images (examples/shop-images/berth.yaml, on the
 * images of scripts/build-images.sh) comes up with `berth up -f` and serves through its published
 * port: nginx front ends proxy /api/ to the api by its short name, each api instance's sidecar reaches
 * its api on localhost, and the stateful store keeps counting across a restart of its instance.
 */

const docker = await dockerForTests();
const skip = docker ? undefined : 'no Docker engine answers (see the SKIP line above)';
const RANGE = '127.11.69.0/24';
const EXAMPLE = join(ROOT, 'examples/shop-images/berth.yaml');
/** The port the example publishes its front end on; the test runs a copy on a free one. */
const PUBLISHED = 8480;

describe('examples/shop-images', { ...(skip ? { skip } : {}), timeout: 300_000 }, () => {
  let berth: RunningBerth;
  let net: DockerOptions;
  const dir = tempDir('berth-shop-images-');
  before(async () => {
    if (!docker) return;
    net = await dockerNetworkFor(docker, 'example', RANGE);
    berth = await startBerth({ instanceRange: RANGE, docker: net });
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    if (!docker || !berth) return;
    try {
      await cleanup(berth);
    } finally {
      await removeDockerState(docker, net, [berth.owner]);
    }
  });

  it('berth up -f examples/shop-images/berth.yaml serves the shop on its published port; down removes it', async () => {
    const port = await freePort();
    const text = readFileSync(EXAMPLE, 'utf8');
    assert.equal(text.split(`published: ${PUBLISHED}`).length, 2, `the example publishes its front end on ${PUBLISHED}, once`);
    const manifest = join(dir, 'berth.yaml');
    writeFileSync(manifest, text.replace(`published: ${PUBLISHED}`, `published: ${port}`));

    const up = cli(berth.url, ['up', '-f', manifest, '--no-follow', '--timeout', '180s'], { timeoutMs: 200_000 });
    assert.equal(up.status, 0, up.stderr + up.stdout);
    assert.match(up.stdout, /service store is running: 1\/1 instances/);
    assert.match(up.stdout, /service api is running: 3\/3 instances/);
    assert.match(up.stdout, /service web is running: 2\/2 instances/);
    assert.ok(up.stdout.includes(`http://127.0.0.1:${port} (published)`), `up says where the shop answers:\n${up.stdout}`);

    const apis = new Set<string>();
    const webs = new Set<string>();
    const visits: number[] = [];
    await waitFor('answers through both front ends from all 3 api instances', async () => {
      const r = await httpGet('127.0.0.1', port, { path: '/api/hello' });
      assert.equal(r.status, 200, `HTTP ${r.status}: ${r.body}`);
      const answer = JSON.parse(r.body) as { servedBy: string; visits: number };
      apis.add(answer.servedBy);
      webs.add(String(r.headers['x-served-by']));
      visits.push(answer.visits);
      return apis.size === 3 && webs.size === 2;
    }, { timeoutMs: 60_000, intervalMs: 50 });
    assert.deepEqual([...apis].sort(), ['api-1', 'api-2', 'api-3']);
    assert.deepEqual([...webs].sort(), ['web-1', 'web-2']);
    assert.deepEqual(visits, visits.map((_, k) => (visits[0] as number) + k), 'the store counts every visit once, in order');
    const page = await httpGet('127.0.0.1', port);
    assert.match(page.body, /berth example shop, in containers/);

    // Each api instance's sidecar reached its own api on localhost.
    await waitFor('the 3 sidecars report the api up on localhost', async () => {
      const seen = new Set<number>();
      for await (const l of berth.client.logs('default', 'api', { tail: 200 })) if (l.container === 'watch' && l.text === 'watch: the api on localhost:8080 is up') seen.add(l.slot);
      return seen.size === 3;
    }, { timeoutMs: 30_000, intervalMs: 500 });

    // The store's count is in its slot's volume: a restart of its instance keeps it.
    const before = visits[visits.length - 1] as number;
    const restarted = cli(berth.url, ['service', 'restart', 'store', '--timeout', '120s']);
    assert.equal(restarted.status, 0, restarted.stderr + restarted.stdout);
    const next = await waitFor('the shop answers after the store restarted', async () => {
      const r = await httpGet('127.0.0.1', port, { path: '/api/hello' });
      return r.status === 200 ? (JSON.parse(r.body) as { visits: number }).visits : undefined;
    }, { timeoutMs: 60_000, intervalMs: 200 });
    assert.equal(next, before + 1, 'the count went on from where it was');

    const down = cli(berth.url, ['down', '-f', manifest, '--timeout', '120s']);
    assert.equal(down.status, 0, down.stderr + down.stdout);
    assert.deepEqual(await berth.client.listServices('default'), []);
    await assert.rejects(httpGet('127.0.0.1', port, { timeoutMs: 2000 }), 'the published port is closed');
  });
});
