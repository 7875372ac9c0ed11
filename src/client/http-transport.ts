import { BerthApiError } from './berth-api-error.js';
import { connectionFailure, describeCause } from './connection-failure.js';
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

/** Methods another server may be asked again after a connection broke mid-request (RFC 9110 safe methods). */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** One server the request could not get an answer from, and why. */
interface Failure {
  readonly server: string;
  readonly reason: string;
  readonly kind: 'not-sent' | 'interrupted' | undefined;
}

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
 */
export class HttpTransport {
  /** The servers to try, in order (base URLs without a trailing `/`); never empty. */
  readonly servers: readonly string[];
  readonly #fetch: FetchFunction;
  readonly #authorization: string | undefined;
  #current = 0;
  /** Other servers of the cluster, as its answers named them (for suggestions). */
  #learned: readonly string[] = [];

  constructor(servers: string | readonly string[], fetchFunction: FetchFunction, token?: string) {
    const list = (typeof servers === 'string' ? [servers] : servers).map((s) => s.replace(/\/+$/, ''));
    if (list.length === 0) throw new Error('HttpTransport: no server');
    this.servers = list;
    this.#fetch = fetchFunction;
    this.#authorization = token ? `Bearer ${token}` : undefined;
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
   * Streams NDJSON values of a GET route. Errors of the request surface on the first iteration. An abort
   * of `signal` ends the iteration without an error; a connection lost mid-stream is SERVER_UNREACHABLE
   * (naming the other servers known, for the caller to go on there).
   */
  async *stream<T>(path: string, query: Query, signal: AbortSignal | undefined): AsyncGenerator<T, void, undefined> {
    let sent: { response: Response; server: string };
    try {
      sent = await this.#send('GET', path, { query, signal });
    } catch (e) {
      if (signal?.aborted) return;
      throw e;
    }
    const { response, server } = sent;
    if (!response.body) return;
    const reader = response.body.getReader();
    try {
      for await (const value of parseNdjson(readChunks(reader))) yield value as T;
    } catch (e) {
      if (signal?.aborted) return;
      if (e instanceof SyntaxError) throw e;
      throw new BerthApiError(0, 'SERVER_UNREACHABLE', `lost the connection to the berth server at ${server} (${describeCause(e)})${this.#othersHint([server])}`, { servers: this.knownServers() }, { cause: e });
    } finally {
      // Closes the connection when the caller stops early (break, return, abort).
      await reader.cancel().catch(() => undefined);
    }
  }

  async #send(method: string, path: string, options: RequestOptions): Promise<{ response: Response; server: string }> {
    const headers: Record<string, string> = { accept: 'application/json, application/x-ndjson' };
    if (this.#authorization) headers['authorization'] = this.#authorization;
    const init: RequestInit = { method, headers };
    if (options.body !== undefined) {
      init.body = JSON.stringify(options.body);
      init.headers = { ...init.headers, 'content-type': 'application/json' };
    }
    if (options.signal) init.signal = options.signal;
    const failures: Failure[] = [];
    for (let k = 0; k < this.servers.length; k++) {
      const at = (this.#current + k) % this.servers.length;
      const server = this.servers[at] as string;
      let response: Response;
      try {
        response = await this.#fetch(server + path + queryString(options.query), init);
      } catch (e) {
        if (options.signal?.aborted) throw e;
        const kind = connectionFailure(e);
        failures.push({ server, reason: describeCause(e), kind });
        if (kind === 'not-sent' || (kind === 'interrupted' && SAFE_METHODS.has(method))) continue;
        throw this.#unreachable(method, path, failures, e);
      }
      this.#current = at;
      const named = response.headers.get(CONTROL_PLANE_SERVERS_HEADER);
      if (named) this.learnServers(named.split(','));
      if (!response.ok) throw await apiError(response, `${method} ${path}`);
      return { response, server };
    }
    throw this.#unreachable(method, path, failures, undefined);
  }

  /**
   * SERVER_UNREACHABLE naming each server tried and why; `details.servers` [{server, reason}] and
   * `details.otherServers` (servers of the cluster that were not tried).
   */
  #unreachable(method: string, path: string, failures: readonly Failure[], cause: unknown): BerthApiError {
    const last = failures[failures.length - 1] as Failure;
    const tried = failures.map((f) => f.server);
    const hint = this.#othersHint(tried);
    const details = { baseUrl: this.servers[0], servers: failures.map(({ server, reason }) => ({ server, reason })), otherServers: this.knownServers().filter((s) => !tried.includes(s)) };
    const options = cause === undefined ? {} : { cause };
    // A write whose connection broke after it was made: maybe applied, so not sent again (anywhere).
    const before = failures.length > 1 ? ` (before it: ${failures.slice(0, -1).map((f) => `${f.server} (${f.reason})`).join(', ')})` : '';
    if (last.kind === 'interrupted' && !SAFE_METHODS.has(method) && this.servers.length > 1) {
      return new BerthApiError(
        0,
        'SERVER_UNREACHABLE',
        `lost the connection to the berth server at ${last.server} during ${method} ${path} (${last.reason}), before it answered${before}: the write may have been applied, so it was not sent to another server; check whether it took effect, then retry${hint}`,
        details,
        options,
      );
    }
    // One server given, or a failure that is no reason to try another (a certificate that does not match).
    if (failures.length === 1 || failures.length < this.servers.length) {
      return new BerthApiError(
        0,
        'SERVER_UNREACHABLE',
        `cannot reach the berth server at ${last.server} (${last.reason})${before}: start one with \`berth server\`, or point --host or BERTH_HOST at a running server${hint}`,
        details,
        options,
      );
    }
    return new BerthApiError(
      0,
      'SERVER_UNREACHABLE',
      `cannot reach any of the berth servers ${failures.map((f) => `${f.server} (${f.reason})`).join(', ')}: start one with \`berth server\`, or point --host or BERTH_HOST at running servers${hint}`,
      details,
      options,
    );
  }

  /** `; other servers of its cluster: B, C (--host B, or several: --host A,B,C)`, or '' when none is known. */
  #othersHint(tried: readonly string[]): string {
    const others = this.knownServers().filter((s) => !tried.includes(s));
    if (others.length === 0) return '';
    return `; other servers of its cluster: ${others.join(', ')} (--host ${others[0] as string}, or several to try in turn: --host ${[...tried, ...others].join(',')})`;
  }
}

async function* readChunks(reader: ReadableStreamDefaultReader<Uint8Array>): AsyncGenerator<Uint8Array, void, undefined> {
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    yield value;
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
