import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { SystemUser } from '../lib/index.js';
import { hasCode } from '../lib/index.js';
import { chooseInstanceUser, firstBlockedAncestor, instancePolicyFor } from './instance-user.js';

/** A passwd of its own: lookups by name or uid, as lookupUser answers them. */
function passwd(users: SystemUser[]): (user: string) => SystemUser | undefined {
  return (user) => users.find((u) => u.name === user || String(u.uid) === user);
}
const nobody: SystemUser = { name: 'nobody', uid: 65534, gid: 65534 };
const alice: SystemUser = { name: 'alice', uid: 1000, gid: 1000 };
const noCreate = (): boolean => assert.fail('must not create a user');

describe('chooseInstanceUser', () => {
  it('as root, uses an existing berth system user', () => {
    const berth = { name: 'berth', uid: 998, gid: 997 };
    const chosen = chooseInstanceUser({ euid: 0, egid: 0, lookup: passwd([berth, nobody]), createSystemUser: noCreate });
    assert.deepEqual(chosen, { user: berth, switchTo: 'berth', source: 'existing' });
  });

  it('as root, creates the berth system user at first start', () => {
    const users: SystemUser[] = [nobody];
    const created: string[] = [];
    const chosen = chooseInstanceUser({
      euid: 0,
      egid: 0,
      lookup: passwd(users),
      createSystemUser: (name) => {
        created.push(name);
        users.push({ name, uid: 990, gid: 990 });
        return true;
      },
    });
    assert.deepEqual(created, ['berth']);
    assert.equal(chosen.user.uid, 990);
    assert.equal(chosen.source, 'created');
  });

  it('as root, falls back to nobody when berth cannot be created — never to root', () => {
    const chosen = chooseInstanceUser({ euid: 0, egid: 0, lookup: passwd([nobody]), createSystemUser: () => false });
    assert.deepEqual(chosen, { user: nobody, switchTo: 'nobody', source: 'nobody' });
    const rootBerth = chooseInstanceUser({ euid: 0, egid: 0, lookup: passwd([{ name: 'berth', uid: 0, gid: 0 }, nobody]), createSystemUser: noCreate });
    assert.equal(rootBerth.user.name, 'nobody', 'a berth account with uid 0 is no unprivileged user');
    assert.throws(
      () => chooseInstanceUser({ euid: 0, egid: 0, lookup: passwd([]), createSystemUser: () => false }),
      (e: Error) => hasCode(e, 'INSTANCE_USER_INVALID') && /--instance-user/.test(e.message),
    );
  });

  it('as a normal user, runs instances as that user with no switch', () => {
    const chosen = chooseInstanceUser({ euid: 1000, egid: 1000, lookup: passwd([alice]), createSystemUser: noCreate });
    assert.deepEqual(chosen, { user: alice, switchTo: undefined, source: 'server' });
  });

  it('takes --instance-user when it exists and can be switched to', () => {
    assert.deepEqual(chooseInstanceUser({ requested: 'alice', euid: 0, egid: 0, lookup: passwd([alice]) }), { user: alice, switchTo: 'alice', source: 'option' });
    assert.deepEqual(chooseInstanceUser({ requested: 'alice', euid: 1000, egid: 1000, lookup: passwd([alice]) }).switchTo, undefined);
  });

  it('refuses an --instance-user that does not exist, or that a non-root server cannot become', () => {
    assert.throws(() => chooseInstanceUser({ requested: 'ghost', euid: 0, egid: 0, lookup: passwd([]) }), (e: Error) => hasCode(e, 'INSTANCE_USER_INVALID') && /"ghost": no such user/.test(e.message));
    assert.throws(() => chooseInstanceUser({ requested: 'nobody', euid: 1000, egid: 1000, lookup: passwd([nobody, alice]) }), (e: Error) => hasCode(e, 'INSTANCE_USER_INVALID') && /needs the server to run as root/.test(e.message));
  });
});

describe('instancePolicyFor', () => {
  it('allows the data directory and the server\'s directory, or the --allowed-root ones instead', () => {
    assert.deepEqual(instancePolicyFor(alice, { dataDir: '/var/lib/berth', cwd: '/home/alice/app' }), { defaultUser: 'alice', defaultUid: 1000, allowedWorkingDirRoots: ['/var/lib/berth', '/home/alice/app'] });
    assert.deepEqual(instancePolicyFor(alice, { dataDir: '/d', allowedRoots: ['/srv', 'rel'], cwd: '/home/alice' }).allowedWorkingDirRoots, ['/d', '/srv', '/home/alice/rel']);
  });

  it('never makes / an allowed root by default (a server started from / would allow everything)', () => {
    assert.deepEqual(instancePolicyFor(alice, { dataDir: '/var/lib/berth', cwd: '/' }).allowedWorkingDirRoots, ['/var/lib/berth']);
  });
});

describe('firstBlockedAncestor', () => {
  const base = mkdtempSync(join(tmpdir(), 'berth-blocked-'));
  after(() => rmSync(base, { recursive: true, force: true }));

  it('finds a directory on the way that the user may not pass through, and nothing when all are passable', () => {
    const closed = join(base, 'closed');
    const data = join(closed, 'data');
    mkdirSync(data, { recursive: true });
    chmodSync(base, 0o755);
    chmodSync(closed, 0o700);
    chmodSync(data, 0o711);
    assert.equal(firstBlockedAncestor(data, nobody), closed);
    chmodSync(closed, 0o711);
    assert.equal(firstBlockedAncestor(data, nobody), undefined);
    assert.equal(firstBlockedAncestor('/root/x', { name: 'root', uid: 0, gid: 0 }), undefined, 'root passes everywhere');
  });
});
