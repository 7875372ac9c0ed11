import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../lib/index.js';
import { loopbackVipProblem, setupDocker, wantsRoutableServiceRange } from './docker-setup.js';

// CapEff lines of /proc/self/status: a root shell's full set, and root in a container without NET_ADMIN (Docker's default set).
const FULL = 'Name:\tnode\nCapEff:\t000001ffffffffff\n';
const NO_NET_ADMIN = 'Name:\tnode\nCapEff:\t00000000a80425fb\n';

describe('wantsRoutableServiceRange', () => {
  it('takes a routed range as root with Docker on, whatever the capabilities say (the route says why if it fails)', () => {
    assert.equal(wantsRoutableServiceRange({ dockerOn: true, euid: 0, env: {}, status: NO_NET_ADMIN }), true);
  });

  it('takes one as root without an engine yet when it may add routes, so an engine installed later reaches virtual IPs', () => {
    assert.equal(wantsRoutableServiceRange({ dockerOn: false, euid: 0, env: {}, status: FULL }), true);
  });

  it('keeps loopback without CAP_NET_ADMIN, as another user, or with BERTH_DOCKER=off', () => {
    assert.equal(wantsRoutableServiceRange({ dockerOn: false, euid: 0, env: {}, status: NO_NET_ADMIN }), false);
    assert.equal(wantsRoutableServiceRange({ dockerOn: true, euid: 1000, env: {}, status: FULL }), false);
    assert.equal(wantsRoutableServiceRange({ dockerOn: false, euid: 0, env: { BERTH_DOCKER: 'off' }, status: FULL }), false);
    assert.equal(wantsRoutableServiceRange({ dockerOn: false, euid: 0, env: {}, status: 'Name:\tnode\n' }), false);
  });
});

describe('loopbackVipProblem', () => {
  it('counts the services whose virtual IPs are loopback addresses, names none (GET /v1/version is public), and gives the fix', () => {
    const problem = loopbackVipProblem([{ clusterIP: '127.96.0.2' }, { clusterIP: '127.96.0.1' }, { clusterIP: '10.214.0.3' }, { clusterIP: 'None' }, {}]);
    assert.match(problem ?? '', /^the virtual IPs of 2 service\(s\) are loopback addresses \(127\.x in CLUSTER-IP of berth service ls\)/);
    assert.match(problem ?? '', /remove and create those services again/);
  });

  it('says nothing when every virtual IP is reachable', () => {
    assert.equal(loopbackVipProblem([{ clusterIP: '10.214.0.3' }, { clusterIP: 'None' }]), undefined);
  });
});

describe('setupDocker without an engine', () => {
  it('says no engine answers at a socket nobody listens on, and that it is asked again (retried)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-docker-setup-'));
    try {
      const host = `unix://${join(dir, 'docker.sock')}`;
      const setup = await setupDocker(dir, { DOCKER_HOST: host }, silentLogger, { pingTimeoutMs: 500 });
      assert.equal(setup.driver, undefined);
      assert.ok(!setup.driver);
      assert.match(setup.unavailable, new RegExp(`^no Docker engine answers at ${host}: .*berth asks again every 5 s`));
      assert.equal(setup.retried, true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is not retried when turned off or when DOCKER_HOST is malformed: no engine can appear there', async () => {
    const off = await setupDocker('/tmp/none', { BERTH_DOCKER: 'off' }, silentLogger);
    assert.ok(!off.driver);
    assert.deepEqual(off, { unavailable: 'turned off (BERTH_DOCKER=off)', retried: false });
    const bad = await setupDocker('/tmp/none', { DOCKER_HOST: 'ssh://box' }, silentLogger);
    assert.ok(!bad.driver);
    assert.equal(bad.retried, false);
  });
});
