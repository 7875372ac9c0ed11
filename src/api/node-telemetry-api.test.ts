import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Instance, InstanceStats, LogLine } from '../model/index.js';
import { nodeToken, telemetryToken } from './authenticator.js';
import type { NodeTelemetryReader } from './node-telemetry-api.js';
import { createNodeTelemetryApi } from './node-telemetry-api.js';

const KEY = Buffer.alloc(32, 7);
const JOINED = '2026-03-01T12:00:00.000Z';
const TOKEN = telemetryToken('vm-a', JOINED, KEY);

function instance(id: string, slot: number, node = 'vm-a'): Instance {
  return { id, slot, node, service: 'web', grid: 'default', spec: { containers: [{ name: 'web' }] }, status: { state: 'running' } } as unknown as Instance;
}

const line = (time: string, text: string, inst = 'web-1-a', slot = 1): LogLine => ({ time, stream: 'stdout', text, instance: inst, slot, container: 'web' });

/** A reader that answers from fixed lines, and records what it was asked. */
function fakeReader(lines: LogLine[] = []): NodeTelemetryReader & { asked: { ids: string[]; query: Record<string, unknown> }[] } {
  const asked: { ids: string[]; query: Record<string, unknown> }[] = [];
  return {
    asked,
    async *logs(source, query) {
      const ids = source().map((i) => i.id);
      asked.push({ ids, query: { tail: query.tail, since: query.since, follow: query.follow } });
      const mine = lines.filter((l) => ids.includes(l.instance));
      yield* query.tail === undefined ? mine : mine.slice(-query.tail);
      if (!query.follow) return;
      query.onWatermark?.('2026-03-01T12:00:05.000000000Z');
      await new Promise((r) => query.signal?.addEventListener('abort', r, { once: true }));
    },
    async stats(instances): Promise<InstanceStats[]> {
      return instances.map((i) => ({ instance: i.id, slot: i.slot, time: JOINED, cpuPercent: 1, memoryBytes: 2, processes: 1 }));
    },
  };
}

function setup(options: { token?: string | undefined; lines?: LogLine[] } = {}) {
  const known = new Map([instance('web-1-a', 1), instance('web-2-b', 2)].map((i) => [i.id, i]));
  const reader = fakeReader(options.lines);
  const app = createNodeTelemetryApi({ node: 'vm-a', reader, instance: (id) => known.get(id), token: () => ('token' in options ? options.token : TOKEN) });
  after(() => app.close());
  return { app, reader };
}

const auth = (token: string) => ({ authorization: `Bearer ${token}` });

describe("the agent's telemetry listener", () => {
  it('refuses a request without a token, with another token, with the node credential or a user token (401), and answers 503 before it has a token', async () => {
    const { app, reader } = setup();
    const url = '/v1/node/instances/logs?id=web-1-a';
    const none = await app.inject({ url });
    assert.equal(none.statusCode, 401);
    assert.equal(none.json().code, 'UNAUTHENTICATED');
    for (const wrong of [nodeToken('vm-a', JOINED, KEY), telemetryToken('vm-b', JOINED, KEY), telemetryToken('vm-a', '2026-03-02T00:00:00.000Z', KEY), telemetryToken('vm-a', JOINED, Buffer.alloc(32, 8)), 'berth_abc_def', `${TOKEN}x`]) {
      const res = await app.inject({ url, headers: auth(wrong) });
      assert.equal(res.statusCode, 401, wrong);
      assert.equal(res.json().code, 'UNAUTHENTICATED');
    }
    assert.equal(reader.asked.length, 0, 'nothing was read');
    const early = setup({ token: undefined });
    const res = await early.app.inject({ url, headers: auth(TOKEN) });
    assert.equal(res.statusCode, 503);
    assert.equal(res.json().code, 'LOGS_UNAVAILABLE');
  });

  it("refuses an instance that is not the node's (404 INSTANCE_NOT_FOUND), more than 100 ids, and a bad tail or since (400)", async () => {
    const { app, reader } = setup();
    const other = await app.inject({ url: '/v1/node/instances/logs?id=web-1-a&id=elsewhere', headers: auth(TOKEN) });
    assert.equal(other.statusCode, 404);
    assert.equal(other.json().code, 'INSTANCE_NOT_FOUND');
    assert.match(other.json().message, /"elsewhere" is not assigned to node vm-a/);
    const stats = await app.inject({ url: '/v1/node/instances/stats?id=elsewhere', headers: auth(TOKEN) });
    assert.equal(stats.statusCode, 404);
    const many = Array.from({ length: 101 }, (_, k) => `id=web-1-a${k}`).join('&');
    const tooMany = await app.inject({ url: `/v1/node/instances/logs?${many}`, headers: auth(TOKEN) });
    assert.equal(tooMany.statusCode, 400);
    assert.match(tooMany.json().message, /at most 100 instance ids/);
    for (const bad of ['id=web-1-a&tail=-1', 'id=web-1-a&tail=ten', 'id=web-1-a&since=10m', 'id=web-1-a&since=yesterday', 'id=web-1-a&follow=maybe', 'id=web-1-a&grep=x', 'tail=1', 'id=']) {
      const res = await app.inject({ url: `/v1/node/instances/logs?${bad}`, headers: auth(TOKEN) });
      assert.equal(res.statusCode, 400, bad);
      assert.equal(res.json().code, 'REQUEST_INVALID', bad);
    }
    assert.equal(reader.asked.length, 0);
  });

  it('serves nothing else: other paths and methods are 404 (after the token check)', async () => {
    const { app } = setup();
    assert.equal((await app.inject({ url: '/v1/grids/default/services', headers: auth(TOKEN) })).statusCode, 404);
    assert.equal((await app.inject({ method: 'POST', url: '/v1/node/instances/logs?id=web-1-a', headers: auth(TOKEN) })).statusCode, 404);
    assert.equal((await app.inject({ url: '/v1/version' })).statusCode, 401, 'not even a version without the token');
  });

  it('answers the log lines of the asked instances with tail and since passed on, and stats of each', async () => {
    const lines = [line('2026-03-01T12:00:01.000000000Z', 'one'), line('2026-03-01T12:00:02.000000000Z', 'two', 'web-2-b', 2), line('2026-03-01T12:00:03.000000000Z', 'three')];
    const { app, reader } = setup({ lines });
    const res = await app.inject({ url: '/v1/node/instances/logs?id=web-1-a&id=web-2-b&tail=2&since=2026-03-01T12:00:00.5Z', headers: auth(TOKEN) });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /ndjson/);
    const values = res.body.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as LogLine);
    assert.deepEqual(values.map((v) => v.text), ['two', 'three']);
    assert.deepEqual(reader.asked[0], { ids: ['web-1-a', 'web-2-b'], query: { tail: 2, since: '2026-03-01T12:00:00.5Z', follow: undefined } });
    const stats = await app.inject({ url: '/v1/node/instances/stats?id=web-2-b', headers: auth(TOKEN) });
    assert.equal(stats.statusCode, 200);
    assert.deepEqual(stats.json().items.map((s: InstanceStats) => [s.instance, s.slot]), [['web-2-b', 2]]);
  });

  it('while following, sends the watermark after the history', async () => {
    const { app } = setup({ lines: [line('2026-03-01T12:00:01.000000000Z', 'one')] });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    assert.ok(address && typeof address === 'object');
    const stop = new AbortController();
    const response = await fetch(`http://127.0.0.1:${address.port}/v1/node/instances/logs?id=web-1-a&follow=true`, { headers: auth(TOKEN), signal: stop.signal });
    assert.equal(response.status, 200);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    while (text.split('\n').filter((l) => l !== '').length < 2) text += new TextDecoder().decode((await reader.read()).value);
    stop.abort();
    const values = text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(values[0]?.text, 'one');
    assert.deepEqual(values[1], { watermark: '2026-03-01T12:00:05.000000000Z' });
  });
});
