import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { AT_REST_PREFIX, AtRestCipher } from '../lib/index.js';
import { SecretUnreadableError } from '../model/index.js';
import { openSqliteStore } from './index.js';
import { GRID } from './testing/fixtures.js';

const k1 = { name: 'k1', key: randomBytes(32) };
const k2 = { name: 'k2', key: randomBytes(32) };
const VALUE = 'pa55-plaintext-canary-7f3a';

/** The `json` column of a secret's row, read past the store. */
function rawRow(path: string, name: string): string {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare(`SELECT json FROM secrets WHERE grid = ? AND name = ?`).get(GRID, name) as { json: string }).json;
  } finally {
    db.close();
  }
}

function unreadable(pattern: RegExp) {
  return (e: unknown): boolean => e instanceof SecretUnreadableError && e.code === 'SECRET_UNREADABLE' && pattern.test(e.message);
}

describe('SecretTable: values encrypted at rest', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-secrets-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  const dbPath = (): string => join(dir, `s${++n}`, 'berth.db');

  it('round-trips values and key names, and neither the row nor the database files hold the plaintext', () => {
    const path = dbPath();
    const store = openSqliteStore(path, { secretCipher: new AtRestCipher([k1]) });
    store.putSecret(GRID, 'db', { password: VALUE, user: 'admin' }, 'create');
    store.putSecret(GRID, 'db', { extra: 'more' }, 'merge');
    assert.equal(store.getSecretValue(GRID, 'db', 'password'), VALUE);
    assert.equal(store.getSecretValue(GRID, 'db', 'extra'), 'more');
    assert.equal(store.getSecretValue(GRID, 'db', 'nope'), undefined);
    assert.deepEqual(store.getSecret(GRID, 'db')?.keys, ['extra', 'password', 'user']);
    assert.deepEqual(store.listSecrets(GRID).map((s) => s.keys), [['extra', 'password', 'user']]);
    const row = JSON.parse(rawRow(path, 'db')) as { data: string; keys: string[] };
    assert.ok(row.data.startsWith(`${AT_REST_PREFIX}k1:`), row.data);
    assert.deepEqual(row.keys, ['extra', 'password', 'user']);
    store.close();
    for (const file of readdirSync(join(path, '..'))) {
      assert.ok(!readFileSync(join(path, '..', file)).includes(VALUE), `${file} holds the plaintext`);
    }
  });

  it('reads rows written before encryption was configured, and reencryptSecrets encrypts them', () => {
    const path = dbPath();
    const plain = openSqliteStore(path);
    plain.putSecret(GRID, 'old', { password: VALUE }, 'create');
    plain.close();
    assert.ok(rawRow(path, 'old').includes(VALUE));
    const store = openSqliteStore(path, { secretCipher: new AtRestCipher([k1]) });
    assert.equal(store.getSecretValue(GRID, 'old', 'password'), VALUE);
    const before = store.getSecret(GRID, 'old');
    assert.deepEqual(store.reencryptSecrets(), { rewritten: 1, unreadable: [] });
    assert.ok(!rawRow(path, 'old').includes(VALUE));
    assert.equal(store.getSecretValue(GRID, 'old', 'password'), VALUE);
    assert.deepEqual(store.getSecret(GRID, 'old'), before, 'times and keys kept');
    assert.deepEqual(store.reencryptSecrets(), { rewritten: 0, unreadable: [] }, 'nothing left to rewrite');
    store.close();
  });

  it('rotation: the old key still reads once a new one is first; after reencryptSecrets the old key can go', () => {
    const path = dbPath();
    const a = openSqliteStore(path, { secretCipher: new AtRestCipher([k1]) });
    a.putSecret(GRID, 's', { v: VALUE }, 'create');
    a.close();
    const b = openSqliteStore(path, { secretCipher: new AtRestCipher([k2, k1]) });
    assert.equal(b.getSecretValue(GRID, 's', 'v'), VALUE);
    assert.deepEqual(b.reencryptSecrets(), { rewritten: 1, unreadable: [] });
    b.close();
    assert.ok(JSON.parse(rawRow(path, 's')).data.startsWith(`${AT_REST_PREFIX}k2:`));
    const c = openSqliteStore(path, { secretCipher: new AtRestCipher([k2]) });
    assert.equal(c.getSecretValue(GRID, 's', 'v'), VALUE);
    c.close();
  });

  it('a key the server lacks gives SECRET_UNREADABLE naming the key and the fix, on read and merge; list, replace and rm still work', () => {
    const path = dbPath();
    const a = openSqliteStore(path, { secretCipher: new AtRestCipher([k1]) });
    a.putSecret(GRID, 's', { v: VALUE }, 'create');
    a.putSecret(GRID, 't', { v: VALUE }, 'create');
    a.close();
    const b = openSqliteStore(path, { secretCipher: new AtRestCipher([k2]) });
    assert.throws(() => b.getSecretValue(GRID, 's', 'v'), unreadable(/secret "s" in grid "default" cannot be read: .*key "k1", which this server's --encryption-key-file does not have.*add that key/));
    assert.throws(() => b.putSecret(GRID, 's', { w: 'x' }, 'merge'), unreadable(/"k1"/));
    assert.deepEqual(b.getSecret(GRID, 's')?.keys, ['v']);
    const rewrite = b.reencryptSecrets();
    assert.equal(rewrite.rewritten, 0);
    assert.deepEqual(rewrite.unreadable.map((u) => u.secret), ['default/s', 'default/t']);
    b.putSecret(GRID, 's', { v: 'new' }, 'replace');
    assert.equal(b.getSecretValue(GRID, 's', 'v'), 'new');
    b.deleteSecret(GRID, 't');
    b.close();
    const none = openSqliteStore(path);
    assert.throws(() => none.getSecretValue(GRID, 's', 'v'), unreadable(/key "k2" and this server has no --encryption-key-file; start it with the key file/));
    none.close();
  });

  it('refuses a tampered row, and a ciphertext copied onto another secret', () => {
    const path = dbPath();
    const store = openSqliteStore(path, { secretCipher: new AtRestCipher([k1]) });
    store.putSecret(GRID, 'a', { v: VALUE }, 'create');
    store.putSecret(GRID, 'b', { v: 'other' }, 'create');
    store.close();
    const raw = new Database(path);
    const rowA = JSON.parse(rawRow(path, 'a')) as { data: string };
    const blob = Buffer.from(rowA.data.slice(`${AT_REST_PREFIX}k1:`.length), 'base64');
    blob[blob.length - 1] = (blob[blob.length - 1] as number) ^ 0x80;
    raw.prepare(`UPDATE secrets SET json = ? WHERE name = 'a'`).run(JSON.stringify({ ...rowA, data: `${AT_REST_PREFIX}k1:${blob.toString('base64')}` }));
    raw.prepare(`UPDATE secrets SET json = json_set(json, '$.data', ?) WHERE name = 'b'`).run(rowA.data);
    raw.close();
    const again = openSqliteStore(path, { secretCipher: new AtRestCipher([k1]) });
    assert.throws(() => again.getSecretValue(GRID, 'a', 'v'), unreadable(/does not authenticate/));
    assert.throws(() => again.getSecretValue(GRID, 'b', 'v'), unreadable(/does not authenticate/));
    again.close();
  });

  it('identity first writes plaintext and decrypts what the keys after it wrote (turning encryption off)', () => {
    const path = dbPath();
    const a = openSqliteStore(path, { secretCipher: new AtRestCipher([k1]) });
    a.putSecret(GRID, 's', { v: VALUE }, 'create');
    a.close();
    const b = openSqliteStore(path, { secretCipher: new AtRestCipher(['identity', k1]) });
    assert.deepEqual(b.reencryptSecrets(), { rewritten: 1, unreadable: [] });
    b.close();
    assert.ok(rawRow(path, 's').includes(VALUE));
    const c = openSqliteStore(path);
    assert.equal(c.getSecretValue(GRID, 's', 'v'), VALUE);
    c.close();
  });
});
