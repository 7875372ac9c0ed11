import { createHmac, hash, randomBytes, timingSafeEqual } from 'node:crypto';

/*
 * Bearer tokens: random secrets with a public id in front, stored only as a SHA-256 hash (a token has
 * 256 bits of entropy, so a fast hash is enough, as GitHub's and Kubernetes' bootstrap tokens), and
 * signed tokens whose content is checked with an HMAC key instead of a stored row (Kubernetes'
 * service-account tokens are signed the same way, with JWT).
 */

/** `berth_<id>_<secret>`: id 12 hex characters, secret 43 base64url characters (32 random bytes). */
const TOKEN = /^berth_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

export interface MintedToken {
  /** The public id: listed, revoked by, and the first part of the token. */
  readonly id: string;
  /** The whole token, shown once to whoever created it; never stored. */
  readonly token: string;
  /** SHA-256 of the secret part, hex: what the store keeps. */
  readonly hash: string;
}

/** A new random token. */
export function mintToken(): MintedToken {
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { id, token: `berth_${id}_${secret}`, hash: hashSecret(secret) };
}

/** Splits a token into its id and the hash of its secret; undefined when it is not shaped as one. */
export function parseToken(token: string): { readonly id: string; readonly hash: string } | undefined {
  const m = TOKEN.exec(token);
  if (!m) return undefined;
  return { id: m[1] as string, hash: hashSecret(m[2] as string) };
}

/** Constant-time comparison of two hex hashes of the same length. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

function hashSecret(secret: string): string {
  return hash('sha256', secret, 'hex');
}

/** `<prefix>.<base64url(payload)>.<base64url(HMAC-SHA256)>`. */
export function signToken(prefix: string, payload: string, key: Buffer): string {
  const body = Buffer.from(payload).toString('base64url');
  return `${prefix}.${body}.${hmac(`${prefix}.${body}`, key)}`;
}

/** The payload of a token made by `signToken` with this prefix and key; undefined when forged or malformed. */
export function verifySignedToken(prefix: string, token: string, key: Buffer): string | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== prefix) return undefined;
  const [, body, mac] = parts as [string, string, string];
  const expected = Buffer.from(hmac(`${prefix}.${body}`, key));
  const given = Buffer.from(mac);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
  return Buffer.from(body, 'base64url').toString();
}

/** A new random HMAC key (32 bytes). */
export function newSigningKey(): Buffer {
  return randomBytes(32);
}

function hmac(data: string, key: Buffer): string {
  return createHmac('sha256', key).update(data).digest('base64url');
}
