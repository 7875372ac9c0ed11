import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { NodeTelemetryReader } from '../api/index.js';
import { silentLogger } from '../lib/index.js';
import { createNodeTelemetryApi } from '../api/index.js';
import type { Instance, InstanceStats, LogLine, NodeInfo } from '../model/index.js';
import { RemoteTelemetry, pinnedFetch, storeTelemetryTargets } from './remote-telemetry.js';
import { telemetryTls } from './remote-agent.js';
import { selfSignedTls } from './server-tls.js';

/*
 * The agent's telemetry listener over TLS (docs/node-telemetry.md, "TLS"): a self-signed certificate
 * whose fingerprint the agent reports, pinned by the servers — no CA, and a man in the middle (here: a
 * listener with another certificate at the node's address) is refused before a byte of the request,
 * token included, is sent.
 */

const dir = mkdtempSync(join(tmpdir(), 'berth-telemetry-tls-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const TOKEN = 'btl1.test.token';
const T0 = '2026-03-01T12:00:00.000000000Z';
const inst = { id: 'web-1', slot: 1, node: 'vm-a', service: 'web', grid: 'default', spec: { containers: [{ name: 'web' }] }, status: { state: 'running' } } as unknown as Instance;

class Reader implements NodeTelemetryReader {
  calls = 0;
  async *logs(): AsyncIterable<LogLine> {
    this.calls++;
    yield { time: T0, stream: 'stdout', text: 'over tls', instance: inst.id, slot: 1, container: 'web' };
  }
  async stats(instances: readonly Instance[]): Promise<InstanceStats[]> {
    this.calls++;
    return instances.map((i) => ({ instance: i.id, slot: i.slot, time: T0, cpuPercent: 1, memoryBytes: 100, processes: 1 }));
  }
}

/** A listener as the agent runs it: HTTPS with a self-signed pair of its own data directory. */
async function listener(name: string): Promise<{ port: number; fingerprint: string; reader: Reader; tokenAsked: () => number }> {
  const tls = selfSignedTls({ dir: join(dir, name, 'tls'), host: '127.0.0.1' });
  const reader = new Reader();
  let asked = 0;
  const app = createNodeTelemetryApi({
    node: 'vm-a',
    reader,
    instance: (id) => (id === inst.id ? inst : undefined),
    token: () => {
      asked++;
      return TOKEN;
    },
    https: { key: tls.key, cert: tls.cert },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  after(() => app.close());
  const address = app.server.address();
  assert.ok(address && typeof address === 'object');
  return { port: address.port, fingerprint: tls.fingerprint, reader, tokenAsked: () => asked };
}

const node = (port: number, fingerprint: string | undefined): NodeInfo =>
  ({ name: 'vm-a', address: '127.0.0.1', telemetryPort: port, joinedAt: '2026-03-01T00:00:00Z', ready: true, ...(fingerprint ? { telemetryFingerprint: fingerprint } : {}) }) as unknown as NodeInfo;

describe('the telemetry listener over TLS, pinned by its fingerprint', () => {
  it('makes a self-signed pair in the data directory (key 0600) and keeps it across restarts', () => {
    const first = selfSignedTls({ dir: join(dir, 'keep', 'tls'), host: '127.0.0.1' });
    assert.match(first.fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.equal(statSync(join(dir, 'keep', 'tls', 'key.pem')).mode & 0o777, 0o600);
    assert.equal(selfSignedTls({ dir: join(dir, 'keep', 'tls'), host: '127.0.0.1' }).fingerprint, first.fingerprint);
  });

  it('serves logs and stats over HTTPS to a fetch pinned to its fingerprint, and refuses plain HTTP', async () => {
    const l = await listener('good');
    const f = pinnedFetch(l.fingerprint);
    const stats = await f(`https://127.0.0.1:${l.port}/v1/node/instances/stats?id=${inst.id}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(stats.status, 200);
    assert.equal(((await stats.json()) as { items: InstanceStats[] }).items[0]?.instance, inst.id);
    const logs = await f(`https://127.0.0.1:${l.port}/v1/node/instances/logs?id=${inst.id}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.match(await logs.text(), /over tls/);
    // Plain HTTP to a TLS listener gets no answer it could take for telemetry.
    const plain = await fetch(`http://127.0.0.1:${l.port}/v1/node/instances/stats?id=${inst.id}`, { headers: { authorization: `Bearer ${TOKEN}` } }).then(
      (r) => r.status,
      () => 'refused',
    );
    assert.notEqual(plain, 200);
  });

  it('refuses a listener whose certificate has another fingerprint before sending the request (the token never leaves)', async () => {
    const impostor = await listener('impostor');
    const real = await listener('real');
    const before = impostor.tokenAsked();
    await assert.rejects(
      pinnedFetch(real.fingerprint)(`https://127.0.0.1:${impostor.port}/v1/node/instances/stats?id=${inst.id}`, { headers: { authorization: `Bearer ${TOKEN}` } }),
      (e: Error & { code?: string }) => e.code === 'TLS_FINGERPRINT_MISMATCH' && e.message.includes(impostor.fingerprint) && /the node reported/.test(e.message),
    );
    assert.equal(impostor.tokenAsked(), before, 'no request reached the impostor');
    assert.equal(impostor.reader.calls, 0);
  });

  it('the servers read a node that reported a fingerprint over HTTPS, and name a node whose listener shows another certificate', async () => {
    const real = await listener('node-real');
    const other = await listener('node-other');
    const key = Buffer.alloc(32, 7);
    // The token is derived from the key; this listener accepts TOKEN only, so give it TOKEN.
    const targets = storeTelemetryTargets({ getNode: () => node(real.port, real.fingerprint) }, key);
    const target = targets('vm-a');
    assert.ok(!('problem' in target));
    assert.equal(target.url, `https://127.0.0.1:${real.port}`);
    assert.equal(target.fingerprint, real.fingerprint);

    const good = new RemoteTelemetry({ target: () => ({ ...target, token: TOKEN }) });
    const lines: LogLine[] = [];
    for await (const l of good.logs([inst], {})) lines.push(l);
    assert.deepEqual(lines.map((l) => l.text), ['over tls']);
    assert.equal((await good.stats([inst]))[0]?.instance, inst.id);

    // The node reported real's certificate, but its address answers with another one (a man in the middle).
    const mitm = new RemoteTelemetry({ target: () => ({ url: `https://127.0.0.1:${other.port}`, token: TOKEN, fingerprint: real.fingerprint }) });
    await assert.rejects(
      (async () => {
        for await (const _ of mitm.logs([inst], {})) void _;
      })(),
      (e: Error & { code?: string }) => e.code === 'LOGS_UNAVAILABLE' && /node vm-a .*SHA-256 fingerprint .* not the one the node reported/.test(e.message),
    );
    await assert.rejects(mitm.stats([inst]), (e: Error & { code?: string }) => e.code === 'LOGS_UNAVAILABLE' && /not the one the node reported/.test(e.message));
    assert.equal(other.reader.calls, 0, 'the impostor was never asked');
  });

  it('an agent on a machine without openssl serves plain HTTP and says so (it reports no fingerprint)', () => {
    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (_: unknown, msg?: string) => void warnings.push(msg ?? '') } as unknown as typeof silentLogger;
    assert.equal(telemetryTls(join(dir, 'no-openssl'), '127.0.0.1', { logger, openssl: null }), undefined);
    assert.match(warnings[0] ?? '', /plain HTTP.*install openssl/);
    assert.ok(telemetryTls(join(dir, 'with-openssl'), '127.0.0.1', { logger })?.fingerprint);
  });

  it('an agent that reported no fingerprint (older, or no openssl) is read over plain HTTP', () => {
    const target = storeTelemetryTargets({ getNode: () => node(10250, undefined) }, Buffer.alloc(32, 7))('vm-a');
    assert.ok(!('problem' in target));
    assert.equal(target.url, 'http://127.0.0.1:10250');
    assert.equal(target.fingerprint, undefined);
  });
});
