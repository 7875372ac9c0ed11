import { spawn } from 'node:child_process';
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

/** How long `--encryption-key-command` may take at start before the server gives up on it, ms. */
export const KEY_COMMAND_TIMEOUT_MS = 10_000;

/** Most bytes `--encryption-key-command` may print (a key file of hundreds of keys is a few KiB). */
export const KEY_COMMAND_MAX_BYTES = 64 * 1024;

/**
 * Where the keys of secrets at rest come from: `--encryption-key-file` or `--encryption-key-command`,
 * never both. Neither: undefined (values stored as written).
 * @throws CodedError `ENCRYPTION_CONFIG_INVALID`: both given, or what loadEncryptionKeyFile /
 *   loadEncryptionKeyCommand throw
 */
export async function loadEncryptionKeys(config: { readonly encryptionKeyFile?: string; readonly encryptionKeyCommand?: string }): Promise<AtRestCipher | undefined> {
  const { encryptionKeyFile: file, encryptionKeyCommand: command } = config;
  if (file !== undefined && command !== undefined) {
    throw new CodedError('ENCRYPTION_CONFIG_INVALID', '--encryption-key-file and --encryption-key-command both give the keys: give one of them', {});
  }
  if (file !== undefined) return loadEncryptionKeyFile(file);
  if (command !== undefined) return loadEncryptionKeyCommand(command);
  return undefined;
}

/**
 * `berth server --encryption-key-command CMD` (docs/security.md, "Keys from a command"): the keys come
 * from what CMD prints, in the key file's grammar, so that they need not lie on the server's disk — CMD
 * is typically a KMS's or a vault's client unwrapping them (`aws kms decrypt …`, `vault kv get …`,
 * `gpg --decrypt …`), as git and Docker get credentials from helper commands. It runs once, at start,
 * through `/bin/sh -c` in its own process group, with the server's environment and no input; it must
 * exit 0 within KEY_COMMAND_TIMEOUT_MS and print at most KEY_COMMAND_MAX_BYTES. What it prints is
 * never logged; its standard error (the last 500 characters) is quoted when it fails.
 * @param o.timeoutMs instead of KEY_COMMAND_TIMEOUT_MS (tests)
 * @throws CodedError `ENCRYPTION_CONFIG_INVALID` naming the option: the command failed to run, exited
 *   non-zero or on a signal, took too long (its whole process group is killed), printed too much, or
 *   printed no key file (the line, a repeated name, a key that is not 32 bytes)
 */
export async function loadEncryptionKeyCommand(command: string, o: { readonly timeoutMs?: number } = {}): Promise<AtRestCipher> {
  const invalid = (why: string): CodedError => new CodedError('ENCRYPTION_CONFIG_INVALID', `--encryption-key-command: ${why}`, {});
  if (command.trim() === '') throw invalid('the command is empty');
  const timeoutMs = o.timeoutMs ?? KEY_COMMAND_TIMEOUT_MS;
  const text = await new Promise<string>((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const out: Buffer[] = [];
    let outBytes = 0;
    let err = '';
    let failure: string | undefined;
    const killGroup = (why: string): void => {
      failure ??= why;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {}
    };
    const timer = setTimeout(() => killGroup(`it did not finish within ${timeoutMs / 1000} s`), timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes > KEY_COMMAND_MAX_BYTES) killGroup(`it printed more than ${KEY_COMMAND_MAX_BYTES / 1024} KiB: a key file is a few lines`);
      else out.push(chunk);
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      err = (err + chunk).slice(-500);
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(invalid(`it could not run: ${e.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const said = err.trim() === '' ? '' : `: ${err.trim()}`;
      if (failure !== undefined) reject(invalid(`${failure}${said}`));
      else if (code !== 0) reject(invalid(`it ${signal ? `was killed by ${signal}` : `exited with ${code}`}${said}`));
      else resolve(Buffer.concat(out).toString('utf8'));
    });
  });
  try {
    return new AtRestCipher(parseAtRestKeys(text));
  } catch (e) {
    throw invalid(`what it printed is not a key file: ${(e as Error).message}`);
  }
}

/**
 * The rotation step the leader (or the one server) runs at start: every secret not under the key
 * file's first key is rewritten under it, so that an older key can then be dropped from the file.
 * Secrets it cannot read are logged (by name, with the key they need) and left as they are.
 */
export function reencryptSecrets(store: SqliteStore, logger: Logger): void {
  const { rewritten, unreadable } = store.reencryptSecrets();
  if (rewritten > 0) logger.info({ rewritten }, 'secrets rewritten under the first key of the encryption keys');
  for (const u of unreadable) logger.error({ secret: u.secret }, u.message);
}
