/**
 * What the server lets an instance do without the cluster-admin role (Kubernetes' Pod Security
 * "restricted" profile; anything past it is "privileged"). app/ builds it from the server's options
 * (docs/security.md): the user instances run as and the directories a working directory may lie in.
 */
export interface InstancePolicy {
  /**
   * The user an instance runs as when its spec names none: `berth` (or `nobody`) when the server runs
   * as root, else the server's own user; `--instance-user` overrides it.
   */
  readonly defaultUser: string;
  /** The default user's uid, so that naming it by number (`user: "998"`) is not privileged either. */
  readonly defaultUid?: number;
  /**
   * Absolute directories a `workingDir` may lie in (at or below). Default (app/): the data directory
   * plus `--allowed-root` directories, or plus the directory the server started in when none is given.
   */
  readonly allowedWorkingDirRoots: readonly string[];
}

export type PrivilegedReason = 'root-user' | 'other-user' | 'working-dir-outside-roots' | 'host-path-mount';

/** One thing in a spec that only a cluster admin may ask for. */
export interface PrivilegedRequest {
  /** Field path, as in SPEC_INVALID causes: `containers[1].user`. */
  readonly field: string;
  /** The value asked for. */
  readonly value: string;
  readonly reason: PrivilegedReason;
  /** `containers[0].user: "root" runs as root (uid 0); instances run as "berth" unless a cluster admin says otherwise`. */
  readonly message: string;
}

/** The parts of a container spec the policy reads (a parsed ContainerSpec or a raw input alike). */
interface ContainerLike {
  readonly user?: string | undefined;
  readonly workingDir?: string | undefined;
  readonly image?: string | undefined;
  readonly mounts?: readonly { readonly type?: unknown; readonly source?: unknown }[] | undefined;
}

/**
 * Lists what in `spec` needs the cluster-admin role under `policy` (empty: anyone who may create the
 * service may create it as it is). Pure: the API calls it before it stores a create or update and
 * answers 403 naming the fields when the caller is no cluster admin.
 *
 * - `user` naming root (`root`, uid `0`, `0:GID`) or any user other than the default.
 * - `workingDir` outside every allowed root, compared lexically after normalizing `.` and `..` (a
 *   symbolic link inside an allowed root is not followed: the instance still runs as its user and gets
 *   only that user's access there). A container with an `image` is skipped: its working directory is
 *   inside the image, not on the host.
 * - every `bind` mount (`mounts[j]` of type bind): it puts a host path into a container, which
 *   usually runs as root inside (Swarm's and Kubernetes' hostPath are privileged for the same reason).
 *   Named volumes and tmpfs stay inside Docker and are not listed.
 */
export function privilegedRequests(spec: { readonly containers?: readonly ContainerLike[] | undefined }, policy: InstancePolicy): PrivilegedRequest[] {
  const found: PrivilegedRequest[] = [];
  const roots = policy.allowedWorkingDirRoots.map(normalizeDir);
  (spec.containers ?? []).forEach((c, i) => {
    const user = c.user;
    if (user !== undefined && !isDefaultUser(user, policy)) {
      const field = `containers[${i}].user`;
      const root = isRootUser(user);
      found.push({
        field,
        value: user,
        reason: root ? 'root-user' : 'other-user',
        message: `${field}: "${user}" ${root ? 'runs as root (uid 0)' : 'is not the default instance user'}; instances run as "${policy.defaultUser}" unless a cluster admin asks for another user`,
      });
    }
    const wd = c.workingDir;
    if (wd !== undefined && c.image === undefined && !roots.some((r) => isUnder(normalizeDir(wd), r))) {
      const field = `containers[${i}].workingDir`;
      found.push({
        field,
        value: wd,
        reason: 'working-dir-outside-roots',
        message: `${field}: "${wd}" is outside the directories instances may run in (${roots.join(', ') || 'none'}); only a cluster admin may choose another`,
      });
    }
    (Array.isArray(c.mounts) ? c.mounts : []).forEach((m, j) => {
      if (m?.type !== 'bind') return;
      const field = `containers[${i}].mounts[${j}]`;
      const source = typeof m.source === 'string' ? m.source : '';
      found.push({
        field,
        value: source,
        reason: 'host-path-mount',
        message: `${field}: a bind mount of the host path "${source}" gives the container the host's files; only a cluster admin may mount host paths (a named volume or tmpfs needs no privilege)`,
      });
    });
  });
  return found;
}

/** `root`, or uid 0 by number (`0`, `00`, `0:0`, `0:1000`). */
export function isRootUser(user: string): boolean {
  return user === 'root' || /^0+(:\d+)?$/.test(user);
}

function isDefaultUser(user: string, policy: InstancePolicy): boolean {
  if (user === policy.defaultUser) return true;
  return policy.defaultUid !== undefined && /^\d+$/.test(user) && Number(user) === policy.defaultUid;
}

/** `/a/./b/../c/` → `/a/c` (POSIX, lexical; no node:path here: the console imports model/ too). */
function normalizeDir(dir: string): string {
  const parts: string[] = [];
  for (const part of dir.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return dir.startsWith('/') ? `/${parts.join('/')}` : parts.join('/');
}

function isUnder(dir: string, root: string): boolean {
  if (!root.startsWith('/')) return false; // a relative root allows nothing
  return root === '/' || dir === root || dir.startsWith(`${root}/`);
}
