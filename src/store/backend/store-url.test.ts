import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hasCode } from '../../lib/index.js';
import { parseStoreUrl } from './store-url.js';

const opts = { dataDir: '/var/lib/berth', cwd: '/home/me', env: {} };
const fails = (value: string, message: RegExp, env: NodeJS.ProcessEnv = {}): void =>
  assert.throws(() => parseStoreUrl(value, { ...opts, env }), (e: unknown) => hasCode(e, 'REQUEST_INVALID') && message.test((e as Error).message));

describe('parseStoreUrl', () => {
  it('defaults to SQLite in the data directory', () => {
    assert.deepEqual(parseStoreUrl(undefined, opts), { kind: 'sqlite', path: '/var/lib/berth/berth.db', prefix: '/berth/' });
    assert.deepEqual(parseStoreUrl('  ', opts), { kind: 'sqlite', path: '/var/lib/berth/berth.db', prefix: '/berth/' });
  });

  it('reads sqlite:// URLs and plain paths, relative ones against cwd', () => {
    assert.equal((parseStoreUrl('sqlite:///srv/berth.db', opts) as { path: string }).path, '/srv/berth.db');
    assert.equal((parseStoreUrl('sqlite://data/berth.db', opts) as { path: string }).path, '/home/me/data/berth.db');
    assert.equal((parseStoreUrl('SQLITE://:memory:', opts) as { path: string }).path, ':memory:');
    assert.equal((parseStoreUrl('./b.db', opts) as { path: string }).path, '/home/me/b.db');
    assert.equal((parseStoreUrl('/abs/c.db', opts) as { path: string }).path, '/abs/c.db');
  });

  it('reads etcd members with the default port, IPv6, and etcdctl option names', () => {
    assert.deepEqual(parseStoreUrl('etcd://h1:2379,h2,[::1]:32379', opts), {
      kind: 'etcd',
      endpoints: ['http://h1:2379', 'http://h2:2379', 'http://[::1]:32379'],
      prefix: '/berth/',
      dialTimeoutMs: 2000,
    });
    const tls = parseStoreUrl('etcd://10.0.0.1:2379/?cacert=/pki/ca.pem&cert=/pki/c.pem&key=/pki/c-key.pem&prefix=/team-a/&dial-timeout=500ms', opts);
    assert.deepEqual(tls, {
      kind: 'etcd',
      endpoints: ['https://10.0.0.1:2379'],
      tls: { caFile: '/pki/ca.pem', certFile: '/pki/c.pem', keyFile: '/pki/c-key.pem' },
      prefix: '/team-a/',
      dialTimeoutMs: 500,
    });
    assert.deepEqual(parseStoreUrl('etcds://h1', opts), { kind: 'etcd', endpoints: ['https://h1:2379'], tls: {}, prefix: '/berth/', dialTimeoutMs: 2000 });
  });

  it('takes credentials from the URL or from BERTH_ETCD_USER / BERTH_ETCD_PASSWORD, the URL first', () => {
    assert.deepEqual((parseStoreUrl('etcd://h1?user=root:s3cret', opts) as { auth: unknown }).auth, { user: 'root', password: 's3cret' });
    assert.deepEqual((parseStoreUrl('etcd://h1?user=root&password=p', opts) as { auth: unknown }).auth, { user: 'root', password: 'p' });
    const env = { BERTH_ETCD_USER: 'berth', BERTH_ETCD_PASSWORD: 'from-env' };
    assert.deepEqual((parseStoreUrl('etcd://h1', { ...opts, env }) as { auth: unknown }).auth, { user: 'berth', password: 'from-env' });
    assert.deepEqual((parseStoreUrl('etcd://h1?user=admin', { ...opts, env }) as { auth: unknown }).auth, { user: 'admin', password: 'from-env' });
    assert.equal((parseStoreUrl('etcd://h1', opts) as { auth?: unknown }).auth, undefined);
  });

  it('refuses bad values with the part and the fix', () => {
    fails('redis://h1', /unknown scheme "redis:\/\/"; use sqlite:\/\/\/path/);
    fails('etcd://', /no etcd host/);
    fails('etcd://h1:99999', /port 99999, not in 1\.\.65535/);
    fails('etcd://h 1', /"h 1" is not host\[:port\]/);
    fails('etcd://h1/berth', /has a path; .* \?prefix=/);
    fails('etcd://u:p@h1', /credentials in \?user=NAME and BERTH_ETCD_PASSWORD/);
    fails('etcd://h1?endpoints=x', /unknown etcd option "endpoints"; the options are cacert, cert, key, user, password, prefix, dial-timeout/);
    fails('etcd://h1?cert=/c.pem', /cert and key go together .* only cert is given/);
    fails('etcd://h1?user=root', /etcd user "root" has no password; set BERTH_ETCD_PASSWORD/);
    fails('etcd://h1?password=x', /a password without a user/);
    fails('etcd://h1?prefix=berth', /prefix "berth" must start and end with "\/"/);
    fails('etcd://h1?dial-timeout=soon', /dial-timeout "soon" is not a duration; use forms like 2s/);
    fails('etcd://h1?prefix=/a/&prefix=/b/', /"prefix" is given twice/);
    fails('sqlite://', /the SQLite path is empty/);
    fails('sqlite:///x.db?mode=ro', /SQLite takes no options/);
  });
});
