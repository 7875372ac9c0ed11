import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo, Server, Socket } from 'node:net';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BerthApiError, BerthClient } from '../client/index.js';
import { normalizeFingerprint, tlsFetch } from './tls-fetch.js';

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A self-signed pair for 127.0.0.1, as berth server makes one. */
function selfSigned(dir: string, name: string): { cert: string; key: string; certFile: string; fingerprint: string } {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=berth-test', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const cert = readFileSync(certFile, 'utf8');
  return { cert, key: readFileSync(keyFile, 'utf8'), certFile, fingerprint: new X509Certificate(cert).fingerprint256 };
}

describe('normalizeFingerprint', () => {
  it('accepts the printed form, lower case and a sha256: prefix; refuses anything else', () => {
    const hex = 'AB'.repeat(32);
    assert.equal(normalizeFingerprint(`${'ab:'.repeat(31)}ab`), hex);
    assert.equal(normalizeFingerprint(`sha256:${hex.toLowerCase()}`), hex);
    assert.throws(() => normalizeFingerprint('AB:CD'), /BERTH_TLS_FINGERPRINT/);
  });
});

describe('tlsFetch against an https server with a self-signed certificate', { skip: !hasOpenssl() && 'no openssl on this machine', timeout: 30_000 }, () => {
  let dir: string;
  let server: https.Server;
  let url: string;
  let pair: ReturnType<typeof selfSigned>;
  let other: ReturnType<typeof selfSigned>;
  const seen: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-tls-fetch-'));
    pair = selfSigned(dir, 'server');
    other = selfSigned(dir, 'other');
    server = https.createServer({ cert: pair.cert, key: pair.key }, (req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
      if (req.url === '/v1/version') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ version: '9.9.9', apiVersion: 'v1', node: 'tls-test' }));
        return;
      }
      if (req.url === '/no-content') {
        res.statusCode = 204;
        res.end();
        return;
      }
      if (req.url?.startsWith('/v1/grids/default/services/web/events')) {
        // Streamed: the second line only after the first went out.
        res.setHeader('content-type', 'application/x-ndjson');
        res.write(`${JSON.stringify({ type: 'a', message: 'one' })}\n`);
        setTimeout(() => res.end(`${JSON.stringify({ type: 'b', message: 'two' })}\n`), 50);
        return;
      }
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        res.statusCode = 404;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ code: 'ROUTE_NOT_FOUND', message: `no route, body ${body}`, details: {} }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('is needed: the default fetch refuses the self-signed certificate', async () => {
    await assert.rejects(new BerthClient({ baseUrl: url }).version(), (e: unknown) => e instanceof BerthApiError && e.code === 'SERVER_UNREACHABLE' && /self-signed/.test(e.message));
  });

  it('talks to the server whose certificate has the pinned fingerprint', async () => {
    const client = new BerthClient({ baseUrl: url, fetch: tlsFetch({ fingerprint: pair.fingerprint }) });
    assert.equal((await client.version()).node, 'tls-test');
  });

  it('sends nothing to a server whose certificate has another fingerprint', async () => {
    const before = seen.length;
    const client = new BerthClient({ baseUrl: url, fetch: tlsFetch({ fingerprint: other.fingerprint }) });
    await assert.rejects(client.version(), (e: unknown) => e instanceof BerthApiError && e.code === 'SERVER_UNREACHABLE' && /fingerprint/.test(e.message));
    assert.equal(seen.length, before, 'the request never reached the server');
  });

  it('trusts a CA file, and not another one', async () => {
    assert.equal((await new BerthClient({ baseUrl: url, fetch: tlsFetch({ caFile: pair.certFile }) }).version()).version, '9.9.9');
    await assert.rejects(new BerthClient({ baseUrl: url, fetch: tlsFetch({ caFile: other.certFile }) }).version(), (e: unknown) => e instanceof BerthApiError && e.code === 'SERVER_UNREACHABLE');
  });

  it('carries request bodies and error answers, and streams NDJSON', async () => {
    const client = new BerthClient({ baseUrl: url, fetch: tlsFetch({ fingerprint: pair.fingerprint }) });
    await assert.rejects(client.createService('default', { name: 'web', containers: [] }), (e: unknown) => e instanceof BerthApiError && e.status === 404 && /"name":"web"/.test(e.message));
    const events: string[] = [];
    for await (const e of client.events('default', 'web')) events.push((e as unknown as { message: string }).message);
    assert.deepEqual(events, ['one', 'two']);
  });

  it('gives the connection of an answer without a body (204) back: the requests after it use the same one', async () => {
    let connections = 0;
    const count = (): void => void connections++;
    server.on('secureConnection', count);
    try {
      const fetchFn = tlsFetch({ fingerprint: pair.fingerprint });
      for (let k = 0; k < 5; k++) assert.equal((await fetchFn(`${url}/no-content`, { method: 'PUT' })).status, 204);
      assert.equal((await fetchFn(`${url}/v1/version`, { method: 'GET' })).status, 200);
      assert.equal(connections, 1, 'one TLS connection for six requests');
    } finally {
      server.off('secureConnection', count);
    }
  });

  it('refuses a CA file it cannot read, naming it', () => {
    assert.throws(() => tlsFetch({ caFile: join(dir, 'missing.pem') }), /missing\.pem.*--tls-ca/);
  });
});

describe('a pinned fetch to a server that accepts and never finishes the TLS handshake (a SIGSTOPped agent)', { timeout: 20_000 }, () => {
  let server: Server;
  let url: string;
  const sockets: Socket[] = [];

  before(async () => {
    server = createServer((s) => void sockets.push(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/v1/version`;
  });

  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('rejects once its signal aborts, instead of waiting for the handshake forever', async () => {
    const started = Date.now();
    await assert.rejects(tlsFetch({ fingerprint: 'AB'.repeat(32) })(url, { signal: AbortSignal.timeout(200) }), (error: Error) => /abort|timeout/i.test(`${error.name} ${error.message}`));
    assert.ok(Date.now() - started < 5000, `rejected after ${Date.now() - started} ms`);
  });

  it('rejects with CONNECT_TIMEOUT after the connect timeout', async () => {
    const started = Date.now();
    await assert.rejects(tlsFetch({ fingerprint: 'AB'.repeat(32) }, { connectTimeoutMs: 200 })(url, {}), { code: 'CONNECT_TIMEOUT' });
    assert.ok(Date.now() - started < 5000, `rejected after ${Date.now() - started} ms`);
  });
});
