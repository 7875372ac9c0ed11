import { useEffect, useId, useRef, useState } from 'react';
import type { ReactNode } from 'react';
import type { TimelineLine } from '../../../../src/model/index.js';
import { highlightParts, keepNewest, matchesSearch } from './log-search.js';

/** Lines kept in the page per open log; older ones are dropped (the server keeps them all). */
export const LOG_LINES_KEPT = 5000;
/** The tail choices (lines read from the end before following). */
export const TAIL_CHOICES = [100, 500, 1000] as const;

/**
 * Opens one followed stream; it must end when `signal` aborts. `onWarning` takes the stream's warnings
 * (a node whose agent did not answer: its instances' lines are missing, docs/node-telemetry.md).
 */
export type OpenLogStream = (options: { readonly tail: number; readonly signal: AbortSignal; readonly onWarning?: (warning: { readonly message: string }) => void }) => AsyncIterable<TimelineLine>;

/**
 * A followed log (an instance's logs, or the timeline with events): opened on mount and whenever the
 * tail choice changes, closed (AbortController) on unmount — a log stream exists only while it is
 * shown. New lines are added at most once per animation frame; the view keeps to the bottom while
 * the reader is there. A search box highlights matches and, with "Only matching", filters the lines.
 * stderr lines are marked; event lines show their severity.
 */
export function LogView({ open, label, showInstance }: { readonly open: OpenLogStream; readonly label: string; readonly showInstance: boolean }): ReactNode {
  const [tail, setTail] = useState<number>(TAIL_CHOICES[0]);
  const [lines, setLines] = useState<readonly TimelineLine[]>([]);
  const [status, setStatus] = useState<'connecting' | 'following' | 'ended' | string>('connecting');
  const [warnings, setWarnings] = useState<readonly string[]>([]);
  const [search, setSearch] = useState('');
  const [onlyMatching, setOnlyMatching] = useState(true);
  const [attempt, setAttempt] = useState(0);
  const box = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const openRef = useRef(open);
  openRef.current = open;
  const ids = useId();

  useEffect(() => {
    const stop = new AbortController();
    setLines([]);
    setWarnings([]);
    setStatus('connecting');
    let pending: TimelineLine[] = [];
    let frame: number | undefined;
    const flush = (): void => {
      frame = undefined;
      const added = pending;
      pending = [];
      setLines((l) => keepNewest(l, added, LOG_LINES_KEPT));
    };
    void (async () => {
      try {
        let first = true;
        const onWarning = (w: { readonly message: string }): void => setWarnings((ws) => (ws.includes(w.message) ? ws : [...ws, w.message]));
        for await (const line of openRef.current({ tail, signal: stop.signal, onWarning })) {
          if (first) {
            setStatus('following');
            first = false;
          }
          pending.push(line);
          frame ??= requestAnimationFrame(flush);
        }
        if (!stop.signal.aborted) setStatus('ended');
      } catch (e) {
        if (!stop.signal.aborted) setStatus(e instanceof Error ? e.message : String(e));
      }
    })();
    // The stream may stay quiet (an idle program): it is open once the request was answered.
    const opened = setTimeout(() => setStatus((s) => (s === 'connecting' ? 'following' : s)), 1500);
    return () => {
      stop.abort();
      clearTimeout(opened);
      if (frame !== undefined) cancelAnimationFrame(frame);
    };
  }, [tail, attempt]);

  useEffect(() => {
    const el = box.current;
    if (el && atBottom.current) el.scrollTop = el.scrollHeight;
  }, [lines, search, onlyMatching]);

  const shown = onlyMatching && search ? lines.filter((l) => matchesSearch(textOf(l), search)) : lines;
  return (
    <div className="log-view">
      <div className="log-controls">
        <label htmlFor={`${ids}-search`}>
          Search {label}
        </label>
        <input id={`${ids}-search`} type="search" value={search} onChange={(e) => setSearch(e.target.value)} placeholder="text in a line" />
        <label className="inline">
          <input type="checkbox" checked={onlyMatching} onChange={(e) => setOnlyMatching(e.target.checked)} /> Only matching
        </label>
        <label className="inline">
          Last{' '}
          <select value={tail} onChange={(e) => setTail(Number(e.target.value))} aria-label="Lines to show from the end">
            {TAIL_CHOICES.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>{' '}
          lines
        </label>
        <span className="muted small" role="status">
          {status === 'following' ? 'following live' : status === 'connecting' ? 'connecting…' : status === 'ended' ? 'stream ended' : `stream failed: ${status}`}
        </span>
        {status !== 'following' && status !== 'connecting' && (
          <button type="button" onClick={() => setAttempt((a) => a + 1)}>
            Reconnect
          </button>
        )}
      </div>
      {warnings.map((w) => (
        <p key={w} className="log-warning bad small" role="alert">
          {w}
        </p>
      ))}
      <div
        className="log-lines mono"
        ref={box}
        tabIndex={0}
        role="log"
        aria-label={label}
        onScroll={(e) => {
          const el = e.currentTarget;
          atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        }}
      >
        {shown.length === 0 && <div className="muted">{lines.length === 0 ? 'No lines yet.' : 'No line matches.'}</div>}
        {shown.map((l, i) => (
          <LogRow key={i} line={l} search={search} showInstance={showInstance} />
        ))}
      </div>
    </div>
  );
}

function textOf(l: TimelineLine): string {
  return 'kind' in l ? `${l.event.type} ${l.event.message}` : l.text;
}

function LogRow({ line, search, showInstance }: { readonly line: TimelineLine; readonly search: string; readonly showInstance: boolean }): ReactNode {
  const time = line.time.slice(11, 23);
  if ('kind' in line) {
    return (
      <div className={`log-line event sev-${line.event.severity}`} data-event={line.event.type}>
        <span className="log-time" title={line.time}>
          {time}
        </span>{' '}
        <span className="log-tag">{line.event.severity === 'info' ? 'event' : line.event.severity}</span> <span className="log-src">{line.event.type}</span>{' '}
        <Highlighted text={line.event.message} search={search} />
      </div>
    );
  }
  return (
    <div className={`log-line ${line.stream}`} data-stream={line.stream}>
      <span className="log-time" title={line.time}>
        {time}
      </span>{' '}
      {showInstance && <span className="log-src">#{line.slot} </span>}
      {line.stream === 'stderr' && (
        <span className="log-tag" title="written to stderr">
          stderr
        </span>
      )}{' '}
      <Highlighted text={line.text} search={search} />
    </div>
  );
}

function Highlighted({ text, search }: { readonly text: string; readonly search: string }): ReactNode {
  return highlightParts(text, search).map((p, i) => (p.match ? <mark key={i}>{p.text}</mark> : <span key={i}>{p.text}</span>));
}
