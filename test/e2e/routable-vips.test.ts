import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { BIN, cleanup, cliEnv, startBerth, waitFor, type RunningBerth } from './harness.js';
import { echoSpec } from './programs.js';

/*
 * A new user's path through the README: the main example first, on a machine with no Docker engine
 * yet, then Docker installed and the images example. Virtual IPs taken on loopback then are out of a
 * container's reach for good (a virtual IP never changes), and nginx answered 502. As root, a new data
 * directory now takes a routed range even before an engine answers (src/app/docker-setup.ts
 * wantsRoutableServiceRange), and the server routes it locally (`ip route … local … dev lo`).
 */

/** The local route of `range` in the kernel's local table, '' when there is none. */
function localRoute(range: string): string {
  return execFileSync('ip', ['route', 'show', 'table', 'local', range], { encoding: 'utf8' }).trim();
}

describe('virtual IPs a container could reach, without a Docker engine yet', () => {
  const root = process.geteuid?.() === 0;
  let server: RunningBerth;
  let range = '';
  before(async () => {
    // No engine answers at DOCKER_HOST, and no service range is set: the server picks its default.
    server = await startBerth({ instanceRange: '127.11.117.0/24', env: { BERTH_DOCKER: 'auto', DOCKER_HOST: 'unix:///nonexistent/berth-test/docker.sock', BERTH_SERVICE_RANGE: '' } });
    range = (await server.client.version()).cluster?.serviceRange ?? '';
  });
  let stopped = false;
  after(async () => {
    if (!stopped) await cleanup(server);
  });

  it('as root, takes a non-loopback range and routes it; a virtual IP there answers from the host (as another user: loopback)', async () => {
    assert.match(range, /^\d+\.\d+\.\d+\.\d+\/\d+$/, `the server reports its service range (${range})`);
    if (!root) {
      // Only root may route a range locally: as another user virtual IPs stay on loopback.
      assert.match(range, /^127\./);
      return;
    }
    assert.doesNotMatch(range, /^127\./, 'not a loopback range: containers could not reach it');
    assert.notEqual(localRoute(range), '', `a local route for ${range}`);
    const web = await server.client.createService('default', { ...echoSpec('web', 2), ports: [{ name: 'http', port: 80, targetPort: 8080 }] }, { deploy: true });
    const vip = web.spec.clusterIP ?? '';
    assert.ok(!vip.startsWith('127.') && vip !== '', `a virtual IP in the routed range (${vip})`);
    const answer = await waitFor('an answer through the virtual IP', async () => {
      const r = await fetch(`http://${vip}/`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
      return r?.status === 200 ? r.text() : undefined;
    });
    assert.ok(answer.length > 0);
    // `berth version` says the docker driver is missing and why, and names no container problem.
    const version = spawnSync(process.execPath, [BIN, '--host', server.url, 'version'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...cliEnv(server.url) } });
    assert.equal(version.status, 0, version.stderr);
    assert.match(version.stdout, /^docker driver unavailable: no Docker engine answers at unix:\/\/\/nonexistent\/berth-test\/docker\.sock/m);
    assert.doesNotMatch(version.stdout, /^containers:/m);
  });

  it('takes the route away again when it stops', async () => {
    stopped = true;
    await cleanup(server);
    assert.equal(localRoute(range), '', `no local route for ${range} after a clean stop`);
  });
});
