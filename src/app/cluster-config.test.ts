import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { AT_REST_PREFIX, AtRestCipher, hasCode, silentLogger } from '../lib/index.js';
import { openKvBackend } from '../store/index.js';
import { controllerContainerRange, loadClusterConfig } from './cluster-config.js';

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

describe('the cluster\'s container range (the subnet of every agent\'s Docker bridge)', () => {
  const withKv = async (body: (kv: ReturnType<typeof openKvBackend>) => Promise<void>): Promise<void> => {
    const kv = openKvBackend({ kind: 'sqlite', path: ':memory:', prefix: '/berth/' });
    try {
      await body(kv);
    } finally {
      await kv.close();
    }
  };
  const stored = async (kv: ReturnType<typeof openKvBackend>): Promise<Record<string, unknown>> => JSON.parse((await kv.get('/berth/cluster'))?.value ?? '{}') as Record<string, unknown>;

  it('is the Docker driver\'s default subnet, 10.213.0.0/16, when the first server\'s environment names none', async () => {
    await withKv(async (kv) => {
      const first = await loadClusterConfig(kv, '/berth/', { env: {}, logger: silentLogger });
      assert.equal(first.containerRange, '10.213.0.0/16');
      assert.equal((await stored(kv)).containerRange, '10.213.0.0/16');
    });
  });

  it('is BERTH_DOCKER_SUBNET of the first server, and is kept on a restart; a later server asking for another is told the cluster\'s wins', async () => {
    await withKv(async (kv) => {
      const first = await loadClusterConfig(kv, '/berth/', { env: { BERTH_DOCKER_SUBNET: '10.216.9.0/24' }, logger: silentLogger });
      assert.equal(first.containerRange, '10.216.9.0/24');
      assert.deepEqual(first.notices, []);
      const restarted = await loadClusterConfig(kv, '/berth/', { env: {}, logger: silentLogger });
      assert.equal(restarted.containerRange, '10.216.9.0/24');
      assert.deepEqual(restarted.notices, []);
      const other = await loadClusterConfig(kv, '/berth/', { env: { BERTH_DOCKER_SUBNET: '10.216.10.0/24' }, logger: silentLogger });
      assert.equal(other.containerRange, '10.216.9.0/24');
      assert.deepEqual(other.notices, ["BERTH_DOCKER_SUBNET=10.216.10.0/24 is not used: the cluster's range is 10.216.9.0/24, fixed when its first server started (a new etcd prefix, ?prefix=, starts another cluster)"]);
      assert.equal((await stored(kv)).containerRange, '10.216.9.0/24');
    });
  });

  it('is added to an older berth\'s record that has none, keeping its signing key and ranges; the next server reads the one added', async () => {
    await withKv(async (kv) => {
      const old = { serviceAccountKey: randomBytes(32).toString('base64'), ranges: { instanceRange: '127.11.93.0/24', serviceRange: '127.97.93.0/24', nodePortRange: [31000, 31019] } };
      await kv.txn({ compare: [], success: [{ op: 'put', key: '/berth/cluster', value: JSON.stringify(old) }] });
      const upgraded = await loadClusterConfig(kv, '/berth/', { env: { BERTH_DOCKER_SUBNET: '10.216.11.0/24' }, logger: silentLogger });
      assert.equal(upgraded.containerRange, '10.216.11.0/24');
      assert.deepEqual(upgraded.notices, []);
      assert.equal(upgraded.serviceAccountKey.toString('base64'), old.serviceAccountKey);
      assert.deepEqual(await stored(kv), { ...old, containerRange: '10.216.11.0/24' });
      const next = await loadClusterConfig(kv, '/berth/', { env: {}, logger: silentLogger });
      assert.equal(next.containerRange, '10.216.11.0/24');
    });
  });

  it('refuses a BERTH_DOCKER_SUBNET that is not a CIDR, naming the variable', async () => {
    await withKv(async (kv) => {
      await assert.rejects(loadClusterConfig(kv, '/berth/', { env: { BERTH_DOCKER_SUBNET: '10.216.0.0' }, logger: silentLogger }), /BERTH_DOCKER_SUBNET=10\.216\.0\.0: invalid CIDR/);
      assert.equal(await kv.get('/berth/cluster'), undefined, 'nothing written');
    });
  });

  it('gives the controller the subnet without its gateway (the first address)', () => {
    assert.deepEqual(controllerContainerRange('10.216.9.0/24'), { cidr: '10.216.9.0/24', reserved: ['10.216.9.1'] });
  });
});
