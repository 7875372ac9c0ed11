import type { EventLine, LogLine, ServiceEvent, TimelineLine } from '../model/index.js';

/*
 * One time-ordered timeline of a service (GET …/logs?events=true): its instances' log lines, which the
 * telemetry already merges in time order, with the service's events put in between.
 *
 * Events are held until it is safe to write them: when a log line with a later time comes, or — while
 * following — once the telemetry's watermark passed them (every line older than the watermark has been
 * yielded). A telemetry without watermarks gets a guess instead: the log stream has been quiet for a
 * moment and the event is older than the log readers' usual lag. A log line that arrives later than
 * that is still written, just after the event (never dropped).
 *
 * Events go out in id order (ids are store revisions): an event may go, and takes every event recorded
 * before it along, even one with a later time (an agent's report of an exit that came late). So what a
 * client got is every event up to the last id it got, and a timeline resumes its events after that id
 * (`afterEvent`), which no late event can slip behind; a resume by time would miss one recorded late
 * with a time before the client's last line.
 */

/** Without watermarks: followed log lines are taken to reach us at most this long after their time. */
export const LOG_LAG_MS = 500;
/** The log stream counts as quiet after this long without a line (before the first line: the history read). */
const QUIET_MS = 300;
const FIRST_QUIET_MS = 2000;
const TICK_MS = 100;

export interface EventFeed {
  /** Events recorded before the stream started, in id order. */
  readonly history: readonly ServiceEvent[];
  /** Subscribes to events recorded from now on (follow only), pushed in id order; returns the unsubscribe. */
  readonly subscribe?: (push: (event: ServiceEvent) => void) => () => void;
}

/** "2026-11-21T15:04:05.123Z" and "…05.123456789Z" as comparable strings (nine fraction digits). */
export function timeKey(time: string): string {
  const m = /^(.*?)(?:\.(\d+))?Z$/.exec(time);
  if (!m) return time;
  return `${m[1] ?? ''}.${(m[2] ?? '').padEnd(9, '0').slice(0, 9)}Z`;
}

export function eventLine(event: ServiceEvent): EventLine {
  return { kind: 'event', time: event.time, event };
}

/**
 * Yields the log lines with the events put in between, in time order (the events in id order: an event
 * recorded before another goes first, even when its time is later). Without `follow`, the held
 * events are written when the lines end; with it, the stream ends when `lines` does (the client left).
 * @param options.now  the clock (epoch ms), injected for tests
 * @param options.watermark  the telemetry's latest watermark (RFC 3339), undefined until it sent one
 */
export async function* withEvents(
  lines: AsyncIterator<LogLine>,
  feed: EventFeed,
  options: { readonly follow: boolean; readonly now?: () => number; readonly watermark?: () => string | undefined },
): AsyncGenerator<TimelineLine, void, undefined> {
  const now = options.now ?? Date.now;
  // In id order: the history, then each event as the store's watch pushes it.
  const held: ServiceEvent[] = [...feed.history];
  /** The held events up to the last one whose time `due` lets go (with those recorded before it). */
  const release = (due: (key: string) => boolean): EventLine[] => {
    let last = held.length - 1;
    while (last >= 0 && !due(timeKey((held[last] as ServiceEvent).time))) last--;
    return held.splice(0, last + 1).map(eventLine);
  };
  const unsubscribe = options.follow ? feed.subscribe?.((event) => held.push(event)) : undefined;
  let lastLineAt = now();
  let sawLine = false;
  // A read still pending when the consumer stops must not surface as an unhandled rejection.
  const read = (): Promise<IteratorResult<LogLine>> => {
    const p = lines.next();
    void p.catch(() => undefined);
    return p;
  };
  try {
    let pending = read();
    for (;;) {
      const next = options.follow ? await raceTick(pending) : await pending;
      if (next === TICK) {
        const mark = options.watermark?.();
        if (mark !== undefined) {
          const safe = timeKey(mark);
          yield* release((key) => key < safe);
          continue;
        }
        const quiet = now() - lastLineAt >= (sawLine ? QUIET_MS : FIRST_QUIET_MS);
        const safe = timeKey(new Date(now() - LOG_LAG_MS).toISOString());
        if (quiet) yield* release((key) => key <= safe);
        continue;
      }
      if (next.done) {
        yield* release(() => true);
        return;
      }
      const lineKey = timeKey(next.value.time);
      yield* release((key) => key <= lineKey);
      yield next.value;
      lastLineAt = now();
      sawLine = true;
      pending = read();
    }
  } finally {
    unsubscribe?.();
    // Not awaited: a follow read may still be pending, and return() would wait for it (it ends when the stream's signal aborts).
    void lines.return?.().catch(() => undefined);
  }
}

const TICK = Symbol('tick');

/** The next line, or TICK when none came within TICK_MS (the pending read stays pending). */
async function raceTick<T>(pending: Promise<T>): Promise<T | typeof TICK> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([pending, new Promise<typeof TICK>((resolve) => (timer = setTimeout(() => resolve(TICK), TICK_MS)))]);
  } finally {
    clearTimeout(timer);
  }
}
