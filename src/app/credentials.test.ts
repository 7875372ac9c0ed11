import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AtRestCipher, IDENTITY_KEY, hasCode } from '../lib/index.js';
import { openSqliteStore } from '../store/index.js';
import { ensureCredentials } from './credentials.js';

const root = mkdtempSync(join(tmpdir(), 'berth-credentials-'));
after(() => rmSync(root, { recursive: true, force: true }));

const k1 = { name: 'k1', key: randomBytes(32) };
const k2 = { name: 'k2', key: randomBytes(32) };
const now = () => '2026-12-05T00:00:00.000Z';

/** A data directory with its store; `start(cipher)` is what berth server does with it at each start. */
function dataDir() {
  const dir = mkdtempSync(join(root, 'data-'));
  const store = openSqliteStore(':memory:');
  const keyPath = join(dir, 'service-account.key');
  return { dir, keyPath, start: (cipher?: AtRestCipher) => ensureCredentials(dir, store, now, cipher).serviceAccountKey, file: () => readFileSync(keyPath) };
}

describe('ensureCredentials: the signing key at rest', () => {
  it('keeps the key as 32 bytes (0600) without a key file, the same at every start', () => {
    const d = dataDir();
    const key = d.start();
    assert.equal(key.length, 32);
    assert.deepEqual(d.file(), key);
    assert.equal(statSync(d.keyPath).mode & 0o777, 0o600);
    assert.deepEqual(d.start(), key);
  });

  it('with --encryption-key-file the file holds only ciphertext under the first key, and the same key comes back', () => {
    const d = dataDir();
    const key = d.start(new AtRestCipher([k1]));
    const text = d.file().toString('utf8');
    assert.match(text, /^berth:enc:aesgcm:v1:k1:/);
    assert.ok(!d.file().includes(key) && !text.includes(key.toString('base64')), 'neither the bytes nor their base64 are in the file');
    assert.deepEqual(d.start(new AtRestCipher([k1])), key);
    assert.equal(statSync(d.keyPath).mode & 0o777, 0o600);
  });

  it('encrypts a plaintext key at the first start with a key file, rotates it to a new first key, and identity writes it back in plaintext', () => {
    const d = dataDir();
    const key = d.start();
    assert.deepEqual(d.start(new AtRestCipher([k1])), key, 'the same key: tokens signed before stay valid');
    assert.match(d.file().toString('utf8'), /^berth:enc:aesgcm:v1:k1:/);
    assert.deepEqual(d.start(new AtRestCipher([k2, k1])), key);
    assert.match(d.file().toString('utf8'), /^berth:enc:aesgcm:v1:k2:/, 'rewritten under the new first key');
    assert.deepEqual(d.start(new AtRestCipher([IDENTITY_KEY, k2])), key);
    assert.deepEqual(d.file(), key, 'identity first: plaintext again');
  });

  it('refuses to start, naming the key and the fix, when the key is under a key it does not have, or without a key file; the file stays', () => {
    const d = dataDir();
    d.start(new AtRestCipher([k1]));
    const before = d.file();
    assert.throws(() => d.start(), (e: unknown) => hasCode(e, 'SECRET_UNREADABLE') && /encrypted with the key "k1" and this server has no --encryption-key-file/.test((e as Error).message));
    assert.throws(() => d.start(new AtRestCipher([k2])), (e: unknown) => hasCode(e, 'SECRET_UNREADABLE') && /"k1", which this server's --encryption-key-file does not have \(it has: k2\)/.test((e as Error).message));
    assert.deepEqual(d.file(), before, 'an unreadable key is never replaced by a new one (every token would break)');
  });

  it('refuses a key file whose ciphertext was changed or copied from another file', () => {
    const d = dataDir();
    d.start(new AtRestCipher([k1]));
    const text = d.file().toString('utf8').trim();
    const flipped = `${text.slice(0, -6)}${text.at(-6) === 'A' ? 'B' : 'A'}${text.slice(-5)}`;
    writeFileSync(d.keyPath, flipped, { mode: 0o600 });
    assert.throws(() => d.start(new AtRestCipher([k1])), (e: unknown) => hasCode(e, 'SECRET_UNREADABLE') && /does not authenticate/.test((e as Error).message));
    // A secret's ciphertext under the same key is bound to its secret, not to this file.
    const other = new AtRestCipher([k1]).encrypt(randomBytes(32).toString('base64'), 'secrets/default/db');
    writeFileSync(d.keyPath, other, { mode: 0o600 });
    assert.throws(() => d.start(new AtRestCipher([k1])), (e: unknown) => hasCode(e, 'SECRET_UNREADABLE'));
  });
});
