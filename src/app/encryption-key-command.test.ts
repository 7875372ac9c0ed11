import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { hasCode } from '../lib/index.js';
import { KEY_COMMAND_MAX_BYTES, loadEncryptionKeyCommand, loadEncryptionKeys } from './encryption-key-file.js';

/*
 * `berth server --encryption-key-command` (docs/security.md, "Keys from a command"): real /bin/sh
 * commands, as a KMS's client would be run.
 */

const dir = mkdtempSync(join(tmpdir(), 'berth-key-command-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const line = (name: string): string => `${name}: ${randomBytes(32).toString('base64')}`;
const invalid = (pattern: RegExp) => (e: Error): boolean => hasCode(e, 'ENCRYPTION_CONFIG_INVALID') && e.message.startsWith('--encryption-key-command: ') && pattern.test(e.message);

/** Whether a process still runs: there and not a zombie waiting for init to reap it (/proc/PID/stat). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe('--encryption-key-command', () => {
  it('reads the keys the command prints: the first encrypts, all decrypt, as the same text in a key file', async () => {
    const k2 = line('k2');
    const k1 = line('k1');
    // A stand-in for a KMS's client: the keys lie on disk only wrapped (here: base64 of the key file).
    const wrapped = join(dir, 'keys.wrapped');
    writeFileSync(wrapped, Buffer.from(`# unwrapped by the command\n${k2}\n${k1}\n`).toString('base64'));
    const cipher = await loadEncryptionKeyCommand(`base64 -d '${wrapped}'`);
    assert.equal(cipher.writeKey, 'k2');
    const older = await loadEncryptionKeyCommand(`printf '%s\\n' '${k1}'`);
    const sealed = older.encrypt('a value', 'secrets/default/db');
    assert.equal(cipher.decrypt(sealed, 'secrets/default/db'), 'a value', 'k1 decrypts what a server with k1 first wrote');
    assert.match(cipher.encrypt('a value', 'secrets/default/db'), /^berth:enc:aesgcm:v1:k2:/);
  });

  it('a command that fails names its exit and quotes its standard error, never what it printed', async () => {
    const key = line('k1');
    await assert.rejects(loadEncryptionKeyCommand(`echo '${key}'; echo 'kms: access denied' >&2; exit 3`), (e: Error) => invalid(/exited with 3: kms: access denied$/)(e) && !e.message.includes(key.slice(4)));
    await assert.rejects(loadEncryptionKeyCommand('no-such-kms-client-4f2 decrypt'), invalid(/exited with 127: .*not found/));
    await assert.rejects(loadEncryptionKeyCommand('kill -9 $$'), invalid(/was killed by SIGKILL/));
  });

  it('a command that hangs is given up after the timeout, with its whole process group', async () => {
    const pidFile = join(dir, 'sleeper.pid');
    const started = Date.now();
    await assert.rejects(loadEncryptionKeyCommand(`sleep 30 & echo $! > '${pidFile}'; wait`, { timeoutMs: 300 }), invalid(/did not finish within 0\.3 s/));
    assert.ok(Date.now() - started < 5000, `given up after ${Date.now() - started} ms`);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    assert.ok(pid > 0);
    // The shell's child is killed with it (its process group), not left holding the pipe.
    for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(alive(pid), false, `the command's child ${pid} is still running`);
  });

  it('refuses output past the limit, output that is no key file, and an empty command', async () => {
    await assert.rejects(loadEncryptionKeyCommand(`head -c ${KEY_COMMAND_MAX_BYTES + 1} /dev/zero`), invalid(/printed more than 64 KiB/));
    await assert.rejects(loadEncryptionKeyCommand('echo not-a-key-file'), invalid(/not a key file: line 1: expected "NAME: BASE64KEY"/));
    await assert.rejects(loadEncryptionKeyCommand('true'), invalid(/not a key file: no key/));
    await assert.rejects(loadEncryptionKeyCommand(`echo 'k1: ${randomBytes(16).toString('base64')}'`), invalid(/16 bytes; AES-256 needs 32/));
    await assert.rejects(loadEncryptionKeyCommand('  '), invalid(/the command is empty/));
  });

  it('takes the file or the command, never both, and neither means no encryption', async () => {
    const file = join(dir, 'keys');
    writeFileSync(file, `${line('k1')}\n`, { mode: 0o600 });
    await assert.rejects(loadEncryptionKeys({ encryptionKeyFile: file, encryptionKeyCommand: `cat '${file}'` }), (e: Error) => hasCode(e, 'ENCRYPTION_CONFIG_INVALID') && /both give the keys: give one of them/.test(e.message));
    assert.equal(await loadEncryptionKeys({}), undefined);
    assert.equal((await loadEncryptionKeys({ encryptionKeyCommand: `cat '${file}'` }))?.writeKey, 'k1');
    assert.equal((await loadEncryptionKeys({ encryptionKeyFile: file }))?.writeKey, 'k1');
    assert.ok(existsSync(file));
  });
});
