import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, resolve } from 'node:path';
import type { Logger, SystemUser } from '../lib/index.js';
import { CodedError, lookupUser } from '../lib/index.js';
import type { InstancePolicy } from '../model/index.js';

/** The system user berth creates to run instances when the server runs as root (as Docker's `dockremap`). */
export const INSTANCE_SYSTEM_USER = 'berth';

/** Who instances run as, and whether berth must switch to that user to start them. */
export interface InstanceUser {
  readonly user: SystemUser;
  /**
   * The name (or uid) the agent passes to the driver for a container without `user`: set when the
   * server runs as root; undefined when instances simply run as the server's own user.
   */
  readonly switchTo: string | undefined;
  /** How it was chosen (logged at start). */
  readonly source: 'option' | 'existing' | 'created' | 'nobody' | 'server';
}

export interface ChooseInstanceUserOptions {
  /** `--instance-user` / BERTH_INSTANCE_USER. */
  readonly requested?: string | undefined;
  /** The server's effective uid and gid (tests pass their own). */
  readonly euid: number;
  readonly egid: number;
  readonly lookup?: (user: string) => SystemUser | undefined;
  /** Creates the system user; returns false when that failed (no useradd, read-only /etc …). */
  readonly createSystemUser?: (name: string) => boolean;
}

/**
 * Chooses the user instances run as (docs/security.md):
 * - `requested` when given: it must exist, and without root it must be the server's own user
 *   (switching users needs root);
 * - as root: the `berth` system user, created at first start (`useradd --system --no-create-home
 *   --shell /usr/sbin/nologin --user-group berth`), or `nobody` when it cannot be created — never root;
 * - otherwise: the server's own user, with no switch at all.
 * @throws CodedError `INSTANCE_USER_INVALID` for a requested user that cannot be used, or as root when
 *   neither `berth` nor `nobody` exists.
 */
export function chooseInstanceUser(options: ChooseInstanceUserOptions): InstanceUser {
  const lookup = options.lookup ?? ((u: string) => lookupUser(u));
  const root = options.euid === 0;
  if (options.requested !== undefined && options.requested !== '') {
    const found = lookup(options.requested);
    if (!found) throw new CodedError('INSTANCE_USER_INVALID', `--instance-user "${options.requested}": no such user in /etc/passwd; create it, or name another`, { user: options.requested });
    if (!root && found.uid !== options.euid) {
      throw new CodedError('INSTANCE_USER_INVALID', `--instance-user "${options.requested}": running instances as another user needs the server to run as root (it runs as uid ${options.euid})`, { user: options.requested, euid: options.euid });
    }
    return { user: found, switchTo: root ? options.requested : undefined, source: 'option' };
  }
  if (!root) return { user: serverUser(options.euid, options.egid, lookup), switchTo: undefined, source: 'server' };

  const unprivileged = (u: SystemUser | undefined): u is SystemUser => u !== undefined && u.uid !== 0;
  const existing = lookup(INSTANCE_SYSTEM_USER);
  if (unprivileged(existing)) return { user: existing, switchTo: INSTANCE_SYSTEM_USER, source: 'existing' };
  if (existing === undefined && (options.createSystemUser ?? createSystemUser)(INSTANCE_SYSTEM_USER)) {
    const created = lookup(INSTANCE_SYSTEM_USER);
    if (unprivileged(created)) return { user: created, switchTo: INSTANCE_SYSTEM_USER, source: 'created' };
  }
  const nobody = lookup('nobody');
  if (unprivileged(nobody)) return { user: nobody, switchTo: 'nobody', source: 'nobody' };
  throw new CodedError('INSTANCE_USER_INVALID', `no unprivileged user to run instances as: neither "${INSTANCE_SYSTEM_USER}" (could not be created) nor "nobody" exists; create one, or name one with --instance-user`, {});
}

function serverUser(euid: number, egid: number, lookup: (user: string) => SystemUser | undefined): SystemUser {
  const byUid = lookup(String(euid));
  if (byUid && byUid.name !== String(euid)) return { ...byUid, gid: egid };
  let name = String(euid);
  try {
    name = userInfo().username;
  } catch {
    // a uid without a passwd entry (a container): known by number
  }
  return { name, uid: euid, gid: egid };
}

/**
 * `useradd --system …`. Several servers starting at once race for /etc/passwd's lock: a failed attempt
 * is retried twice, and counts as success when the user exists afterwards (another server made it).
 */
function createSystemUser(name: string): boolean {
  const env = { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', '--user-group', name], { env, stdio: 'ignore', timeout: 10_000 });
      return true;
    } catch {
      if (lookupUser(name)) return true;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100 * (attempt + 1));
    }
  }
  return false;
}

/**
 * The first directory from `dir` upwards that `user` cannot pass through (no search permission for
 * it), or undefined when it reaches `dir`. Used at start to warn that, e.g., a data directory under
 * /root (0700) cannot work for instances running as `berth`.
 */
export function firstBlockedAncestor(dir: string, user: SystemUser): string | undefined {
  if (user.uid === 0) return undefined;
  let blocked: string | undefined;
  for (let d = dir; ; d = dirname(d)) {
    try {
      const st = statSync(d);
      const bit = st.uid === user.uid ? 0o100 : st.gid === user.gid ? 0o010 : 0o001;
      if ((st.mode & bit) === 0) blocked = d;
    } catch {
      // not made yet: its parent decides
    }
    if (dirname(d) === d) break;
  }
  return blocked;
}

/**
 * The policy the API checks specs against (privilegedRequests): the default user (and its uid, when
 * known on this machine: servers on etcd know the agents' user by name only), and the roots a
 * workingDir may lie in — the data directory, plus `allowedRoots` when given, else the directory the
 * server started in (for `berth up`, the caller's directory), unless that is `/`, which would allow
 * everything.
 */
export function instancePolicyFor(user: Pick<SystemUser, 'name'> & { readonly uid?: number }, options: { readonly dataDir: string; readonly allowedRoots?: readonly string[] | undefined; readonly cwd: string }): InstancePolicy {
  const extra = options.allowedRoots && options.allowedRoots.length > 0 ? options.allowedRoots.map((r) => resolve(options.cwd, r)) : options.cwd !== '/' ? [options.cwd] : [];
  return { defaultUser: user.name, ...(user.uid !== undefined ? { defaultUid: user.uid } : {}), allowedWorkingDirRoots: [options.dataDir, ...extra] };
}

/**
 * Logs what an operator should know about the instance user at start: that it fell back to `nobody`,
 * or that it cannot pass through a directory above the data directory (say /root, 0700), so that
 * stateful services and instances without a workingDir would fail to start.
 */
export function warnAboutInstanceUser(chosen: InstanceUser, options: { readonly dataDir: string; readonly logger: Logger }): void {
  const { dataDir, logger } = options;
  const { name } = chosen.user;
  if (chosen.source === 'nobody') logger.warn({ user: name }, `could not use or create the ${INSTANCE_SYSTEM_USER} system user; instances run as nobody`);
  const blocked = chosen.switchTo ? firstBlockedAncestor(dataDir, chosen.user) : undefined;
  if (blocked) logger.warn({ dataDir, blocked, user: name }, `instances run as ${name}, who cannot pass through ${blocked}: stateful services and instances without a workingDir will not start; use a --data-dir such as /var/lib/berth`);
}
