import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { AsyncChannel } from '../lib/index.js';
import type { LogLine, ServiceEvent, TimelineLine } from '../model/index.js';
import { parseServiceSpec } from '../model/index.js';
import { openSqliteStore } from '../store/index.js';
import { FakeTelemetry, createApi } from './index.js';
import { timeKey, withEvents } from './log-timeline.js';
import { TimelineLineSchema } from './response-schemas.js';
import { newInstance, adminAuthenticator } from './testing/fixtures.js';

const T = (s: number, frac = '000'): string => `2026-03-01T12:00:${String(s).padStart(2, '0')}.${frac}Z`;

function line(time: string, text: string): LogLine {
  return { time, stream: 'stdout', text, instance: 'web-1-a', slot: 1, container: 'web' };
}

function event(id: number, time: string, message: string): ServiceEvent {
  return { id, time, grid: 'default', service: 'web', type: 'instance.unready', severity: 'warning', message, slot: 1, instance: 'web-1-a' };
}

const label = (l: TimelineLine): string => ('kind' in l ? `E ${l.event.message}` : `L ${l.text}`);

async function collect(lines: AsyncIterable<TimelineLine>): Promise<string[]> {
  const out: string[] = [];
  for await (const l of lines) out.push(label(l));
  return out;
}

async function* from<T>(items: readonly T[]): AsyncGenerator<T> {
  yield* items;
}

describe('withEvents (one timeline of log lines and events)', () => {
  it('compares millisecond and nanosecond times as the same clock', () => {
    assert.ok(timeKey('2026-03-01T12:00:01.123Z') < timeKey('2026-03-01T12:00:01.123000001Z'));
    assert.ok(timeKey('2026-03-01T12:00:01.5Z') > timeKey('2026-03-01T12:00:01.499999999Z'));
    assert.equal(timeKey('2026-03-01T12:00:01Z'), '2026-03-01T12:00:01.000000000Z');
  });

  it('puts each event before the first line that is later than it, and the rest at the end', async () => {
    const lines = from([line(T(1), 'one'), line(T(3), 'three'), line(T(5, '000000500'), 'five')]);
    const events = [event(1, T(0), 'zero'), event(2, T(2), 'two'), event(3, T(5), 'five'), event(4, T(9), 'nine')];
    assert.deepEqual(await collect(withEvents(lines[Symbol.asyncIterator](), { history: events }, { follow: false })), [
      'E zero', 'L one', 'E two', 'L three', 'E five', 'L five', 'E nine',
    ]);
  });

  it('writes the events in id order: one recorded before another goes with it, even when its time is later', async () => {
    const lines = from([line(T(3), 'three'), line(T(6), 'six')]);
    // 2 came late: recorded after 1, with the earlier time.
    const events = [event(1, T(5), 'one at five'), event(2, T(2), 'two at two'), event(3, T(4), 'three at four')];
    assert.deepEqual(await collect(withEvents(lines[Symbol.asyncIterator](), { history: events }, { follow: false })), [
      'E one at five', 'E two at two', 'L three', 'E three at four', 'L six',
    ]);
  });

  it('while following, writes a live event once a later line comes, or once the lines have been quiet past the log lag', async () => {
    const channel = new AsyncChannel<LogLine>();
    let now = Date.parse(T(10));
    let push: ((e: ServiceEvent) => void) | undefined;
    let unsubscribed = false;
    const feed = { history: [], subscribe: (p: (e: ServiceEvent) => void) => ((push = p), () => (unsubscribed = true)) };
    const timeline = withEvents(channel[Symbol.asyncIterator](), feed, { follow: true, now: () => now });
    const out: string[] = [];
    const reading = (async () => {
      for await (const l of timeline) {
        out.push(label(l));
        if (out.length === 4) break;
      }
    })();
    await new Promise((r) => setTimeout(r, 20));
    push?.(event(1, T(10, '100'), 'live'));
    channel.push(line(T(10, '050'), 'before it'));
    channel.push(line(T(10, '200'), 'after it'));
    await waitUntil(() => out.length === 3);
    assert.deepEqual(out, ['L before it', 'E live', 'L after it']);

    push?.(event(2, T(11), 'quiet one'));
    now = Date.parse(T(11)) + 200; // younger than the log lag: held
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(out.length, 3, 'held while a log line of its time may still come');
    now = Date.parse(T(11)) + 2000;
    await reading;
    assert.deepEqual(out, ['L before it', 'E live', 'L after it', 'E quiet one']);
    assert.ok(unsubscribed, 'the event subscription ends with the stream');
  });
});

async function waitUntil(ok: () => boolean): Promise<void> {
  for (let k = 0; k < 200 && !ok(); k++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(ok());
}

describe('API: GET …/logs?events=true', () => {
  const BASE = '/v1/grids/default/services';
  function setup() {
    const clock = { now: () => Date.parse(T(30)), sleep: () => Promise.resolve() };
    const store = openSqliteStore(':memory:', { clock });
    const telemetry = new FakeTelemetry();
    const app = createApi({ authenticator: adminAuthenticator, store, telemetry, clock, node: 'node-1', version: 'test' });
    after(() => app.close());
    store.createService({ grid: 'default', spec: parseServiceSpec({ name: 'web', containers: [{ command: ['x'] }] }), deploy: true });
    store.applyControllerWrites({ createInstances: [newInstance({ id: 'web-1-a', slot: 1 }), newInstance({ id: 'web-2-a', slot: 2 })] });
    return { store, telemetry, app };
  }

  it('merges the service\'s events into the log lines in time order, events marked kind "event"', async () => {
    const { app, store, telemetry } = setup();
    telemetry.lines = [line(T(1), 'listening'), { ...line(T(3), 'GET /health 503'), instance: 'web-2-a', slot: 2 }];
    store.appendEvents([
      { grid: 'default', service: 'web', type: 'instance.started', severity: 'info', message: 'web-1 started', slot: 1, instance: 'web-1-a', time: T(0, '500') },
      { grid: 'default', service: 'web', type: 'instance.unready', severity: 'warning', message: 'web-2 unready: HTTP 503', slot: 2, instance: 'web-2-a', time: T(4) },
    ]);
    const res = await app.inject({ method: 'GET', url: `${BASE}/web/logs?events=true` });
    assert.equal(res.statusCode, 200);
    const values = res.body.split('\n').filter((l) => l !== '').map((l) => TimelineLineSchema.parse(JSON.parse(l)) as TimelineLine);
    assert.deepEqual(values.map(label), ['E web-1 started', 'L listening', 'L GET /health 503', 'E web-2 unready: HTTP 503']);
    assert.deepEqual(values[0] && 'kind' in values[0] ? [values[0].kind, values[0].time] : [], ['event', T(0, '500')]);

    const plain = await app.inject({ method: 'GET', url: `${BASE}/web/logs` });
    assert.equal(plain.body.split('\n').filter((l) => l !== '').length, 2, 'without events=true only log lines');
    const one = await app.inject({ method: 'GET', url: `${BASE}/web/logs?events=true&instance=2` });
    assert.deepEqual(one.body.split('\n').filter((l) => l !== '').map((l) => label(JSON.parse(l) as TimelineLine)), ['L GET /health 503', 'E web-2 unready: HTTP 503'], 'only the instance\'s events');
  });

  it('with afterEvent, sends the events recorded after that id whatever their time (since and tail count only the lines); without events=true it is refused', async () => {
    const { app, store, telemetry } = setup();
    telemetry.lines = [line(T(4), 'four'), line(T(6), 'six')];
    const at = (s: number, message: string) => ({ grid: 'default', service: 'web', type: 'instance.unready' as const, severity: 'warning' as const, message, slot: 1, instance: 'web-1-a', time: T(s) });
    store.appendEvents([at(5, 'had')]);
    const had = store.revision();
    store.appendEvents([at(1, 'late, early time'), at(7, 'after')]);
    const res = await app.inject({ method: 'GET', url: `${BASE}/web/logs?events=true&since=${T(5)}&tail=1&afterEvent=${had}` });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.body.split('\n').filter((l) => l !== '').map((l) => label(JSON.parse(l) as TimelineLine)), ['E late, early time', 'L six', 'E after']);

    const refused = await app.inject({ method: 'GET', url: `${BASE}/web/logs?afterEvent=${had}` });
    assert.equal(refused.statusCode, 400);
    assert.equal(refused.json().code, 'REQUEST_INVALID');
    assert.match(refused.json().message, /^afterEvent: needs events=true/);

    // The oddest cursors: past every id (even past a double's range) sends no event, a negative one is refused.
    const beyond = await app.inject({ method: 'GET', url: `${BASE}/web/logs?events=true&since=${T(5)}&afterEvent=${'9'.repeat(400)}` });
    assert.equal(beyond.statusCode, 200, beyond.body);
    assert.deepEqual(beyond.body.split('\n').filter((l) => l !== '').map((l) => label(JSON.parse(l) as TimelineLine)), ['L six']);
    const negative = await app.inject({ method: 'GET', url: `${BASE}/web/logs?events=true&afterEvent=-1` });
    assert.equal(negative.statusCode, 400);
    assert.match(negative.json().message, /afterEvent/);
  });

  it('with a telemetry watermark, writes a held event once the watermark passed it, however long the lines take', async () => {
    const channel = new AsyncChannel<LogLine>();
    let watermark: string | undefined;
    let push: ((e: ServiceEvent) => void) | undefined;
    const feed = { history: [], subscribe: (p: (e: ServiceEvent) => void) => ((push = p), () => undefined) };
    // The clock is far past the event: without the watermark, the quiet rule would write it at once.
    const timeline = withEvents(channel[Symbol.asyncIterator](), feed, { follow: true, now: () => Date.parse(T(59)), watermark: () => watermark });
    const out: string[] = [];
    const reading = (async () => {
      for await (const l of timeline) {
        out.push(label(l));
        if (out.length === 3) break;
      }
    })();
    await new Promise((r) => setTimeout(r, 20));
    push?.(event(1, T(10, '400'), 'converged'));
    watermark = T(10, '300');
    await new Promise((r) => setTimeout(r, 350));
    assert.deepEqual(out, [], 'held: a line older than the event may still come');
    channel.push(line(T(10, '390'), 'late line')); // the line of a reader attached late, older than the event
    await waitUntil(() => out.length === 1);
    watermark = T(10, '600');
    await waitUntil(() => out.length === 2);
    channel.push(line(T(10, '700'), 'after'));
    await reading;
    assert.deepEqual(out, ['L late line', 'E converged', 'L after']);
  });
});
