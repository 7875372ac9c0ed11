import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import { hasCode } from '../../lib/index.js';
import type { EtcdCluster } from '../../../test/etcd-harness.js';
import { startEtcd } from '../../../test/etcd-harness.js';
import { openKvBackend } from './open-kv-backend.js';
import { parseStoreUrl } from './store-url.js';

// This file's ports: 23840–23841 (TLS) and 23850–23851 (auth).
const dir = mkdtempSync(join(tmpdir(), 'berth-etcd-pki-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const pem = (name: string): string => join(dir, name);

/** A CA, a server certificate for 127.0.0.1 and a client certificate, all P-256, valid one day (openssl). */
function makePki(): void {
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'ignore' });
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...key, '-keyout', pem('ca-key.pem'), '-out', pem('ca.pem'), '-days', '1', '-subj', '/CN=berth-test-ca');
  for (const [name, ext] of [
    ['server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n'],
    ['client', 'extendedKeyUsage=clientAuth\n'],
  ] as const) {
    writeFileSync(pem(`${name}.ext`), ext);
    openssl('req', ...key, '-keyout', pem(`${name}-key.pem`), '-out', pem(`${name}.csr`), '-subj', `/CN=${name === 'server' ? '127.0.0.1' : 'berth'}`);
    openssl('x509', '-req', '-in', pem(`${name}.csr`), '-CA', pem('ca.pem'), '-CAkey', pem('ca-key.pem'), '-CAcreateserial', '-out', pem(`${name}.pem`), '-days', '1', '-extfile', pem(`${name}.ext`));
  }
}

describe('EtcdKv with TLS and client certificates', () => {
  let cluster: EtcdCluster | undefined;
  after(async () => {
    await cluster?.stop();
  });

  it('talks to an etcd that requires client certificates, from an etcds:// --store with etcdctl option names', async () => {
    makePki();
    cluster = await startEtcd({
      members: 1,
      portBase: 23840,
      tls: { certFile: pem('server.pem'), keyFile: pem('server-key.pem'), caFile: pem('ca.pem'), clientCertFile: pem('client.pem'), clientKeyFile: pem('client-key.pem') },
    });
    const url = parseStoreUrl(`etcds://127.0.0.1:23840?cacert=${pem('ca.pem')}&cert=${pem('client.pem')}&key=${pem('client-key.pem')}`, { dataDir: dir, env: {} });
    const kv = openKvBackend(url);
    try {
      const put = await kv.put('/tls/k', 'v');
      assert.ok(put.ok);
      assert.equal((await kv.get('/tls/k'))?.value, 'v');
    } finally {
      await kv.close();
    }
    const noCert = openKvBackend(parseStoreUrl(`etcds://127.0.0.1:23840?cacert=${pem('ca.pem')}&dial-timeout=1s`, { dataDir: dir, env: {} }));
    try {
      await assert.rejects(noCert.get('/tls/k'), (e: unknown) => hasCode(e, 'STORE_UNAVAILABLE'), 'without a client certificate etcd refuses');
    } finally {
      await noCert.close();
    }
    assert.throws(() => openKvBackend(parseStoreUrl(`etcds://127.0.0.1:23840?cacert=${pem('missing.pem')}`, { dataDir: dir, env: {} })), /--store: cacert=.*missing\.pem cannot be read/);
  });
});

describe('EtcdKv with etcd user/password auth', () => {
  let cluster: EtcdCluster | undefined;
  after(async () => {
    await cluster?.stop();
  });

  it('authenticates with BERTH_ETCD_PASSWORD, and a wrong password is STORE_UNAVAILABLE naming the cause', async () => {
    cluster = await startEtcd({ members: 1, portBase: 23850 });
    const admin = new Etcd3({ hosts: [...cluster.endpoints] });
    try {
      await admin.role('root').create().catch(() => undefined); // etcd 3.4 may have it already
      await admin.user('root').create('s3cret');
      await admin.user('root').addRole('root');
      await admin.auth.authEnable({});
    } finally {
      admin.close();
    }
    const kv = openKvBackend(parseStoreUrl('etcd://127.0.0.1:23850?user=root', { dataDir: dir, env: { BERTH_ETCD_PASSWORD: 's3cret' } }));
    try {
      assert.ok((await kv.put('/auth/k', 'v')).ok);
      assert.equal((await kv.get('/auth/k'))?.value, 'v');
    } finally {
      await kv.close();
    }
    const wrong = openKvBackend(parseStoreUrl('etcd://127.0.0.1:23850?user=root', { dataDir: dir, env: { BERTH_ETCD_PASSWORD: 'nope' } }));
    try {
      await assert.rejects(wrong.get('/auth/k'), (e: unknown) => hasCode(e, 'STORE_UNAVAILABLE') && /authentication failed/i.test((e as Error).message), 'a wrong password');
    } finally {
      await wrong.close();
    }
  });
});
