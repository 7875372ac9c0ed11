import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import net from 'node:net';
import { openSqliteStore } from '../store/index.js';
import { FakeTelemetry, createApi } from './index.js';
import { DRAIN_LIMIT_BYTES } from './oversized-body.js';
import { adminAuthenticator } from './testing/fixtures.js';

/*
 * Oversized bodies over a real socket: the client that keeps sending reads the 413, every time
 * (before the drain, fetch failed about one time in three: the server closed while the body was still
 * coming, and the reset dropped the answer).
 */

describe('a body over the limit, over a real socket', () => {
  const store = openSqliteStore(':memory:');
  const app = createApi({ authenticator: adminAuthenticator, store, telemetry: new FakeTelemetry(), node: 'node-1', version: 'test' });
  let url = '';
  before(async () => {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    assert.ok(address && typeof address === 'object');
    url = `http://127.0.0.1:${address.port}`;
  });
  after(() => app.close());

  it('answers 413 BODY_TOO_LARGE to 3 MiB bodies 20 times in a row, on a connection that stays usable', async () => {
    const body = JSON.stringify({ spec: { name: 'x', labels: { a: 'x'.repeat(3 * 1024 * 1024) } } });
    for (let i = 0; i < 20; i++) {
      const response = await fetch(`${url}/v1/grids/default/services`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const answer = (await response.json()) as { code: string; message: string };
      assert.deepEqual([response.status, answer.code], [413, 'BODY_TOO_LARGE'], `request ${i}`);
      assert.match(answer.message, /^body: must be no more than 1048576 bytes/);
      assert.notEqual(response.headers.get('connection'), 'close', `request ${i} kept the connection`);
    }
    assert.deepEqual(store.listServices({ grid: 'default' }), [], 'nothing was stored');
  });

  it('answers at once, and closes, when the announced body is past what berth reads to its end', async () => {
    const socket = net.connect(Number(new URL(url).port), '127.0.0.1');
    const answer = await new Promise<string>((resolve, reject) => {
      let text = '';
      socket.on('data', (chunk) => (text += chunk.toString('utf8')));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
      // The headers only: berth must not wait for a gigabyte it was told is coming.
      socket.write(`POST /v1/grids/default/services HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${DRAIN_LIMIT_BYTES + 1}\r\n\r\n{`);
    });
    assert.match(answer, /^HTTP\/1\.1 413 /);
    assert.match(answer, /connection: close/i);
    assert.match(answer, /"code":"BODY_TOO_LARGE"/);
  });
});
