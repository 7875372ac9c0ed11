import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { failoverFetch } from './failover-fetch.js';

const ok = (url: string): Response => new Response(url, { status: 200 });

void describe('failoverFetch (an agent over several servers)', () => {
  void it('moves to the next server when one is unreachable, stays there, and never repeats an answered request', async () => {
    const calls: string[] = [];
    const down = new Set(['http://a:1']);
    const base = async (url: string): Promise<Response> => {
      calls.push(url);
      const origin = new URL(url).origin;
      if (down.has(origin)) throw new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
      if (origin === 'http://b:2' && url.endsWith('/bad')) return new Response('no', { status: 500 });
      return ok(url);
    };
    const switches: string[] = [];
    const f = failoverFetch(['http://a:1', 'http://b:2'], base, (from, to) => switches.push(`${from}->${to}`));
    assert.equal(await (await f('http://a:1/v1/x?y=1', {})).text(), 'http://b:2/v1/x?y=1');
    assert.deepEqual(switches, ['http://a:1->http://b:2']);
    assert.equal(f.current(), 'http://b:2');
    calls.length = 0;
    assert.equal((await f('http://a:1/bad', { method: 'POST' })).status, 500, 'an answer is an answer');
    assert.deepEqual(calls, ['http://b:2/bad'], 'the current server only; nothing sent twice');
    down.add('http://b:2');
    down.delete('http://a:1');
    assert.equal(await (await f('http://a:1/v1/z', {})).text(), 'http://a:1/v1/z', 'back to the first when the second dies');
    down.add('http://a:1');
    await assert.rejects(f('http://a:1/v1/z', {}), /fetch failed/, 'all down: the last error');
  });

  void it('takes node:https socket errors (the TLS-pinning fetch) as unreachable too, but not a TLS mismatch', async () => {
    const seen: string[] = [];
    const f = failoverFetch(['https://a:1', 'https://b:2'], async (url) => {
      seen.push(url);
      if (url.startsWith('https://a:1')) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      if (url.endsWith('/pinned')) throw Object.assign(new Error('fingerprint'), { code: 'TLS_FINGERPRINT_MISMATCH' });
      return ok(url);
    });
    assert.equal(await (await f('https://a:1/x', {})).text(), 'https://b:2/x');
    await assert.rejects(f('https://a:1/pinned', {}), /fingerprint/);
    assert.deepEqual(seen, ['https://a:1/x', 'https://b:2/x', 'https://b:2/pinned'], 'a wrong certificate is not a reason to try another server');
  });

  void it('does not retry an aborted request', async () => {
    let n = 0;
    const abort = new AbortController();
    abort.abort();
    const f = failoverFetch(['http://a:1', 'http://b:2'], async () => {
      n++;
      throw new TypeError('fetch failed');
    });
    await assert.rejects(f('http://a:1/x', { signal: abort.signal }));
    assert.equal(n, 1);
  });
});
