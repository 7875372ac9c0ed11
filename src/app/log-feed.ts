import type { NodeTelemetryReader } from '../api/index.js';
import { parseNdjson } from '../client/index.js';
import type { Instance, LogLine } from '../model/index.js';

/*
 * The log feeds RemoteTelemetry merges (app/remote-telemetry.ts): one per request to a node's
 * telemetry listener, and one for the instances this process reads itself. A feed collects what its
 * source sends — the history (the lines before its first watermark), then followed lines and
 * watermarks — and calls `wake` after each change; it never throws: a failure is its state.
 */

/** Where a node's telemetry listener is and what to present (docs/node-telemetry.md). */
export interface TelemetryTarget {
  /** `https://address:port` of the listener (`http://` for an agent that reported no certificate). */
  readonly url: string;
  readonly token: string;
  /** SHA-256 of the listener's certificate, as the agent reported it: only that certificate is accepted. */
  readonly fingerprint?: string;
  /** The node is marked down: it is still asked, with a shorter wait. */
  readonly down?: boolean;
}

export interface FeedQuery {
  readonly tail?: number;
  readonly since?: string;
  readonly follow: boolean;
}

export interface FeedTimeouts {
  /** No answer (status line) within this long: the node did not answer. */
  readonly headersMs: number;
  /** Nothing at all (not even a heartbeat line) for this long: the stream is broken. */
  readonly idleMs: number;
}

export class LogFeed {
  /** Lines before the first watermark, while the history is collected (`collectHistory`). */
  readonly history: LogLine[] = [];
  /** Lines not yet merged into the output. */
  buffer: LogLine[] = [];
  /** The newest watermark: every line of this feed older than it has arrived. */
  watermark: string | undefined;
  /** Time of the newest line received. */
  lastLine: string | undefined;
  historyDone = false;
  state: 'open' | 'ended' | 'failed' = 'open';
  reason = '';
  /** When it failed (epoch ms), for the retry. */
  failedAt = 0;
  /** Its failure was reported (or its predecessor's, and it has not delivered since): not again. */
  warned = false;
  /** Asked again by a newer feed: it no longer covers its instances, and goes once its buffer is merged. */
  retired = false;
  private readonly abort = new AbortController();

  constructor(
    readonly node: string,
    readonly ids: readonly string[],
    /** Lines before the first watermark are history (the caller's tail applies to them); false: every line goes to `buffer`. */
    private readonly collectHistory: boolean,
    private readonly wake: () => void,
    /** Lines at or before this time were merged already (a feed opened again after a break). */
    private readonly skipUpTo?: string,
    /** The watermark its predecessor had reached (a feed opened again after a break): where to ask from should it fail too. */
    private readonly resumeFrom?: string,
  ) {}

  /**
   * Where a feed that asks this one's node again after it failed starts: from its watermark (every
   * line before it arrived) and after its newest line; when it failed before either came (its node was
   * still down), from its predecessor's, so a node down for several retries is not asked again from
   * the start of the follow, nor are its lines merged twice.
   */
  resumePoint(): { readonly since: string | undefined; readonly skipUpTo: string | undefined } {
    return { since: this.watermark ?? this.resumeFrom, skipUpTo: this.lastLine ?? this.skipUpTo };
  }

  /** Ends the feed's request (the merged stream ended, or its client went away). */
  close(): void {
    this.abort.abort();
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Reads a node's listener: `GET /v1/node/instances/logs?id=…` with the telemetry token. */
  async readRemote(target: TelemetryTarget, query: FeedQuery, timeouts: FeedTimeouts, fetchFn: typeof fetch): Promise<void> {
    const params = new URLSearchParams();
    for (const id of this.ids) params.append('id', id);
    if (query.tail !== undefined) params.set('tail', String(query.tail));
    if (query.since !== undefined) params.set('since', query.since);
    if (query.follow) params.set('follow', 'true');
    let why = '';
    const giveUp = (reason: string): void => {
      why = reason;
      this.abort.abort();
    };
    const headersMs = target.down ? Math.min(timeouts.headersMs, 1000) : timeouts.headersMs;
    let timer = setTimeout(() => giveUp(`no answer within ${headersMs} ms${target.down ? ' (the node is down)' : ''}`), headersMs);
    /** Whether the answer came and its lines were being read: a failure then is a broken stream (a SIGKILLed agent). */
    let streaming = false;
    try {
      const response = await fetchFn(`${target.url}/v1/node/instances/logs?${params.toString()}`, { headers: { authorization: `Bearer ${target.token}` }, signal: this.abort.signal });
      clearTimeout(timer);
      if (!response.ok || !response.body) {
        this.fail(await refusal(response));
        return;
      }
      const idle = (): void => {
        clearTimeout(timer);
        timer = setTimeout(() => giveUp(`its stream stayed silent for ${timeouts.idleMs} ms`), timeouts.idleMs);
      };
      idle();
      streaming = true;
      for await (const value of parseNdjson(chunksOf(response.body, idle))) this.take(value);
      if (query.follow && !this.abort.signal.aborted) this.fail('its stream ended (the agent stopped?)');
      else this.end();
    } catch (error) {
      if (why !== '') this.fail(why);
      else if (this.abort.signal.aborted) this.end();
      // Said as such: a bare "aborted" or "terminated" told the user nothing of what happened.
      else this.fail(streaming ? `its stream broke (${describeFailure(error)})` : describeFailure(error));
    } finally {
      clearTimeout(timer);
    }
  }

  /** Reads this process's own instances (the all-in-one server's node) through `reader`. */
  async readLocal(reader: NodeTelemetryReader, source: () => readonly Instance[], query: FeedQuery): Promise<void> {
    try {
      const lines = reader.logs(source, {
        ...(query.tail === undefined ? {} : { tail: query.tail }),
        ...(query.since === undefined ? {} : { since: query.since }),
        follow: query.follow,
        signal: this.abort.signal,
        onWatermark: (time) => this.take({ watermark: time }),
      });
      for await (const line of lines) this.take(line);
      this.end();
    } catch (error) {
      if (this.abort.signal.aborted) this.end();
      else this.fail(describeFailure(error));
    }
  }

  private take(value: unknown): void {
    if (typeof value !== 'object' || value === null) return;
    if ('watermark' in value && typeof value.watermark === 'string') {
      if (this.watermark === undefined || value.watermark > this.watermark) this.watermark = value.watermark;
      this.historyDone = true;
    } else if ('error' in value) {
      const e = value.error as { code?: unknown; message?: unknown };
      this.fail(`its stream failed: ${String(e.message ?? e.code ?? 'unknown error')}`);
      this.abort.abort();
      return;
    } else if ('time' in value && typeof value.time === 'string') {
      const line = value as LogLine;
      if (this.skipUpTo !== undefined && line.time <= this.skipUpTo) return;
      if (this.lastLine === undefined || line.time > this.lastLine) this.lastLine = line.time;
      if (this.collectHistory && !this.historyDone) this.history.push(line);
      else this.buffer.push(line);
    }
    this.wake();
  }

  private end(): void {
    if (this.state !== 'open') return;
    this.state = 'ended';
    this.historyDone = true;
    this.wake();
  }

  /** Fails at once: the node has no listener to ask (not registered, no telemetry port…). */
  refuse(reason: string): void {
    this.fail(reason);
  }

  private fail(reason: string): void {
    if (this.state !== 'open') return;
    this.state = 'failed';
    this.reason = reason;
    this.failedAt = Date.now();
    this.historyDone = true;
    this.wake();
  }
}

/** The body's chunks, calling `onChunk` for each (the idle timer). */
async function* chunksOf(body: ReadableStream<Uint8Array>, onChunk: () => void): AsyncGenerator<Uint8Array, void, undefined> {
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      onChunk();
      yield value;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

/** "401 UNAUTHENTICATED: not node vm-a's telemetry token", from a listener's error answer. */
async function refusal(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { code?: unknown; message?: unknown };
    return `its listener answered ${response.status} ${String(body.code)}: ${String(body.message)}`;
  } catch {
    return `its listener answered ${response.status}${text ? `: ${text.slice(0, 200)}` : ''}`;
  }
}

/** The useful part of a fetch failure: undici's "fetch failed" hides the socket error in `cause`. */
export function describeFailure(error: unknown): string {
  const cause = (error as { cause?: unknown })?.cause;
  if (cause instanceof Error) {
    const aggregate = (cause as { errors?: unknown }).errors;
    if (Array.isArray(aggregate) && aggregate[0] instanceof Error) return aggregate[0].message;
    return cause.message;
  }
  return error instanceof Error ? error.message : String(error);
}
