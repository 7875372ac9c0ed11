import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { CodedError } from '../lib/index.js';
import type { LogLine, ServiceSpecInput } from '../model/index.js';
import { parseServiceSpec } from '../model/index.js';
import type { NewInstance, SqliteStoreOptions } from '../store/index.js';
import { openSqliteStore } from '../store/index.js';
import type { ApiDeps } from './index.js';
import { FakeTelemetry, createApi } from './index.js';
import { LogLineSchema, ServiceEventSchema, WatchEventSchema } from './response-schemas.js';
import { newInstance, adminAuthenticator } from './testing/fixtures.js';

const BASE = '/v1/grids/default/services';
const NOW = Date.parse('2026-03-01T12:00:00Z');

function setup(options: { api?: Partial<ApiDeps>; store?: SqliteStoreOptions } = {}) {
  const clock = { now: () => NOW, sleep: () => Promise.resolve() };
  const store = openSqliteStore(':memory:', { clock, ...options.store });
  const telemetry = new FakeTelemetry();
  const app = createApi({ authenticator: adminAuthenticator, store, telemetry, clock, node: 'node-1', version: 'test', ...options.api });
  after(() => app.close());
  return { store, telemetry, app };
}

/** Listens on a free loopback port (streams that never end need a real socket, not inject). */
async function listen(app: ReturnType<typeof createApi>): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  assert.ok(address && typeof address === 'object');
  return `http://127.0.0.1:${address.port}`;
}

/** Reads NDJSON lines (heartbeats included, as '') from a streaming response. */
function lineReader(response: Response) {
  assert.ok(response.body);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  return {
    async next(): Promise<string> {
      for (;;) {
        const nl = buffer.indexOf('\n');
        if (nl >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          return line;
        }
        const { done, value } = await reader.read();
        if (done) throw new Error(`stream ended; unread: ${JSON.stringify(buffer)}`);
        buffer += decoder.decode(value, { stream: true });
      }
    },
    async nextValue(): Promise<Record<string, unknown>> {
      for (;;) {
        const line = await this.next();
        if (line !== '') return JSON.parse(line) as Record<string, unknown>;
      }
    },
  };
}

function ndjson(body: string): Record<string, unknown>[] {
  return body
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const spec: ServiceSpecInput = { name: 'web', replicas: 2, containers: [{ command: ['node', 'server.js'] }] };

const instance = (id: string, slot: number): NewInstance => newInstance({ id, slot });

function line(instanceId: string, slot: number, time: string, text: string): LogLine {
  return { time, stream: 'stdout', text, instance: instanceId, slot, container: 'web' };
}

function withService(s: ReturnType<typeof setup>) {
  s.store.createService({ grid: 'default', spec: parseServiceSpec(spec), deploy: true });
  s.store.applyControllerWrites({ createInstances: [instance('web-1-a', 1), instance('web-2-a', 2), instance('web-1-b', 1)] });
  s.telemetry.lines = [
    line('web-1-a', 1, '2026-03-01T11:00:00.000000000Z', 'one'),
    line('web-2-a', 2, '2026-03-01T11:30:00.000000000Z', 'two'),
    line('web-1-b', 1, '2026-03-01T11:55:00.000000000Z', 'three'),
  ];
  return s;
}

describe('API: logs', () => {
  it('streams log lines as NDJSON in time order', async () => {
    const { app } = withService(setup());
    const res = await app.inject({ method: 'GET', url: `${BASE}/web/logs` });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^application\/x-ndjson/);
    const lines = ndjson(res.body).map((l) => LogLineSchema.parse(l));
    assert.deepEqual(lines.map((l) => l.text), ['one', 'two', 'three']);
  });

  it('passes tail, since (a duration back from now) and the slot or id of an instance', async () => {
    const { app, telemetry } = withService(setup());
    const res = await app.inject({ method: 'GET', url: `${BASE}/web/logs?tail=1&since=10m&instance=1` });
    assert.deepEqual(ndjson(res.body).map((l) => l.text), ['three']);
    const call = telemetry.logsCalls.at(-1);
    assert.deepEqual(call?.instances.map((i) => i.id), ['web-1-b', 'web-1-a'], 'every instance that ran in slot 1');
    assert.equal(call?.options.since, '2026-03-01T11:50:00.000000000Z', 'nine fraction digits, as log lines carry');
    assert.equal(call?.options.tail, 1);
    assert.equal(call?.options.follow, false);
    await app.inject({ method: 'GET', url: `${BASE}/web/logs?instance=web-2-a&since=2026-03-01T11:00:00Z` });
    assert.deepEqual(telemetry.logsCalls.at(-1)?.instances.map((i) => i.id), ['web-2-a']);
    assert.equal(telemetry.logsCalls.at(-1)?.options.since, '2026-03-01T11:00:00.000000000Z');
  });

  it('keeps since to the nanosecond (a client resuming from its last line\'s time), in UTC', async () => {
    const { app, telemetry } = withService(setup());
    await app.inject({ method: 'GET', url: `${BASE}/web/logs?since=2026-03-01T11:00:00.123456789Z` });
    assert.equal(telemetry.logsCalls.at(-1)?.options.since, '2026-03-01T11:00:00.123456789Z');
    await app.inject({ method: 'GET', url: `${BASE}/web/logs?since=${encodeURIComponent('2026-03-01T13:00:00.5+02:00')}` });
    assert.equal(telemetry.logsCalls.at(-1)?.options.since, '2026-03-01T11:00:00.500000000Z');
    await app.inject({ method: 'GET', url: `${BASE}/web/logs?since=2026-03-01T11:00:00.0000007Z` });
    assert.equal(telemetry.logsCalls.at(-1)?.options.since, '2026-03-01T11:00:00.000000700Z');
  });

  it('answers an unknown instance with 404 and a bad since or tail with 400', async () => {
    const { app } = withService(setup());
    const missing = await app.inject({ method: 'GET', url: `${BASE}/web/logs?instance=9` });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().code, 'INSTANCE_NOT_FOUND');
    const since = await app.inject({ method: 'GET', url: `${BASE}/web/logs?since=yesterday` });
    assert.equal(since.statusCode, 400);
    assert.match(since.json().message, /^since: must be an RFC 3339 time/);
    const tail = await app.inject({ method: 'GET', url: `${BASE}/web/logs?tail=-3` });
    assert.equal(tail.json().message, 'tail: must be an integer >= 0');
  });

  it('answers a telemetry failure that comes at once with its own status', async () => {
    const { app, telemetry } = withService(setup());
    telemetry.logsError = new CodedError('LOGS_UNAVAILABLE', 'the log directory is gone');
    const res = await app.inject({ method: 'GET', url: `${BASE}/web/logs` });
    assert.equal(res.statusCode, 503);
    assert.equal(res.json().code, 'LOGS_UNAVAILABLE');
  });

  it('follows new lines until the client disconnects, then aborts the telemetry signal', async () => {
    const { app, telemetry } = withService(setup());
    const url = await listen(app);
    const client = new AbortController();
    const res = await fetch(`${url}${BASE}/web/logs?follow=true&tail=1`, { signal: client.signal });
    assert.equal(res.status, 200);
    const reader = lineReader(res);
    assert.equal((await reader.nextValue()).text, 'three');
    telemetry.push(line('web-2-a', 2, '2026-03-01T12:00:01.000000000Z', 'live'));
    assert.equal((await reader.nextValue()).text, 'live');
    const signal = telemetry.logsCalls.at(-1)?.options.signal;
    assert.equal(signal?.aborted, false);
    client.abort();
    while (!signal?.aborted) await delay(5);
    while (telemetry.followers.size > 0) await delay(5);
  });
});

describe('API: events', () => {
  it('streams the history as NDJSON, with tail', async () => {
    const { app } = setup();
    await app.inject({ method: 'POST', url: BASE, payload: { spec, deploy: true } });
    await app.inject({ method: 'POST', url: `${BASE}/web/scale`, payload: { replicas: 3 } });
    const all = await app.inject({ method: 'GET', url: `${BASE}/web/events` });
    const events = ndjson(all.body).map((e) => ServiceEventSchema.parse(e));
    assert.deepEqual(events.map((e) => e.type), ['service.created', 'service.deploy', 'service.scaled']);
    const last = await app.inject({ method: 'GET', url: `${BASE}/web/events?tail=1` });
    assert.deepEqual(ndjson(last.body).map((e) => e.message), ['scaled to 3 replicas (was 2)']);
  });

  it('resumes after an event id: only later events, in the history and while following', async () => {
    const { app } = setup();
    await app.inject({ method: 'POST', url: BASE, payload: { spec, deploy: true } });
    await app.inject({ method: 'POST', url: `${BASE}/web/scale`, payload: { replicas: 3 } });
    const all = ndjson((await app.inject({ method: 'GET', url: `${BASE}/web/events` })).body).map((e) => ServiceEventSchema.parse(e));
    const first = all[0];
    assert.ok(first);
    const later = ndjson((await app.inject({ method: 'GET', url: `${BASE}/web/events?after=${first.id}` })).body).map((e) => ServiceEventSchema.parse(e));
    assert.deepEqual(later.map((e) => e.id), all.slice(1).map((e) => e.id));
    const url = await listen(app);
    const last = all.at(-1);
    assert.ok(last);
    const res = await fetch(`${url}${BASE}/web/events?follow=true&after=${last.id}`);
    const reader = lineReader(res);
    await fetch(`${url}${BASE}/web/stop`, { method: 'POST' });
    const next = ServiceEventSchema.parse(await reader.nextValue());
    assert.equal(next.type, 'service.stopped', 'nothing at or before the id given came first');
    assert.ok(next.id > last.id);
    const bad = await app.inject({ method: 'GET', url: `${BASE}/web/events?after=-1` });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json().message, /^after: /);
  });

  it('follows new events of the service only, and ends when the service is deleted', async () => {
    const { app, store } = setup();
    await app.inject({ method: 'POST', url: BASE, payload: { spec, deploy: true } });
    await app.inject({ method: 'POST', url: BASE, payload: { spec: { ...spec, name: 'other' } } });
    const url = await listen(app);
    const res = await fetch(`${url}${BASE}/web/events?follow=true&tail=1`);
    const reader = lineReader(res);
    assert.equal((await reader.nextValue()).type, 'service.deploy');
    await fetch(`${url}${BASE}/other/stop`, { method: 'POST' });
    await fetch(`${url}${BASE}/web/stop`, { method: 'POST' });
    assert.equal((await reader.nextValue()).type, 'service.stopped');
    await fetch(`${url}${BASE}/web`, { method: 'DELETE' });
    assert.equal((await reader.nextValue()).type, 'service.removing');
    store.applyControllerWrites({
      deleteServices: [{ grid: 'default', name: 'web' }],
      events: [{ grid: 'default', service: 'web', type: 'service.removed', severity: 'info', message: 'removed' }],
    });
    assert.equal((await reader.nextValue()).type, 'service.removed');
    await assert.rejects(reader.next(), /stream ended/);
  });
});

describe('API: watch', () => {
  it('streams a create to a watcher from now on', async () => {
    const { app } = setup();
    const url = await listen(app);
    const res = await fetch(`${url}/v1/watch`);
    assert.equal(res.status, 200);
    const reader = lineReader(res);
    const created = await fetch(`${url}${BASE}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ spec }) });
    assert.equal(created.status, 201);
    const first = WatchEventSchema.parse(await reader.nextValue());
    assert.deepEqual([first.kind, first.op, first.key, first.revision], ['service', 'put', 'default/web', 1]);
    const second = WatchEventSchema.parse(await reader.nextValue());
    assert.deepEqual([second.kind, second.revision], ['event', 2]);
  });

  it('replays from an inclusive fromRevision, and answers 410 for a compacted one', async () => {
    const { app, store } = setup({ store: { historyRevisions: 10 } });
    for (let i = 0; i < 3; i++) store.appendEvents([{ grid: 'default', service: 'web', type: 'service.updated', severity: 'info', message: `e${i}` }]);
    const url = await listen(app);
    const res = await fetch(`${url}/v1/watch?fromRevision=2`);
    const reader = lineReader(res);
    assert.equal((await reader.nextValue()).revision, 2);
    assert.equal((await reader.nextValue()).revision, 3);
    for (let i = 0; i < 30; i++) store.appendEvents([{ grid: 'default', service: 'web', type: 'service.updated', severity: 'info', message: 'x' }]);
    const gone = await app.inject({ method: 'GET', url: '/v1/watch?fromRevision=1' });
    assert.equal(gone.statusCode, 410);
    assert.equal(gone.json().code, 'REVISION_COMPACTED');
  });

  it('sends empty heartbeat lines while idle', async () => {
    const { app } = setup({ api: { heartbeatMs: 20 } });
    const url = await listen(app);
    const reader = lineReader(await fetch(`${url}/v1/watch`));
    assert.equal(await reader.next(), '');
    assert.equal(await reader.next(), '');
  });

  it('ends a followed events stream with a SERVER_STOPPING line when the API closes (its client goes on elsewhere)', async () => {
    const { app } = setup();
    await app.inject({ method: 'POST', url: BASE, payload: { spec } });
    const url = await listen(app);
    const reader = lineReader(await fetch(`${url}${BASE}/web/events?follow=true`));
    assert.equal((await reader.nextValue()).type, 'service.created');
    await app.close();
    assert.equal(((await reader.nextValue()).error as { code: string }).code, 'SERVER_STOPPING');
    await assert.rejects(reader.next(), /stream ended/);
  });

  it('ends open streams when the API closes', async () => {
    const { app } = setup();
    const url = await listen(app);
    const reader = lineReader(await fetch(`${url}/v1/watch`));
    await app.close();
    await assert.rejects(reader.next());
  });
});
