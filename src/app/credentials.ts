import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mintToken, newSigningKey, parseToken, sameHash } from '../lib/index.js';
import type { Store } from '../store/index.js';

/** The admin credential and the key that signs instances' service-account tokens. */
export interface Credentials {
  /** A cluster-admin token (`<dataDir>/admin.token`). */
  readonly adminToken: string;
  readonly adminTokenPath: string;
  readonly serviceAccountKey: Buffer;
}

/** The admin token's id prefix in `token ls`: its name says where it came from. */
const ADMIN_TOKEN_NAME = 'admin';

/**
 * Makes sure the data directory holds a working admin token and a signing key, creating them at first
 * start (as k3s writes its admin kubeconfig): `admin.token` (the token, 0600) whose hash is in the store,
 * and `service-account.key` (32 random bytes, 0600). A token file whose token was revoked, or that was
 * removed, is replaced by a new admin token. Files are written to a temporary name and renamed, so a
 * crash leaves the old file or the new one, never half of one.
 */
export function ensureCredentials(dataDir: string, store: Store, nowIso: () => string): Credentials {
  const keyPath = join(dataDir, 'service-account.key');
  let serviceAccountKey: Buffer;
  if (existsSync(keyPath) && readFileSync(keyPath).length === 32) {
    serviceAccountKey = readFileSync(keyPath);
  } else {
    serviceAccountKey = newSigningKey();
    writePrivate(keyPath, serviceAccountKey);
  }
  chmodSync(keyPath, 0o600);

  return { ...ensureAdminToken(dataDir, store, nowIso), serviceAccountKey };
}

/**
 * The admin token in `<data>/admin.token` (0600): kept while the store still knows it, else a new one
 * is minted and stored (a cluster-admin token named ADMIN_TOKEN_NAME).
 */
export function ensureAdminToken(dataDir: string, store: Store, nowIso: () => string): { adminToken: string; adminTokenPath: string } {
  const adminTokenPath = join(dataDir, 'admin.token');
  const existing = existsSync(adminTokenPath) ? readFileSync(adminTokenPath, 'utf8').trim() : undefined;
  if (existing !== undefined && stillValid(store, existing)) {
    chmodSync(adminTokenPath, 0o600);
    return { adminToken: existing, adminTokenPath };
  }
  const minted = mintToken();
  store.createToken({ id: minted.id, hash: minted.hash, name: ADMIN_TOKEN_NAME, role: 'cluster-admin', createdAt: nowIso(), createdBy: 'berth server' });
  writePrivate(adminTokenPath, `${minted.token}\n`);
  return { adminToken: minted.token, adminTokenPath };
}

function stillValid(store: Store, token: string): boolean {
  const parsed = parseToken(token);
  const stored = parsed ? store.getToken(parsed.id) : undefined;
  return parsed !== undefined && stored !== undefined && stored.role === 'cluster-admin' && stored.expiresAt === undefined && sameHash(stored.hash, parsed.hash);
}

function writePrivate(path: string, content: string | Buffer): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}
