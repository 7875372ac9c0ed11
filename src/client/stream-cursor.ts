import type { ServiceEvent, StreamWarning, TimelineLine } from '../model/index.js';
import type { Query, StreamCursor } from './http-transport.js';

/**
 * The query of a stream resumed before it delivered anything: the caller's, except that `tail=0` (only
 * what comes from now on) becomes `since` the time the stream started, so what came meanwhile is not
 * lost. With a tail, what came meanwhile is in the tail.
 */
function unmoved(base: Query, startedAt: number): Query {
  if (base['tail'] !== 0) return base;
  const { tail: _tail, ...rest } = base;
  return { ...rest, since: new Date(startedAt).toISOString() };
}

/**
 * A service's followed events (`GET …/events?follow=true`): resumed with `after=` the id of the last
 * event accepted (ids are store revisions, increasing, the same on every server of a cluster), without
 * the caller's `tail` and `since` (what follows an event is all of it); an event at or below that id is
 * one the caller has.
 */
export class EventCursor implements StreamCursor<ServiceEvent> {
  #last: number | undefined;

  /** @param startedAt  epoch ms the stream was first asked for */
  constructor(
    private readonly base: Query,
    private readonly startedAt: number,
  ) {}

  query(): Query {
    if (this.#last === undefined) return unmoved(this.base, this.startedAt);
    const { tail: _tail, since: _since, ...rest } = this.base;
    return { ...rest, after: this.#last };
  }

  accept(event: ServiceEvent): boolean {
    if (typeof event.id !== 'number') return true;
    if (this.#last !== undefined && event.id <= this.#last) return false;
    this.#last = event.id;
    return true;
  }
}

/**
 * A service's followed logs (`GET …/logs?follow=true`, with `events=true` too): the log lines resumed
 * with `since=` the newest line time accepted (to the nanosecond; the server sends the lines at or after
 * it, in time order), without the caller's `tail`; dropped as had already: a log line at exactly that
 * time that was accepted (same instance, container, stream and text). The events of a timeline resumed
 * with `afterEvent=` the last event id accepted: the server sends a timeline's events in id order, so
 * every event up to it is had, and a later one whatever its time is not (by time, one recorded late with
 * a time before the newest line was lost); an event at or below that id is dropped. Before any event
 * came, the events go by `since` too. `{"warning": …}` lines always pass.
 */
export class LogCursor implements StreamCursor<TimelineLine | StreamWarning> {
  /** timeKey of the newest log line time accepted. */
  #newest: string | undefined;
  /** The log lines accepted at exactly `#newest`, by identity, with how many of each. */
  #atNewest = new Map<string, number>();
  /** Of those, how many the current request has sent (again, after a resume; or for the first time). */
  #sentAtNewest = new Map<string, number>();
  /** The id of the last event accepted. */
  #lastEvent: number | undefined;

  /** @param startedAt  epoch ms the stream was first asked for */
  constructor(
    private readonly base: Query,
    private readonly startedAt: number,
  ) {}

  query(): Query {
    this.#sentAtNewest = new Map();
    const events = this.#lastEvent === undefined ? {} : { afterEvent: this.#lastEvent };
    if (this.#newest === undefined) return { ...unmoved(this.base, this.startedAt), ...events };
    const { tail: _tail, ...rest } = this.base;
    return { ...rest, since: this.#newest, ...events };
  }

  accept(value: TimelineLine | StreamWarning): boolean {
    // Not a line to place (a warning; a value without a time): nothing to resume from, nothing to drop.
    if ('warning' in value || typeof value.time !== 'string') return true;
    if ('kind' in value) {
      if (this.#lastEvent !== undefined && value.event.id <= this.#lastEvent) return false;
      this.#lastEvent = value.event.id;
      return true;
    }
    const key = timeKey(value.time);
    // Older than the newest: only the first request sends such (the server's order is not strict); keep it.
    if (this.#newest !== undefined && key < this.#newest) return true;
    this.#advance(key);
    const identity = `${value.instance}\u0000${value.container}\u0000${value.stream}\u0000${value.text}`;
    const had = this.#atNewest.get(identity) ?? 0;
    const sent = (this.#sentAtNewest.get(identity) ?? 0) + 1;
    this.#sentAtNewest.set(identity, sent);
    // The n-th copy this request sent of a line accepted n times already: sent again. (Counted, as the
    // same text twice in one nanosecond is rare, not impossible.)
    if (sent <= had) return false;
    this.#atNewest.set(identity, had + 1);
    return true;
  }

  /** A time newer than `#newest` starts a new set of lines seen at it. */
  #advance(key: string): void {
    if (this.#newest !== undefined && key <= this.#newest) return;
    this.#newest = key;
    this.#atNewest = new Map();
    this.#sentAtNewest = new Map();
  }
}

/** "2026-11-21T15:04:05.123Z" and "…05.123456789Z" as comparable strings (nine fraction digits), as the API's log-timeline. */
export function timeKey(time: string): string {
  const m = /^(.*?)(?:\.(\d+))?Z$/.exec(time);
  if (!m) return time;
  return `${m[1] ?? ''}.${(m[2] ?? '').padEnd(9, '0').slice(0, 9)}Z`;
}
