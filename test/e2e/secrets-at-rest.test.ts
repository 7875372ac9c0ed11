import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { BIN, cleanup, startBerth, tempDir, waitFor } from './harness.js';
import type { RunningBerth } from './harness.js';

/*
 * `berth server --encryption-key-file` end to end (docs/security.md, "Secrets at rest"): the instance
 * gets the value, the database files never hold it, and a rotation (a new key first, the old one
 * after) rewrites the row under the new key at the next start.
 */

const VALUE = 'at-rest-e2e-canary-93d1';

function berth(url: string, args: string[], token: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, '--host', url, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', BERTH_CONFIG: join(tempDir(), 'config'), BERTH_TOKEN: token }, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function secretRow(dataDir: string): string {
  const db = new Database(join(dataDir, 'berth.db'), { readonly: true });
  try {
    return JSON.stringify(db.prepare('SELECT * FROM secrets').all());
  } finally {
    db.close();
  }
}

/** What the instance of `api` prints: the md5 of the secret value it was given. */
const DIGEST = createHash('md5').update(VALUE).digest('hex');

/** Creates and deploys `api` with the secret as DB_PASSWORD, and waits until its instance printed the value's md5. */
async function deployReader(server: RunningBerth): Promise<void> {
  const created = berth(server.url, ['service', 'create', 'api', '--cmd', 'printf %s "$DB_PASSWORD" | md5sum; sleep 300', '--secret-env', `DB_PASSWORD=${VALUE}`, '--deploy'], server.token);
  assert.equal(created.status, 0, created.stderr);
  await waitFor('the instance saw the value', async () => {
    for await (const line of server.client.logs('default', 'api')) if (line.text.startsWith(DIGEST)) return true;
    return false;
  }, { timeoutMs: 20_000 });
}

describe('secrets encrypted at rest, end to end', () => {
  it('the instance gets the value, berth.db never holds it, and a rotated key file rewrites the row under the new key', async () => {
    const dataDir = tempDir();
    const keys = join(tempDir(), 'keys');
    const k1 = `k1: ${randomBytes(32).toString('base64')}`;
    writeFileSync(keys, `${k1}\n`, { mode: 0o600 });
    let server = await startBerth({ dataDir, instanceRange: '127.11.196.0/24', args: ['--encryption-key-file', keys] });
    try {
      await deployReader(server);
      assert.match(berth(server.url, ['secret', 'ls'], server.token).stdout, /api-env\s+DB_PASSWORD/);
      await server.stop();
      assert.match(secretRow(dataDir), /berth:enc:aesgcm:v1:k1:/);
      // The token-signing key is encrypted too (docs/security.md): the data directory alone forges nothing.
      const signingKey = join(dataDir, 'service-account.key');
      assert.match(readFileSync(signingKey, 'utf8'), /^berth:enc:aesgcm:v1:k1:/);
      for (const file of readdirSync(dataDir).filter((f) => f.startsWith('berth.db'))) {
        assert.ok(!readFileSync(join(dataDir, file)).includes(VALUE), `${file} holds the plaintext`);
      }

      writeFileSync(keys, `k2: ${randomBytes(32).toString('base64')}\n${k1}\n`, { mode: 0o600 });
      server = await startBerth({ dataDir, instanceRange: '127.11.196.0/24', args: ['--encryption-key-file', keys] });
      assert.match(secretRow(dataDir), /berth:enc:aesgcm:v1:k2:/);
      assert.match(readFileSync(signingKey, 'utf8'), /^berth:enc:aesgcm:v1:k2:/);
      const before = (await server.client.listInstances('default', 'api')).map((i) => i.id);
      const restarted = berth(server.url, ['service', 'restart', 'api'], server.token);
      assert.equal(restarted.status, 0, restarted.stderr);
      // A new instance, started from the row under k2, sees the value.
      const fresh = await waitFor('a new instance runs', async () => (await server.client.listInstances('default', 'api')).find((i) => !before.includes(i.id) && i.status.state === 'running'), { timeoutMs: 20_000 });
      await waitFor('the new instance saw the value', async () => {
        for await (const line of server.client.logs('default', 'api', { instance: fresh.id })) if (line.text.startsWith(DIGEST)) return true;
        return false;
      }, { timeoutMs: 20_000 });
    } finally {
      await cleanup(server);
    }
  });

  it('--encryption-key-command: the keys come from what a command prints (a KMS client), and a failing command stops the start, naming why', async () => {
    // A stand-in for a KMS's client: the key file lies on disk only wrapped (base64 here), mode 0644.
    const wrapped = join(tempDir(), 'keys.wrapped');
    writeFileSync(wrapped, Buffer.from(`kms1: ${randomBytes(32).toString('base64')}\n`).toString('base64'));
    await assert.rejects(
      startBerth({ instanceRange: '127.11.196.0/24', args: ['--encryption-key-command', 'echo "kms: access denied" >&2; exit 3'] }),
      /exited with [1-9][\s\S]*--encryption-key-command: it exited with 3: kms: access denied/,
    );
    const dataDir = tempDir();
    const server = await startBerth({ dataDir, instanceRange: '127.11.196.0/24', args: ['--encryption-key-command', `base64 -d '${wrapped}'`] });
    try {
      await deployReader(server);
      assert.match(secretRow(dataDir), /berth:enc:aesgcm:v1:kms1:/);
      assert.ok(!secretRow(dataDir).includes(VALUE));
    } finally {
      await cleanup(server);
    }
  });
});
