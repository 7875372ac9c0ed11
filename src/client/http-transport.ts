import { BerthApiError, isApiError, streamErrorOf } from './berth-api-error.js';
import { connectionFailure, describeCause } from './connection-failure.js';
import { IdleTimer, formatMs } from './idle-timer.js';
import type { Failure } from './unreachable-errors.js';
import { SAFE_METHODS, lostStreamError, othersHint, unreachableError } from './unreachable-errors.js';
import { parseNdjson } from './ndjson.js';

/** The fetch the client calls: the global one by default, a stub in tests. */
export type FetchFunction = (input: string, init: RequestInit) => Promise<Response>;

export type Query = Record<string, string | number | boolean | readonly string[] | undefined>;

export interface RequestOptions {
  readonly query?: Query;
  readonly body?: unknown;
  readonly signal?: AbortSignal;
}

/**
 * The response header by which a server of several (`berth server --store etcd://…`) names every
 * control-plane server of its cluster, comma-separated (api/leader-routing.ts sets it; the same
 * servers as GET /v1/version's `controlPlane.servers`).
 */
export const CONTROL_PLANE_SERVERS_HEADER = 'berth-control-plane-servers';

/**
 * Where a followed stream stands, so that `follow` can ask another server for the rest of it
 * (docs/api.md, "Resuming a followed stream"; stream-cursor.ts has the cursors of logs and events):
 * the query of the next request, and which values the caller has already.
 */
export interface StreamCursor<T> {
  /** The query of the next request: the caller's at first, then one that resumes after what was accepted. */
  query(): Query;
  /** Takes a value the stream sent; false for one the caller has already (sent again after a resume). */
  accept(value: T): boolean;
}

/**
 * How long the transport waits for a server before it counts as failed (and, where the rules allow,
 * the next server is tried). Unset or 0: as long as the fetch function waits (Node's fetch: undici's
 * 300 s headers and body timeouts). The connect timeout is the fetch function's (cli/http-fetch.ts).
 */
export interface TransportTimeouts {
  /**
   * Per server and request, ms until the status line and headers: a server that accepted the
   * connection but does not answer (stopped, overloaded, deadlocked) is left after this long, as a
   * connection broken before the answer (`interrupted`: only safe methods go on to the next server).
   * Streams answer their headers at once, so this holds for them too; their bodies are not timed by it.
   */
  readonly answerMs?: number;
  /**
   * ms a followed stream may send nothing at all — not even the heartbeat (an empty line) every
   * berth server sends each 15 s on an idle stream — before it counts as broken and is resumed on the
   * next server. A quiet stream is never cut: its heartbeats keep it alive.
   */
  readonly streamIdleMs?: number;
}

/** A followed stream going on on another server (or the same one, asked again). */
export interface ResumedStream {
  /** The server whose stream broke, and why (`lost the connection mid-stream: terminated`). */
  readonly from: string;
  readonly reason: string;
  /** The server it goes on from. */
  readonly to: string;
}

/** A request a server answered with 2xx. */
interface Opened {
  readonly response: Response;
  readonly server: string;
  /** Index of `server` in `servers`. */
  readonly at: number;
  /** Aborts this request only (its timers use it): the caller's signal is its parent. */
  readonly attempt: AbortController | undefined;
}

/**
 * A followed stream that held this long before it broke counted as working: the servers that failed
 * before it may be tried again (they may have come back).
 */
const FOLLOW_HELD_MS = 30_000;

/**
 * HTTP for the typed client: JSON requests and NDJSON streams against a berth server, every failure
 * turned into a BerthApiError (the server's `{code, message, details}`, or SERVER_UNREACHABLE).
 *
 * Several servers (`berth --host A,B`: servers of one cluster): a request goes to the current server
 * (the first, until one fails); when no connection to it can be made (refused, no route, connect
 * timeout) the next is tried, for any method: the request certainly did not arrive. When the
 * connection broke after it was made (reset, a timeout before the answer), only a safe method (GET,
 * HEAD) goes on to the next: a write may have been applied. The server that answered stays current.
 * Answers (error statuses included) are never repeated elsewhere. The servers a cluster's answers name
 * (CONTROL_PLANE_SERVERS_HEADER, `learnServers`) are not tried, only suggested in the error.
 *
 * A server that accepts the connection and never answers (a stopped process) is left after
 * `timeouts.answerMs`, as a connection broken before the answer (the error names it: `no answer within
 * 30 s (request timeout)`). A followed stream (`follow`) goes on on the next server from where it was
 * when its server dies, its connection breaks, or it stays silent past `timeouts.streamIdleMs`.
 */
export class HttpTransport {
  /** The servers to try, in order (base URLs without a trailing `/`); never empty. */
  readonly servers: readonly string[];
  readonly #fetch: FetchFunction;
  readonly #authorization: string | undefined;
  #current = 0;
  /** Other servers of the cluster, as its answers named them (for suggestions). */
  #learned: readonly string[] = [];
  readonly #timeouts: TransportTimeouts;

  constructor(servers: string | readonly string[], options: { readonly fetch: FetchFunction; readonly token?: string | undefined; readonly timeouts?: TransportTimeouts }) {
    const list = (typeof servers === 'string' ? [servers] : servers).map((s) => s.replace(/\/+$/, ''));
    if (list.length === 0) throw new Error('HttpTransport: no server');
    this.servers = list;
    this.#fetch = options.fetch;
    this.#authorization = options.token ? `Bearer ${options.token}` : undefined;
    this.#timeouts = options.timeouts ?? {};
  }

  /** The server requests go to now: the first, or the last one that answered. */
  get baseUrl(): string {
    return this.servers[this.#current] as string;
  }

  /** Control-plane servers of the cluster as an answer listed them (GET /v1/version's `controlPlane.servers`). */
  learnServers(urls: readonly string[]): void {
    const list = urls.map((u) => u.trim().replace(/\/+$/, '')).filter((u) => u !== '');
    if (list.length > 0) this.#learned = list;
  }

  /** The servers of the cluster this client knows of: those it was given, then those answers named. */
  knownServers(): string[] {
    return [...new Set([...this.servers, ...this.#learned])];
  }

  async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const { response, server } = await this.#send(method, path, options);
    const text = await response.text();
    if (text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new BerthApiError(response.status, `HTTP_${response.status}`, `the server at ${server} answered ${method} ${path} with something that is not JSON: ${text.slice(0, 200)}`);
    }
  }

  /**
   * Streams NDJSON values of a GET route. Errors of the request surface on the first iteration; a
   * `{"error": {code, message, details}}` line (the server's stream failed after its status line) is
   * thrown as that BerthApiError (status 0). An abort of `signal` ends the iteration without an error; a
   * connection lost mid-stream is SERVER_UNREACHABLE (naming the other servers known, for the caller to
   * go on there).
   */
  async *stream<T>(path: string, query: Query, signal: AbortSignal | undefined): AsyncGenerator<T, void, undefined> {
    let sent: Opened;
    try {
      sent = await this.#send('GET', path, { query, signal });
    } catch (e) {
      if (signal?.aborted) return;
      throw e;
    }
    const { response, server } = sent;
    if (!response.body) return;
    const reader = response.body.getReader();
    let failed: BerthApiError | undefined;
    try {
      for await (const value of parseNdjson(readChunks(reader))) {
        // The server's `{"error": …}` line (a stream that failed after its status line) is thrown, as follow() does.
        failed = streamErrorOf(value);
        if (failed) throw failed;
        yield value as T;
      }
    } catch (e) {
      if (e === failed) throw e;
      if (signal?.aborted) return;
      if (e instanceof SyntaxError) throw e;
      throw new BerthApiError(0, 'SERVER_UNREACHABLE', `lost the connection to the berth server at ${server} (${describeCause(e)})${othersHint([server], this.knownServers())}`, { servers: this.knownServers() }, { cause: e });
    } finally {
      // Closes the connection when the caller stops early (break, return, abort).
      await reader.cancel().catch(() => undefined);
    }
  }

  /**
   * Follows an NDJSON stream (`?follow=true`) across the servers: when the server it reads dies, its
   * connection breaks, it ends the stream with SERVER_STOPPING (it shuts down), or it sends nothing for
   * `streamIdleMs` (a hung server), the stream is asked again of the next server with `cursor.query()`
   * — which resumes after the last value accepted — and values the cursor already had are dropped
   * (`cursor.accept`), so none is yielded twice and none is lost. Servers are tried as `json` tries
   * them; one that failed is not asked again until the stream made progress (a value, or
   * FOLLOW_HELD_MS on one server). `onResume` is told each time the stream goes on elsewhere.
   *
   * Ends when the server ends the stream (it is done: not resumed), or quietly when `signal` aborts.
   * @throws BerthApiError SERVER_UNREACHABLE once every server failed, naming each and why
   *   (`details.servers` [{server, reason}]); an `{"error": {code, message, details}}` line of the
   *   server as that error; the server's answer to the request (404 SERVICE_NOT_FOUND …) as it is.
   */
  async *follow<T>(path: string, cursor: StreamCursor<T>, options: { readonly signal?: AbortSignal | undefined; readonly onResume?: ((resumed: ResumedStream) => void) | undefined }): AsyncGenerator<T, void, undefined> {
    const { signal } = options;
    const failures: Failure[] = [];
    let from = this.#current;
    let broken: Failure | undefined;
    for (;;) {
      let sent: Opened;
      try {
        sent = await this.#send('GET', path, { query: cursor.query(), signal }, { failures, from });
      } catch (e) {
        if (signal?.aborted) return;
        throw e;
      }
      const { response, server, at, attempt } = sent;
      if (broken) options.onResume?.({ from: broken.server, reason: broken.reason, to: server });
      if (!response.body) return;
      const reader = response.body.getReader();
      const openedAt = Date.now();
      let progressed = false;
      const idle = new IdleTimer(this.#timeouts.streamIdleMs, attempt);
      try {
        for await (const value of parseNdjson(readChunks(reader, () => idle.touch()))) {
          const error = streamErrorOf(value);
          // The server shuts down (SIGTERM): the stream is not done, its server is; go on at the next.
          if (error?.code === 'SERVER_STOPPING') throw new BodyReadError('the server is stopping', { cause: error });
          if (error) throw error;
          if (!cursor.accept(value as T)) continue;
          progressed = true;
          yield value as T;
        }
        return;
      } catch (e) {
        if (signal?.aborted) return;
        // Only a failure to read the body is the server's or the connection's; anything else is thrown as it is.
        if (!(e instanceof BodyReadError)) throw e;
        if (progressed || Date.now() - openedAt >= FOLLOW_HELD_MS) failures.length = 0;
        const reason = idle.expired
          ? `its stream sent nothing for ${formatMs(this.#timeouts.streamIdleMs ?? 0)}, not even a heartbeat (stream idle timeout)`
          : isApiError(e.cause, 'SERVER_STOPPING')
            ? 'it is stopping (SERVER_STOPPING)'
            : `lost the connection mid-stream: ${describeCause(e.cause)}`;
        broken = { server, reason, kind: 'interrupted' };
        failures.push(broken);
        if (this.servers.every((s) => failures.some((f) => f.server === s))) throw lostStreamError(path, failures, { servers: this.servers, known: this.knownServers(), cause: e });
        from = (at + 1) % this.servers.length;
      } finally {
        idle.stop();
        await reader.cancel().catch(() => undefined);
      }
    }
  }

  /**
   * Sends the request to the servers in turn from the current one (or `resume.from`), skipping those in
   * `resume.failures` (a followed stream's servers that failed already; their failures start the list
   * an error names). Each attempt is limited to `answerMs` until its headers.
   */
  async #send(method: string, path: string, options: RequestOptions, resume?: { readonly failures: readonly Failure[]; readonly from: number }): Promise<Opened> {
    const headers: Record<string, string> = { accept: 'application/json, application/x-ndjson' };
    if (this.#authorization) headers['authorization'] = this.#authorization;
    const init: RequestInit = { method, headers };
    if (options.body !== undefined) {
      init.body = JSON.stringify(options.body);
      init.headers = { ...init.headers, 'content-type': 'application/json' };
    }
    const failures: Failure[] = [...(resume?.failures ?? [])];
    const skip = new Set(failures.map((f) => f.server));
    const first = resume?.from ?? this.#current;
    const answerMs = this.#timeouts.answerMs ?? 0;
    const timed = answerMs > 0 || this.#timeouts.streamIdleMs !== undefined;
    for (let k = 0; k < this.servers.length; k++) {
      const at = (first + k) % this.servers.length;
      const server = this.servers[at] as string;
      if (skip.has(server)) continue;
      // This attempt's own abort (its timers'), under the caller's signal.
      const attempt = timed ? new AbortController() : undefined;
      const signals = [options.signal, attempt?.signal].filter((s): s is AbortSignal => s !== undefined);
      const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
      let timedOut = false;
      const timer = answerMs > 0 ? setTimeout(() => ((timedOut = true), attempt?.abort()), answerMs) : undefined;
      let response: Response;
      try {
        response = await this.#fetch(server + path + queryString(options.query), signal ? { ...init, signal } : init);
      } catch (e) {
        if (options.signal?.aborted) throw e;
        const kind = timedOut ? 'interrupted' : connectionFailure(e);
        const reason = timedOut ? `no answer within ${formatMs(answerMs)} (request timeout)` : describeCause(e);
        failures.push({ server, reason, kind });
        if (kind === 'not-sent' || (kind === 'interrupted' && SAFE_METHODS.has(method))) continue;
        throw unreachableError(method, path, failures, { servers: this.servers, known: this.knownServers(), cause: e });
      } finally {
        clearTimeout(timer);
      }
      this.#current = at;
      const named = response.headers.get(CONTROL_PLANE_SERVERS_HEADER);
      if (named) this.learnServers(named.split(','));
      if (!response.ok) throw await apiError(response, `${method} ${path}`);
      return { response, server, at, attempt };
    }
    throw unreachableError(method, path, failures, { servers: this.servers, known: this.knownServers(), cause: undefined });
  }
}

/** A body that could not be read to its end: the connection broke (or was aborted); `cause` says how. */
class BodyReadError extends Error {}

/**
 * The chunks of a body; `onChunk` is told of each as it comes (heartbeats included). With `onChunk`,
 * a failed read rejects as BodyReadError (follow tells it from its consumer's errors that way).
 */
async function* readChunks(reader: ReadableStreamDefaultReader<Uint8Array>, onChunk?: () => void): AsyncGenerator<Uint8Array, void, undefined> {
  for (;;) {
    let result: Awaited<ReturnType<typeof reader.read>>;
    try {
      result = await reader.read();
    } catch (e) {
      if (onChunk) throw new BodyReadError('the body could not be read', { cause: e });
      throw e;
    }
    if (result.done) return;
    onChunk?.();
    yield result.value;
  }
}

function queryString(query: Query | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value as readonly string[]) params.append(key, item);
    else params.append(key, String(value));
  }
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/** Builds the error from berth's `{code, message, details}` body, or from whatever else came back. */
async function apiError(response: Response, what: string): Promise<BerthApiError> {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { code?: unknown; message?: unknown; details?: unknown };
    if (typeof body.code === 'string' && typeof body.message === 'string') {
      const details = typeof body.details === 'object' && body.details !== null ? (body.details as Record<string, unknown>) : {};
      return new BerthApiError(response.status, body.code, body.message, details);
    }
  } catch {
    // not berth's error body: fall through
  }
  const shown = text.trim().slice(0, 200);
  return new BerthApiError(response.status, `HTTP_${response.status}`, `${what} failed: ${response.status} ${response.statusText}${shown ? `: ${shown}` : ''}`);
}
