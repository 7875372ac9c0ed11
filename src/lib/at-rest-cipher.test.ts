import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { AT_REST_PREFIX, AtRestCipher, AtRestDecryptError, IDENTITY_KEY, parseAtRestKeys, parseCiphertext } from './at-rest-cipher.js';

const k1 = { name: 'k1', key: randomBytes(32) };
const k2 = { name: 'k2', key: randomBytes(32) };

function refusedFor(reason: 'unknown-key' | 'tampered', pattern: RegExp) {
  return (e: unknown): boolean => e instanceof AtRestDecryptError && e.code === 'SECRET_UNREADABLE' && e.reason === reason && pattern.test(e.message);
}

describe('AtRestCipher', () => {
  it('round-trips a value under the first key, and the stored string names that key and holds no plaintext', () => {
    const cipher = new AtRestCipher([k1, k2]);
    const stored = cipher.encrypt('hunter2 and more', 'secrets/default/db');
    assert.ok(stored.startsWith(`${AT_REST_PREFIX}k1:`), stored);
    assert.ok(!stored.includes('hunter2'));
    assert.equal(parseCiphertext(stored)?.keyName, 'k1');
    assert.equal(cipher.decrypt(stored, 'secrets/default/db'), 'hunter2 and more');
  });

  it('uses a fresh nonce: the same value encrypts to different strings', () => {
    const cipher = new AtRestCipher([k1]);
    assert.notEqual(cipher.encrypt('x', 'c'), cipher.encrypt('x', 'c'));
  });

  it('rotation: a value written under the old key still decrypts once a new key is first, and new writes use the new key', () => {
    const old = new AtRestCipher([k1]);
    const written = old.encrypt('v', 'c');
    const rotated = new AtRestCipher([k2, k1]);
    assert.equal(rotated.writeKey, 'k2');
    assert.equal(rotated.decrypt(written, 'c'), 'v');
    assert.equal(parseCiphertext(rotated.encrypt('v', 'c'))?.keyName, 'k2');
  });

  it('refuses a value under a key it does not have, naming the key and the fix', () => {
    const written = new AtRestCipher([k1]).encrypt('v', 'c');
    assert.throws(() => new AtRestCipher([k2]).decrypt(written, 'c'), refusedFor('unknown-key', /key "k1".*does not have \(it has: k2\).*add that key/));
  });

  it('refuses a tampered ciphertext (a flipped byte, a truncation), a key of the same name with other bytes, and another context', () => {
    const cipher = new AtRestCipher([k1]);
    const written = cipher.encrypt('value', 'secrets/default/a');
    const blob = parseCiphertext(written)?.blob as Buffer;
    const flipped = Buffer.from(blob);
    flipped[14] = (flipped[14] as number) ^ 1;
    assert.throws(() => cipher.decrypt(`${AT_REST_PREFIX}k1:${flipped.toString('base64')}`, 'secrets/default/a'), refusedFor('tampered', /does not authenticate/));
    assert.throws(() => cipher.decrypt(`${AT_REST_PREFIX}k1:${blob.subarray(0, 20).toString('base64')}`, 'secrets/default/a'), refusedFor('tampered', /k1/));
    assert.throws(() => cipher.decrypt(`${AT_REST_PREFIX}k1:`, 'secrets/default/a'), refusedFor('tampered', /k1/));
    assert.throws(() => new AtRestCipher([{ name: 'k1', key: randomBytes(32) }]).decrypt(written, 'secrets/default/a'), refusedFor('tampered', /k1/));
    assert.throws(() => cipher.decrypt(written, 'secrets/default/b'), refusedFor('tampered', /secrets\/default\/b/));
  });

  it('reads a value without the prefix as the plaintext it is (written before encryption was configured)', () => {
    assert.equal(new AtRestCipher([k1]).decrypt('{"a":"b"}', 'c'), '{"a":"b"}');
  });

  it('identity first writes plaintext and still decrypts with the keys after it', () => {
    const written = new AtRestCipher([k1]).encrypt('v', 'c');
    const identity = new AtRestCipher([IDENTITY_KEY, k1]);
    assert.equal(identity.writeKey, IDENTITY_KEY);
    assert.equal(identity.encrypt('plain', 'c'), 'plain');
    assert.equal(identity.decrypt(written, 'c'), 'v');
  });

  it('refuses no key, a repeated name, a key that is not 32 bytes and a name with a colon', () => {
    assert.throws(() => new AtRestCipher([]), /no key/);
    assert.throws(() => new AtRestCipher([k1, { name: 'k1', key: randomBytes(32) }]), /given twice/);
    assert.throws(() => new AtRestCipher([IDENTITY_KEY, IDENTITY_KEY]), /given twice/);
    assert.throws(() => new AtRestCipher([{ name: 'short', key: randomBytes(16) }]), /16 bytes; AES-256 needs 32/);
    assert.throws(() => new AtRestCipher([{ name: 'a:b', key: randomBytes(32) }]), /not a key name/);
  });
});

describe('parseAtRestKeys', () => {
  it('reads NAME: BASE64 lines in order, with comments, blank lines and identity', () => {
    const text = `# keys\n\nk2: ${k2.key.toString('base64')}   # new\nk1:${k1.key.toString('base64')}\nidentity\n`;
    const keys = parseAtRestKeys(text);
    assert.deepEqual(
      keys.map((k) => (k === IDENTITY_KEY ? k : k.name)),
      ['k2', 'k1', IDENTITY_KEY],
    );
    assert.equal(new AtRestCipher(keys).writeKey, 'k2');
  });

  it('names the line of a malformed entry, and refuses an empty file or a short key', () => {
    assert.throws(() => parseAtRestKeys(`k1 ${k1.key.toString('base64')}`), /line 1: expected "NAME: BASE64KEY"/);
    assert.throws(() => parseAtRestKeys(`\nk1: not*base64`), /line 2: the key "k1" is not base64/);
    assert.throws(() => parseAtRestKeys('# nothing\n'), /no key in the file/);
    assert.throws(() => parseAtRestKeys(`k1: ${randomBytes(24).toString('base64')}`), /24 bytes/);
  });
});
