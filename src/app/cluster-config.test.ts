import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { AT_REST_PREFIX, AtRestCipher, hasCode, silentLogger } from '../lib/index.js';
import { openKvBackend } from '../store/index.js';
import { loadClusterConfig } from './cluster-config.js';

const k1 = { name: 'k1', key: randomBytes(32) };
const k2 = { name: 'k2', key: randomBytes(32) };
const env = {};

async function record(kv: ReturnType<typeof openKvBackend>): Promise<string> {
  const r = await kv.txn({ compare: [], success: [{ op: 'get', key: '/berth/cluster' }] });
  const got = r.responses[0];
  return got && got.op === 'get' && got.kv ? (JSON.parse(got.kv.value) as { serviceAccountKey: string }).serviceAccountKey : '';
}

describe('the cluster record\'s signing key at rest', () => {
  it('a record written in plaintext is rewritten under the first key at the next start, and keeps its key', async () => {
    const kv = openKvBackend({ kind: 'sqlite', path: ':memory:', prefix: '/berth/' });
    try {
      const plain = await loadClusterConfig(kv, '/berth/', { env, logger: silentLogger });
      assert.ok(!(await record(kv)).startsWith(AT_REST_PREFIX));
      const encrypted = await loadClusterConfig(kv, '/berth/', { env, logger: silentLogger, cipher: new AtRestCipher([k1]) });
      assert.deepEqual(encrypted.serviceAccountKey, plain.serviceAccountKey);
      assert.ok((await record(kv)).startsWith(`${AT_REST_PREFIX}k1:`));
      // A rotation: k2 first, k1 after; then k2 alone reads it.
      await loadClusterConfig(kv, '/berth/', { env, logger: silentLogger, cipher: new AtRestCipher([k2, k1]) });
      assert.ok((await record(kv)).startsWith(`${AT_REST_PREFIX}k2:`));
      const after = await loadClusterConfig(kv, '/berth/', { env, logger: silentLogger, cipher: new AtRestCipher([k2]) });
      assert.deepEqual(after.serviceAccountKey, plain.serviceAccountKey);
      await assert.rejects(loadClusterConfig(kv, '/berth/', { env, logger: silentLogger, cipher: new AtRestCipher([k1]) }), (e: Error) => hasCode(e, 'SECRET_UNREADABLE') && /"k2"/.test(e.message));
    } finally {
      await kv.close();
    }
  });
});
