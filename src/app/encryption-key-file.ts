import { readFileSync, statSync } from 'node:fs';
import type { Logger } from '../lib/index.js';
import { AtRestCipher, CodedError, parseAtRestKeys } from '../lib/index.js';
import type { SqliteStore } from '../store/index.js';

/**
 * `berth server --encryption-key-file PATH` (docs/security.md, "Secrets at rest"): the keys that encrypt
 * secret values and the cluster's signing key at rest, as kube-apiserver's `--encryption-provider-config`.
 * One `NAME: BASE64` line per 32-byte key (`head -c 32 /dev/urandom | base64`); the first encrypts, all
 * decrypt; `identity` first writes plaintext. Every server of a cluster needs the same file.
 *
 * The file must be a regular file that only its owner can read or write (mode 0600 or 0400, as ssh
 * wants of a private key): a key others can read protects nothing.
 * @throws CodedError `ENCRYPTION_CONFIG_INVALID` naming the file: unreadable, readable or writable by
 *   group or others, or not a key file (the line, a repeated name, a key that is not 32 bytes)
 */
export function loadEncryptionKeyFile(path: string): AtRestCipher {
  const invalid = (why: string): CodedError => new CodedError('ENCRYPTION_CONFIG_INVALID', `--encryption-key-file ${path}: ${why}`, { path });
  let text: string;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw invalid('not a regular file');
    if ((st.mode & 0o077) !== 0) throw invalid(`its mode is ${(st.mode & 0o777).toString(8).padStart(4, '0')}: group and others must have no access to a key file (chmod 600 ${path})`);
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof CodedError) throw e;
    throw invalid((e as Error).message);
  }
  try {
    return new AtRestCipher(parseAtRestKeys(text));
  } catch (e) {
    throw invalid((e as Error).message);
  }
}

/**
 * The rotation step the leader (or the one server) runs at start: every secret not under the key
 * file's first key is rewritten under it, so that an older key can then be dropped from the file.
 * Secrets it cannot read are logged (by name, with the key they need) and left as they are.
 */
export function reencryptSecrets(store: SqliteStore, logger: Logger): void {
  const { rewritten, unreadable } = store.reencryptSecrets();
  if (rewritten > 0) logger.info({ rewritten }, 'secrets rewritten under the first key of --encryption-key-file');
  for (const u of unreadable) logger.error({ secret: u.secret }, u.message);
}
