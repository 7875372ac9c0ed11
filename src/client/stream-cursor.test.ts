import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EventLine, LogLine, ServiceEvent } from '../model/index.js';
import { EventCursor, LogCursor, timeKey } from './stream-cursor.js';

const STARTED = Date.parse('2026-03-01T12:00:00Z');
const line = (time: string, text: string, instance = 'web-1-a'): LogLine => ({ time, stream: 'stdout', text, instance, slot: 1, container: 'main' });
const event = (id: number, time: string): ServiceEvent => ({ id, time, grid: 'default', service: 'web', type: 'instance.exited', severity: 'warning', message: `event ${id}` });
const eventLine = (id: number, time: string): EventLine => ({ kind: 'event', time, event: event(id, time) });

describe('EventCursor', () => {
  it('asks as the caller did until an event came, then after the last id, without tail and since', () => {
    const cursor = new EventCursor({ tail: 100, since: '10m', follow: true }, STARTED);
    assert.deepEqual(cursor.query(), { tail: 100, since: '10m', follow: true });
    assert.equal(cursor.accept(event(7, '2026-03-01T12:00:01Z')), true);
    assert.deepEqual(cursor.query(), { follow: true, after: 7 });
    assert.equal(cursor.accept(event(7, '2026-03-01T12:00:01Z')), false, 'sent again');
    assert.equal(cursor.accept(event(5, '2026-03-01T12:00:00Z')), false, 'older than the last one had');
    assert.equal(cursor.accept(event(8, '2026-03-01T11:00:00Z')), true, 'a later id with an earlier time is new');
  });

  it('turns a tail of 0 into since the start when nothing came yet, so what came meanwhile is not lost', () => {
    assert.deepEqual(new EventCursor({ tail: 0, follow: true }, STARTED).query(), { follow: true, since: '2026-03-01T12:00:00.000Z' });
  });
});

describe('LogCursor', () => {
  it('resumes from the newest line\'s time and drops only the lines of that time it had, counting repeats', () => {
    const cursor = new LogCursor({ tail: 100, follow: true, instance: '1' }, STARTED);
    const t = '2026-03-01T12:00:01.000000500Z';
    for (const l of [line('2026-03-01T12:00:01Z', 'a'), line(t, 'b'), line(t, 'b')]) assert.equal(cursor.accept(l), true);
    assert.deepEqual(cursor.query(), { follow: true, instance: '1', since: t });
    assert.equal(cursor.accept(line(t, 'b')), false);
    assert.equal(cursor.accept(line(t, 'b')), false);
    assert.equal(cursor.accept(line(t, 'b')), true, 'a third "b" at that nanosecond is new');
    assert.equal(cursor.accept(line(t, 'b', 'web-1-z')), true, 'the same text of another instance is new');
    assert.equal(cursor.accept(line('2026-03-01T12:00:02Z', 'c')), true);
    assert.equal(cursor.query()['since'], '2026-03-01T12:00:02.000000000Z');
  });

  it('keeps a line older than the newest on the first request (the server\'s order across instances)', () => {
    const cursor = new LogCursor({ follow: true }, STARTED);
    assert.equal(cursor.accept(line('2026-03-01T12:00:02Z', 'late')), true);
    assert.equal(cursor.accept(line('2026-03-01T12:00:01Z', 'early', 'web-2-b')), true);
    assert.equal(cursor.query()['since'], '2026-03-01T12:00:02.000000000Z');
  });

  it('resumes a timeline\'s events after the last event id, whatever their time, and its lines from the newest line\'s time', () => {
    const cursor = new LogCursor({ follow: true, events: true, tail: 10 }, STARTED);
    assert.equal(cursor.accept(line('2026-03-01T12:00:05.000000100Z', 'a')), true);
    assert.equal(cursor.accept(eventLine(40, '2026-03-01T12:00:06Z')), true);
    assert.deepEqual(cursor.query(), { follow: true, events: true, since: '2026-03-01T12:00:05.000000100Z', afterEvent: 40 }, 'an event\'s time does not move the lines\' since');
    assert.equal(cursor.accept(eventLine(40, '2026-03-01T12:00:06Z')), false, 'sent again');
    assert.equal(cursor.accept(eventLine(39, '2026-03-01T12:00:07Z')), false, 'at or below the last id: had');
    assert.equal(cursor.accept(eventLine(41, '2026-03-01T12:00:01Z')), true, 'a later id with a time before the newest line is new');
    assert.equal(cursor.query()['afterEvent'], 41);
    assert.equal(cursor.accept({ warning: { code: 'LOGS_UNAVAILABLE', message: 'node vm-b did not answer', details: {} } }), true, 'warnings always pass');
  });

  it('before any event came, resumes the events with the lines by time; before any line, the lines as the caller asked', () => {
    const lines = new LogCursor({ follow: true, events: true, tail: 10 }, STARTED);
    lines.accept(line('2026-03-01T12:00:05Z', 'a'));
    assert.deepEqual(lines.query(), { follow: true, events: true, since: '2026-03-01T12:00:05.000000000Z' });
    const events = new LogCursor({ follow: true, events: true, tail: 10 }, STARTED);
    events.accept(eventLine(7, '2026-03-01T12:00:05Z'));
    assert.deepEqual(events.query(), { follow: true, events: true, tail: 10, afterEvent: 7 });
  });
});

describe('timeKey', () => {
  it('gives times of any fraction nine digits, so they compare as strings', () => {
    assert.equal(timeKey('2026-03-01T12:00:01Z'), '2026-03-01T12:00:01.000000000Z');
    assert.equal(timeKey('2026-03-01T12:00:01.5Z'), '2026-03-01T12:00:01.500000000Z');
    assert.ok(timeKey('2026-03-01T12:00:01.123Z') < timeKey('2026-03-01T12:00:01.123000001Z'));
  });
});
