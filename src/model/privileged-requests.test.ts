import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InstancePolicy } from './privileged-requests.js';
import { isRootUser, privilegedRequests } from './privileged-requests.js';
import { parseServiceSpec } from './validate-service-spec.js';

const policy: InstancePolicy = { defaultUser: 'berth', defaultUid: 998, allowedWorkingDirRoots: ['/var/lib/berth', '/srv/app/'] };
const spec = (...containers: Record<string, unknown>[]) => parseServiceSpec({ name: 'web', containers: containers.map((c) => ({ command: ['x'], ...c })) });

describe('privilegedRequests', () => {
  it('asks nothing of a spec that names no user and runs in an allowed root', () => {
    assert.deepEqual(privilegedRequests(spec({}), policy), []);
    assert.deepEqual(privilegedRequests(spec({ workingDir: '/var/lib/berth/volumes/x' }), policy), []);
    assert.deepEqual(privilegedRequests(spec({ workingDir: '/srv/app' }), policy), [], 'a root itself is allowed, with or without its trailing slash');
  });

  it('lists user root, by name or uid 0, as needing the cluster admin', () => {
    for (const user of ['root', '0', '0:0', '00']) {
      const found = privilegedRequests(spec({ user }), policy);
      assert.equal(found.length, 1, user);
      assert.equal(found[0]?.field, 'containers[0].user');
      assert.equal(found[0]?.reason, 'root-user');
      assert.match(found[0]?.message ?? '', /runs as root/);
    }
  });

  it('lists any user other than the default, and lets the default through by name or uid', () => {
    assert.equal(privilegedRequests(spec({ user: 'postgres' }), policy)[0]?.reason, 'other-user');
    assert.equal(privilegedRequests(spec({ user: '1000' }), policy)[0]?.reason, 'other-user');
    assert.deepEqual(privilegedRequests(spec({ user: 'berth' }), policy), []);
    assert.deepEqual(privilegedRequests(spec({ user: '998' }), policy), []);
  });

  it('lists a working directory outside the allowed roots, seen through .. and look-alike prefixes', () => {
    for (const workingDir of ['/root', '/', '/var/lib/berth-other', '/var/lib/berth/../../../root', '/srv/application']) {
      const found = privilegedRequests(spec({ workingDir }), policy);
      assert.deepEqual(found.map((f) => [f.field, f.reason]), [['containers[0].workingDir', 'working-dir-outside-roots']], workingDir);
    }
    assert.deepEqual(privilegedRequests(spec({ workingDir: '/srv/app/./x/../y' }), policy), []);
  });

  it('names the container of each finding and keeps them in spec order', () => {
    const found = privilegedRequests(spec({ name: 'a' }, { name: 'b', user: 'root', workingDir: '/etc' }), policy);
    assert.deepEqual(found.map((f) => f.field), ['containers[1].user', 'containers[1].workingDir']);
  });

  it('skips the working directory of an image container (it is inside the image)', () => {
    assert.deepEqual(privilegedRequests(spec({ image: 'nginx', workingDir: '/usr/share/nginx' }), policy), []);
  });

  it('lists every bind mount of a host path, and no named volume or tmpfs', () => {
    const mounts = [
      { type: 'volume', source: 'cache', target: '/cache' },
      { type: 'bind', source: '/srv/site', target: '/site', readOnly: true },
      { type: 'tmpfs', target: '/tmp' },
      { type: 'bind', source: '/var/lib/berth/x', target: '/x' },
    ];
    const found = privilegedRequests(parseServiceSpec({ name: 'web', containers: [{ image: 'nginx', mounts }] }), policy);
    assert.deepEqual(found.map((f) => [f.field, f.value, f.reason]), [
      ['containers[0].mounts[1]', '/srv/site', 'host-path-mount'],
      ['containers[0].mounts[3]', '/var/lib/berth/x', 'host-path-mount'],
    ], 'a read-only mount and one inside an allowed root are privileged too: the container usually runs as root');
    assert.match(found[0]?.message ?? '', /bind mount of the host path "\/srv\/site" .*only a cluster admin may mount host paths/);
    assert.deepEqual(privilegedRequests({ containers: [{ mounts: [{ type: 'bind', source: '/' }] }] }, policy).map((f) => f.reason), ['host-path-mount'], 'raw input too');
  });

  it('allows everything under / when / is a root, and nothing when no root is given', () => {
    assert.deepEqual(privilegedRequests(spec({ workingDir: '/etc' }), { ...policy, allowedWorkingDirRoots: ['/'] }), []);
    assert.equal(privilegedRequests(spec({ workingDir: '/srv/app' }), { ...policy, allowedWorkingDirRoots: [] }).length, 1);
  });

  it('reads raw input as well as a parsed spec', () => {
    assert.equal(privilegedRequests({ containers: [{ user: 'root' }] }, policy).length, 1);
    assert.deepEqual(privilegedRequests({}, policy), []);
  });
});

describe('isRootUser', () => {
  it('is true only for uid 0', () => {
    assert.deepEqual(['root', '0', '0:5', 'rooty', '10', 'nobody', '1000:0'].map(isRootUser), [true, true, true, false, false, false, false]);
  });
});
