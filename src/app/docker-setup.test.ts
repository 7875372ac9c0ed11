import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loopbackVipProblem, wantsRoutableServiceRange } from './docker-setup.js';

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
