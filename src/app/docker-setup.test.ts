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
  it('names the services whose virtual IPs are loopback addresses, and the fix', () => {
    const problem = loopbackVipProblem([
      { grid: 'default', name: 'api', clusterIP: '127.96.0.2' },
      { grid: 'shop', name: 'store', clusterIP: '127.96.0.1' },
      { grid: 'default', name: 'web', clusterIP: '10.214.0.3' },
      { grid: 'default', name: 'headless', clusterIP: 'None' },
      { grid: 'default', name: 'external' },
    ]);
    assert.match(problem ?? '', /^the virtual IPs of 2 service\(s\) \(api 127\.96\.0\.2, shop\/store 127\.96\.0\.1\) are loopback addresses/);
    assert.match(problem ?? '', /remove and create those services again/);
  });

  it('says nothing when every virtual IP is reachable, and counts what it does not name', () => {
    assert.equal(loopbackVipProblem([{ grid: 'default', name: 'web', clusterIP: '10.214.0.3' }]), undefined);
    const many = Array.from({ length: 7 }, (_, k) => ({ grid: 'default', name: `s${k}`, clusterIP: `127.96.0.${k + 1}` }));
    assert.match(loopbackVipProblem(many) ?? '', /\(s0 127\.96\.0\.1, s1 127\.96\.0\.2, s2 127\.96\.0\.3, s3 127\.96\.0\.4, s4 127\.96\.0\.5 and 2 more\)/);
  });
});
