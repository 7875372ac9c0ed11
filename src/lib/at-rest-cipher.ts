import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { CodedError } from './coded-error.js';

/*
 * Encryption at rest of values the store keeps (secret values, the cluster's signing key), as
 * kube-apiserver's EncryptionConfiguration with the aesgcm provider: a list of named keys, the first
 * one encrypts every new write, all of them decrypt, and a value without the prefix is read as the
 * plaintext it is (Kubernetes' `identity` provider, always last here so that values written before
 * encryption was configured stay readable).
 *
 * A ciphertext is one string: `berth:enc:aesgcm:v1:<key name>:<base64(nonce 12 B | ciphertext | tag 16 B)>`
 * (k8s:enc:aesgcm:v1:<name>: in Kubernetes). The prefix names the key, so a reader knows which key it
 * needs, and a rotation is: put a new key first, rewrite every value, drop the old key. `context` (e.g.
 * `secrets/<grid>/<name>`) is authenticated data, as Kubernetes authenticates the etcd key: a ciphertext
 * copied under another name fails its tag like a tampered one.
 */

/** What every encrypted value starts with. */
export const AT_REST_PREFIX = 'berth:enc:aesgcm:v1:';

/** The name a key file gives to "write plaintext" (Kubernetes' `identity` provider). */
export const IDENTITY_KEY = 'identity';

const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

/** One named AES-256 key. */
export interface AtRestKey {
  readonly name: string;
  readonly key: Buffer;
}

/**
 * A key that cannot be used on a value: the key named in its prefix is not among this server's
 * (`reason: 'unknown-key'`), or the ciphertext does not authenticate (`'tampered'`: changed, truncated,
 * or copied from another record, or a key of the same name with other bytes).
 */
export class AtRestDecryptError extends CodedError {
  constructor(
    readonly reason: 'unknown-key' | 'tampered',
    readonly keyName: string,
    message: string,
  ) {
    super('SECRET_UNREADABLE', message, { reason, keyName });
  }
}

/**
 * The keys of `--encryption-key-file`, ready to encrypt and decrypt. `writeKey` is the first entry's
 * name (`identity`: new values are written in plaintext, the others still decrypt).
 */
export class AtRestCipher {
  readonly #keys = new Map<string, Buffer>();
  readonly #write: AtRestKey | undefined;

  /** @throws Error when `keys` is empty, a name repeats or is malformed, or a key is not 32 bytes */
  constructor(keys: readonly (AtRestKey | typeof IDENTITY_KEY)[]) {
    if (keys.length === 0) throw new Error('no key: give at least one');
    const seen = new Set<string>();
    for (const k of keys) {
      const name = k === IDENTITY_KEY ? IDENTITY_KEY : k.name;
      if (seen.has(name)) throw new Error(`the key name "${name}" is given twice`);
      seen.add(name);
      if (k === IDENTITY_KEY) continue;
      if (!KEY_NAME.test(k.name) || k.name === IDENTITY_KEY) throw new Error(`"${k.name}" is not a key name (letters, digits, . _ -, at most 63, not "identity")`);
      if (k.key.length !== KEY_BYTES) throw new Error(`the key "${k.name}" has ${k.key.length} bytes; AES-256 needs ${KEY_BYTES} (head -c 32 /dev/urandom | base64)`);
      this.#keys.set(k.name, Buffer.from(k.key));
    }
    const first = keys[0];
    this.#write = first === undefined || first === IDENTITY_KEY ? undefined : { name: first.name, key: this.#keys.get(first.name) as Buffer };
  }

  /** The name new values are written under (`identity`: in plaintext). */
  get writeKey(): string {
    return this.#write?.name ?? IDENTITY_KEY;
  }

  /** The names of the keys that decrypt, in the file's order (`identity` not included). */
  get keyNames(): readonly string[] {
    return [...this.#keys.keys()];
  }

  /** `plaintext` under the write key, bound to `context`; the plaintext itself when the write key is `identity`. */
  encrypt(plaintext: string, context: string): string {
    if (!this.#write) return plaintext;
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#write.key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `${AT_REST_PREFIX}${this.#write.name}:${Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64')}`;
  }

  /**
   * The plaintext of `stored`: decrypted when it carries the prefix, else `stored` as it is (written
   * before encryption was configured).
   * @throws AtRestDecryptError (`SECRET_UNREADABLE`) naming the key: not among this server's keys, or
   *   the value does not authenticate under it with this `context`
   */
  decrypt(stored: string, context: string): string {
    const parsed = parseCiphertext(stored);
    if (!parsed) return stored;
    const key = this.#keys.get(parsed.keyName);
    if (!key) {
      throw new AtRestDecryptError(
        'unknown-key',
        parsed.keyName,
        `${context} is encrypted with the key "${parsed.keyName}", which this server's --encryption-key-file does not have (it has: ${this.keyNames.join(', ') || 'none'}); add that key to the file (every server of a cluster needs the same file) and restart`,
      );
    }
    const tampered = (): AtRestDecryptError => new AtRestDecryptError('tampered', parsed.keyName, `${context}: its ciphertext under the key "${parsed.keyName}" does not authenticate (changed, truncated, copied from another record, or the key "${parsed.keyName}" has other bytes than when it was written); it is refused`);
    if (parsed.blob.length < NONCE_BYTES + TAG_BYTES) throw tampered();
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, parsed.blob.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(parsed.blob.subarray(parsed.blob.length - TAG_BYTES));
      return Buffer.concat([decipher.update(parsed.blob.subarray(NONCE_BYTES, parsed.blob.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw tampered();
    }
  }
}

/** The key name and the bytes of an encrypted value; undefined for a value without the prefix. */
export function parseCiphertext(stored: string): { readonly keyName: string; readonly blob: Buffer } | undefined {
  if (!stored.startsWith(AT_REST_PREFIX)) return undefined;
  const rest = stored.slice(AT_REST_PREFIX.length);
  const colon = rest.indexOf(':');
  if (colon <= 0) return { keyName: rest, blob: Buffer.alloc(0) };
  return { keyName: rest.slice(0, colon), blob: Buffer.from(rest.slice(colon + 1), 'base64') };
}

/**
 * The keys of an encryption key file: one `NAME: BASE64` a line (32 bytes, `head -c 32 /dev/urandom |
 * base64`), the first encrypts, every one decrypts; a line `identity` (no value) first writes
 * plaintext. `#` starts a comment; blank lines are skipped. The file is also valid YAML (a mapping).
 * @throws Error naming the line of a malformed entry, a repeated name, a key of another length, or a file with no key
 */
export function parseAtRestKeys(text: string): (AtRestKey | typeof IDENTITY_KEY)[] {
  const keys: (AtRestKey | typeof IDENTITY_KEY)[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (line === '') return;
    if (line === IDENTITY_KEY || line === `${IDENTITY_KEY}:`) {
      keys.push(IDENTITY_KEY);
      return;
    }
    const m = /^([^:\s]+)\s*:\s*(\S+)$/.exec(line);
    if (!m) throw new Error(`line ${i + 1}: expected "NAME: BASE64KEY" (or "identity")`);
    const value = m[2] as string;
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value)) throw new Error(`line ${i + 1}: the key "${m[1]}" is not base64`);
    keys.push({ name: m[1] as string, key: Buffer.from(value, 'base64') });
  });
  if (keys.length === 0) throw new Error('no key in the file: one "NAME: BASE64KEY" a line (head -c 32 /dev/urandom | base64)');
  new AtRestCipher(keys); // the same checks as at use: names, lengths, repeats
  return keys;
}
