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

describe('the cluster\'s address ranges', () => {
  it('the first server fixes them; a later one whose environment asks for others is told so, naming the variable and the range used', async () => {
    const kv = openKvBackend({ kind: 'sqlite', path: ':memory:', prefix: '/berth/' });
    try {
      const first = await loadClusterConfig(kv, '/berth/', { env: { BERTH_INSTANCE_RANGE: '127.11.91.0/24' }, logger: silentLogger });
      assert.equal(first.ranges.instanceRange, '127.11.91.0/24');
      assert.deepEqual(first.notices, []);
      const later = await loadClusterConfig(kv, '/berth/', { env: { BERTH_INSTANCE_RANGE: '127.11.92.0/24', BERTH_SERVICE_RANGE: first.ranges.serviceRange }, logger: silentLogger });
      assert.equal(later.ranges.instanceRange, '127.11.91.0/24');
      assert.deepEqual(later.notices, ["BERTH_INSTANCE_RANGE=127.11.92.0/24 is not used: the cluster's range is 127.11.91.0/24, fixed when its first server started (a new etcd prefix, ?prefix=, starts another cluster)"]);
    } finally {
      await kv.close();
    }
  });
});
