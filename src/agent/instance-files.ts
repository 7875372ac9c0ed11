import type { Dirent } from 'node:fs';
import { chmodSync, lchownSync, lstatSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { lookupUser } from '../lib/index.js';

/*
 * Where the agent keeps an instance on the node: `<data>/instances/<id>/` is the state directory its
 * containers share (the driver's files are named after the container), and
 * `<data>/instances/<id>/<container>.handle.json` holds each container's driver handle, written before
 * the status says running, so a restarted berth can re-adopt it and read its logs after it ended.
 *
 * Modes (docs/security.md): directories berth makes on the way are 0711 (a container running as
 * another user passes through to its own directory, but lists nothing), files 0600, and a stateful
 * slot's data directory 0700, owned by the user its instance runs as.
 */

export function instanceDir(dataDir: string, instanceId: string): string {
  return join(dataDir, 'instances', instanceId);
}

/** Container names are DNS labels, safe as file names. */
export function handleFile(dataDir: string, instanceId: string, container: string): string {
  return join(instanceDir(dataDir, instanceId), `${container}.handle.json`);
}

/**
 * Writes a container's handle record (`{ name, handle, … }`, mode 0600) off the event loop (a hundred
 * containers starting at once make each file operation wait on the directories their shims are
 * creating), before the status says running. No rename: a file torn by a crash mid-write fails to
 * parse and counts as missing, like no file at all.
 */
export async function writeHandleFile(dataDir: string, instanceId: string, record: { readonly name: string }): Promise<void> {
  const file = handleFile(dataDir, instanceId, record.name);
  try {
    await writeFile(file, JSON.stringify(record), { mode: 0o600 });
  } catch {
    await mkdir(instanceDir(dataDir, instanceId), { recursive: true, mode: 0o711 }); // a driver that keeps no files of its own (fake, docker)
    await writeFile(file, JSON.stringify(record), { mode: 0o600 });
  }
}

/** The record `writeHandleFile` wrote, or undefined when it is missing or torn. */
export function readHandleFile<T>(dataDir: string, instanceId: string, container: string): T | undefined {
  try {
    return JSON.parse(readFileSync(handleFile(dataDir, instanceId, container), 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/**
 * Makes a stateful slot's data directory (parents 0711) and, when berth runs as root and `user` is
 * known, hands it to that user with mode 0700, so that the instance can write it and nobody else can
 * read it. A directory found owned by someone else (made when instances ran as another user) is
 * handed over with everything in it, as Kubernetes' fsGroup does: lchown, never following a link.
 * Without root, or for a user /etc/passwd does not know (the start then fails with the shim's
 * "no such user"), the directory is only made.
 */
export function prepareSlotDir(dir: string, user: string | undefined): void {
  mkdirSync(dir, { recursive: true, mode: 0o711 });
  if (user === undefined || typeof process.getuid !== 'function' || process.getuid() !== 0) return;
  const owner = lookupUser(user);
  if (!owner) return;
  const st = lstatSync(dir);
  if (st.uid !== owner.uid || st.gid !== owner.gid) chownTree(dir, owner.uid, owner.gid);
  if ((st.mode & 0o777) !== 0o700) chmodSync(dir, 0o700);
}

function chownTree(path: string, uid: number, gid: number): void {
  lchownSync(path, uid, gid);
  let entries: Dirent[];
  try {
    if (!lstatSync(path).isDirectory()) return;
    entries = readdirSync(path, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const child = join(path, e.name);
    if (e.isDirectory()) chownTree(child, uid, gid);
    else lchownSync(child, uid, gid);
  }
}
