import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import type { EtcdCluster } from '../../test/etcd-harness.js';
import { startEtcd } from '../../test/etcd-harness.js';
import { BerthClient } from '../client/index.js';
import { AT_REST_PREFIX, hasCode, silentLogger } from '../lib/index.js';
import type { RunningControlPlane } from './control-plane.js';
import { startControlPlane } from './control-plane.js';
import { loadEncryptionKeyFile } from './encryption-key-file.js';

// This file's etcd ports: 23960–23961.
const VALUE = 'etcd-plaintext-canary-41c9';
const dir = mkdtempSync(join(tmpdir(), 'berth-at-rest-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function keyFile(name: string, lines: readonly string[], mode = 0o600): string {
  const path = join(dir, name);
  writeFileSync(path, `# test keys\n${lines.join('\n')}\n`, { mode });
  chmodSync(path, mode);
  return path;
}
const line = (name: string): string => `${name}: ${randomBytes(32).toString('base64')}`;

describe('--encryption-key-file', () => {
  it('refuses a key file others can read, naming the file and the fix, and a malformed one naming the line', () => {
    const open = keyFile('open.keys', [line('k1')], 0o644);
    assert.throws(() => loadEncryptionKeyFile(open), (e: Error) => hasCode(e, 'ENCRYPTION_CONFIG_INVALID') && e.message.includes(open) && /0644.*chmod 600/.test(e.message));
    const bad = keyFile('bad.keys', ['k1 nothing']);
    assert.throws(() => loadEncryptionKeyFile(bad), (e: Error) => hasCode(e, 'ENCRYPTION_CONFIG_INVALID') && /line 2/.test(e.message));
    assert.throws(() => loadEncryptionKeyFile(join(dir, 'missing.keys')), (e: Error) => hasCode(e, 'ENCRYPTION_CONFIG_INVALID') && /ENOENT/.test(e.message));
    assert.equal(loadEncryptionKeyFile(keyFile('ok.keys', [line('k2'), line('k1')])).writeKey, 'k2');
  });
});

describe('--encryption-key-file with --store etcd://', () => {
  let etcd: EtcdCluster;
  let raw: Etcd3;
  const servers: RunningControlPlane[] = [];
  const keys = keyFile('cluster.keys', [line('k1')]);
  const start = (name: string, encryptionKeyFile: string | undefined): Promise<RunningControlPlane> =>
    startControlPlane({
      dataDir: join(dir, name),
      listen: '127.0.0.1:0',
      store: `etcd://${(etcd.endpoints[0] as string).replace('http://', '')}`,
      leaderLeaseSeconds: 2,
      logger: silentLogger,
      onFatal: () => undefined,
      ...(encryptionKeyFile ? { encryptionKeyFile } : {}),
    });

  before(async () => {
    etcd = await startEtcd({ members: 1, portBase: 23960 });
    raw = new Etcd3({ hosts: etcd.endpoints as string[] });
  });
  after(async () => {
    for (const s of servers) await s.stop();
    raw.close();
    await etcd.stop();
  });

  it('etcd holds no plaintext of a secret value nor the signing key; the leader and a follower both read the value', async () => {
    const leader = await start('a', keys);
    servers.push(leader);
    await leader.leading;
    const follower = await start('b', keys);
    servers.push(follower);
    const token = readFileSync(leader.adminTokenPath, 'utf8').trim();
    // Written through the follower (it passes the write on to the leader), read back through both.
    await new BerthClient({ baseUrl: follower.url, token }).createSecret('default', 'db', { password: VALUE });
    assert.deepEqual((await new BerthClient({ baseUrl: leader.url, token }).listSecrets('default')).map((s) => s.keys), [['password']]);
    assert.equal(leader.store.getSecretValue('default', 'db', 'password'), VALUE);
    const seen = async (): Promise<string | undefined> => follower.store.getSecretValue('default', 'db', 'password');
    for (let i = 0; i < 100 && (await seen()) === undefined; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await seen(), VALUE, 'the follower\'s replica decrypts the leader\'s row');

    const all = await raw.getAll().prefix('/berth/').strings();
    const secretRows = Object.entries(all).filter(([k]) => k.includes('/secrets/'));
    assert.ok(secretRows.length > 0, `a secrets row is in etcd (keys: ${Object.keys(all).join(' ')})`);
    assert.ok(secretRows.every(([, v]) => v.includes(AT_REST_PREFIX)), 'the secrets rows are ciphertext');
    for (const [k, v] of Object.entries(all)) assert.ok(!v.includes(VALUE), `${k} holds the plaintext`);
    const record = JSON.parse(all['/berth/cluster'] as string) as { serviceAccountKey: string };
    assert.ok(record.serviceAccountKey.startsWith(`${AT_REST_PREFIX}k1:`), record.serviceAccountKey);
  });

  it('a server without the key file, or with other keys, does not start: it names the key it lacks', async () => {
    await assert.rejects(start('c', undefined), (e: Error) => hasCode(e, 'SECRET_UNREADABLE') && /key "k1" and this server has no --encryption-key-file/.test(e.message));
    await assert.rejects(start('d', keyFile('other.keys', [line('k9')])), (e: Error) => hasCode(e, 'SECRET_UNREADABLE') && /key "k1", which this server's --encryption-key-file does not have \(it has: k9\)/.test(e.message));
  });
});
