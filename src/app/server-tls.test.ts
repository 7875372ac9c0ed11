import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { hasCode } from '../lib/index.js';
import { isLoopbackHost } from '../lib/index.js';
import { serverTls, subjectAltNames } from './server-tls.js';

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('isLoopbackHost', () => {
  it('is true only for addresses and names that stay on this machine', () => {
    const table: [string, boolean][] = [
      ['127.0.0.1', true],
      ['127.10.3.4', true],
      ['localhost', true],
      ['::1', true],
      ['[::1]', true],
      ['::ffff:127.0.0.1', true],
      ['0.0.0.0', false],
      ['::', false],
      ['192.0.2.2', false],
      ['10.0.0.1', false],
      ['my-host', false],
      ['128.0.0.1', false],
    ];
    for (const [host, loopback] of table) assert.equal(isLoopbackHost(host), loopback, host);
  });
});

describe('subjectAltNames', () => {
  it('lists addresses as IP and names as DNS, once each, without IPv6 zone ids', () => {
    assert.equal(subjectAltNames(['192.0.2.2', 'fe80::1%eth0', 'vm', '192.0.2.2', 'localhost']), 'IP:192.0.2.2,IP:fe80::1,DNS:vm,DNS:localhost');
  });
});

describe('serverTls', () => {
  const base = mkdtempSync(join(tmpdir(), 'berth-tls-'));
  after(() => rmSync(base, { recursive: true, force: true }));
  let n = 0;
  const dataDir = (): string => join(base, `d${++n}`);

  it('serves plain http on loopback', () => {
    assert.equal(serverTls({ host: '127.0.0.1', dataDir: dataDir() }), undefined);
  });

  it('requires TLS on a non-loopback address and says how when no certificate can be made', () => {
    assert.throws(
      () => serverTls({ host: '192.0.2.2', dataDir: dataDir(), openssl: null }),
      (e: Error) => hasCode(e, 'TLS_UNAVAILABLE') && /--tls-cert FILE and --tls-key FILE, or install openssl/.test(e.message),
    );
    assert.throws(() => serverTls({ host: '0.0.0.0', dataDir: dataDir(), openssl: null }), (e: Error) => hasCode(e, 'TLS_UNAVAILABLE'));
  });

  it('refuses a certificate without its key', () => {
    assert.throws(() => serverTls({ host: '127.0.0.1', dataDir: dataDir(), certFile: '/x.pem' }), (e: Error) => hasCode(e, 'TLS_CONFIG_INVALID'));
  });

  it('makes a self-signed pair for the address (key 0600), keeps it across starts, and makes a new one for another address', { skip: !hasOpenssl() && 'no openssl on this machine' }, () => {
    const dir = dataDir();
    const first = serverTls({ host: '192.0.2.2', dataDir: dir });
    assert.ok(first);
    assert.equal(first.selfSigned, true);
    assert.equal(statSync(join(dir, 'tls', 'key.pem')).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'tls')).mode & 0o777, 0o700);
    const x509 = new X509Certificate(first.cert);
    assert.equal(first.fingerprint, x509.fingerprint256);
    assert.match(first.fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.equal(x509.checkIP('192.0.2.2'), '192.0.2.2', 'the certificate names the address it serves');
    assert.equal(serverTls({ host: '192.0.2.2', dataDir: dir })?.fingerprint, first.fingerprint, 'a restart keeps the fingerprint clients pinned');
    const other = serverTls({ host: '198.51.100.4', dataDir: dir });
    assert.notEqual(other?.fingerprint, first.fingerprint);
    assert.equal(new X509Certificate(other?.cert ?? '').checkIP('198.51.100.4'), '198.51.100.4');
  });

  it('uses --tls-cert/--tls-key as given, even on loopback, and refuses a key of another certificate', { skip: !hasOpenssl() && 'no openssl on this machine' }, () => {
    const a = dataDir();
    const b = dataDir();
    const pa = serverTls({ host: '192.0.2.2', dataDir: a });
    const pb = serverTls({ host: '192.0.2.2', dataDir: b });
    assert.ok(pa && pb);
    const given = serverTls({ host: '127.0.0.1', dataDir: dataDir(), certFile: join(a, 'tls', 'cert.pem'), keyFile: join(a, 'tls', 'key.pem') });
    assert.equal(given?.fingerprint, pa.fingerprint);
    assert.equal(given?.selfSigned, false);
    assert.throws(
      () => serverTls({ host: '127.0.0.1', dataDir: dataDir(), certFile: join(a, 'tls', 'cert.pem'), keyFile: join(b, 'tls', 'key.pem') }),
      (e: Error) => hasCode(e, 'TLS_CONFIG_INVALID') && /does not match/.test(e.message),
    );
  });
});
