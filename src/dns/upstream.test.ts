import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostUpstreams, parseResolvConf, parseUpstream } from './upstream.js';

describe('upstreams', { timeout: 30_000 }, () => {
  const cases: { text: string; expect: { host: string; port: number } | 'error' }[] = [
    { text: '1.2.3.4', expect: { host: '1.2.3.4', port: 53 } },
    { text: '127.0.0.1:5353', expect: { host: '127.0.0.1', port: 5353 } },
    { text: '[::1]:5300', expect: { host: '::1', port: 5300 } },
    { text: 'fd00::53', expect: { host: 'fd00::53', port: 53 } },
    { text: 'resolver.example:53', expect: 'error' },
    { text: '1.2.3.4:99999', expect: 'error' },
  ];
  for (const c of cases) {
    it(`parses "${c.text}" as ${JSON.stringify(c.expect)}`, () => {
      if (c.expect === 'error') assert.throws(() => parseUpstream(c.text), RangeError);
      else assert.deepEqual(parseUpstream(c.text), c.expect);
    });
  }

  it('reads nameserver lines from resolv.conf and ignores the rest', () => {
    const text = '# comment\nsearch example.org\nnameserver 10.0.0.2\nnameserver fe80::1%eth0\noptions ndots:5\nnameserver bogus\n';
    assert.deepEqual(parseResolvConf(text), [{ host: '10.0.0.2', port: 53 }, { host: 'fe80::1', port: 53 }]);
  });

  it("skips berth's own address so it never forwards to itself", () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-dns-'));
    const path = join(dir, 'resolv.conf');
    writeFileSync(path, 'nameserver 127.0.0.1\nnameserver 10.0.0.2\n');
    assert.deepEqual(hostUpstreams({ host: '127.0.0.1', port: 53 }, path), [{ host: '10.0.0.2', port: 53 }]);
    assert.deepEqual(hostUpstreams({ host: '0.0.0.0', port: 53 }, path), [{ host: '10.0.0.2', port: 53 }]);
    assert.deepEqual(hostUpstreams({ host: '127.0.0.1', port: 5353 }, path).length, 2);
    assert.deepEqual(hostUpstreams({ host: '127.0.0.1', port: 53 }, join(dir, 'missing')), []);
  });
});
