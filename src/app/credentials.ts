import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AtRestCipher } from '../lib/index.js';
import { AtRestDecryptError, CodedError, IDENTITY_KEY, mintToken, newSigningKey, parseCiphertext, parseToken, sameHash } from '../lib/index.js';
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

/** What the signing key's ciphertext is bound to (authenticated data): it decrypts as this file only. */
const SIGNING_KEY_CONTEXT = 'service-account.key';

/**
 * Makes sure the data directory holds a working admin token and a signing key, creating them at first
 * start (as k3s writes its admin kubeconfig): `admin.token` (the token, 0600) whose hash is in the store,
 * and `service-account.key` (0600): the 32 random bytes, or, with `--encryption-key-file` (`cipher`),
 * their AES-256-GCM ciphertext under the file's first key (docs/security.md, "Secrets at rest"), as
 * the cluster record's signing key is in etcd. A key file in plaintext, or under another key of the
 * file, is rewritten under the first key at start; `identity` first writes it back in plaintext. A token
 * file whose token was revoked, or that was removed, is replaced by a new admin token. Files are written
 * to a temporary name and renamed, so a crash leaves the old file or the new one, never half of one.
 * @throws CodedError SECRET_UNREADABLE when the signing key is encrypted under a key the server does
 *   not have (or it has no key file), or its ciphertext does not authenticate: the server does not start
 */
export function ensureCredentials(dataDir: string, store: Store, nowIso: () => string, cipher?: AtRestCipher): Credentials {
  const keyPath = join(dataDir, 'service-account.key');
  const stored = existsSync(keyPath) ? readFileSync(keyPath) : undefined;
  let serviceAccountKey: Buffer | undefined;
  let under = IDENTITY_KEY;
  if (stored?.length === 32) serviceAccountKey = stored;
  else if (stored !== undefined) {
    const text = stored.toString('utf8').trim();
    const keyName = parseCiphertext(text)?.keyName;
    if (keyName !== undefined) {
      serviceAccountKey = decryptSigningKey(text, keyName, keyPath, cipher);
      under = keyName;
    }
  }
  // Absent, or neither 32 bytes nor a ciphertext (a truncated file): a new key, as at first start.
  if (!serviceAccountKey) {
    serviceAccountKey = newSigningKey();
    under = '';
  }
  const writeKey = cipher?.writeKey ?? IDENTITY_KEY;
  if (under !== writeKey) {
    writePrivate(keyPath, writeKey === IDENTITY_KEY || !cipher ? serviceAccountKey : `${cipher.encrypt(serviceAccountKey.toString('base64'), SIGNING_KEY_CONTEXT)}\n`);
  }
  chmodSync(keyPath, 0o600);

  return { ...ensureAdminToken(dataDir, store, nowIso), serviceAccountKey };
}

function decryptSigningKey(text: string, keyName: string, keyPath: string, cipher: AtRestCipher | undefined): Buffer {
  if (!cipher) {
    throw new CodedError('SECRET_UNREADABLE', `the signing key in ${keyPath} is encrypted with the key "${keyName}" and this server has no --encryption-key-file: start it with the key file that holds "${keyName}"`, { keyName });
  }
  let plain: string;
  try {
    plain = cipher.decrypt(text, SIGNING_KEY_CONTEXT);
  } catch (e) {
    if (e instanceof AtRestDecryptError) throw new CodedError('SECRET_UNREADABLE', `the signing key in ${keyPath}: ${e.message}`, { keyName: e.keyName });
    throw e;
  }
  const key = Buffer.from(plain, 'base64');
  if (key.length !== 32) throw new CodedError('SECRET_UNREADABLE', `the signing key in ${keyPath} decrypts to ${key.length} bytes, not 32; it is refused`, { keyName });
  return key;
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
