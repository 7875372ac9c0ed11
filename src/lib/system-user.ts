import { readFileSync } from 'node:fs';

/** A local account, as /etc/passwd lists it. */
export interface SystemUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

/**
 * Looks up `user` ("name", "uid" or "uid:gid") in the passwd file, as berth-shim resolves it with
 * getpwnam/getpwuid (accounts that only NSS knows — LDAP, sssd — are not seen here).
 * A bare uid missing from the file is still a user: its gid is the uid (as the shim does); `uid:gid`
 * names the gid. A name missing from the file is undefined.
 * @param passwd the file's text; default: /etc/passwd read now (no file: numeric users only)
 */
export function lookupUser(user: string, passwd?: string): SystemUser | undefined {
  const text = passwd ?? readPasswd();
  const entries = text
    .split('\n')
    .map((line) => line.split(':'))
    .filter((e) => e.length >= 4 && /^\d+$/.test(e[2] ?? '') && /^\d+$/.test(e[3] ?? ''));
  const numeric = /^(\d+)(?::(\d+))?$/.exec(user);
  if (numeric) {
    const uid = Number(numeric[1]);
    const entry = entries.find((e) => Number(e[2]) === uid);
    const gid = numeric[2] !== undefined ? Number(numeric[2]) : Number(entry?.[3] ?? uid);
    return { name: entry?.[0] ?? String(uid), uid, gid };
  }
  const entry = entries.find((e) => e[0] === user);
  return entry ? { name: user, uid: Number(entry[2]), gid: Number(entry[3]) } : undefined;
}

function readPasswd(): string {
  try {
    return readFileSync('/etc/passwd', 'utf8');
  } catch {
    return '';
  }
}
