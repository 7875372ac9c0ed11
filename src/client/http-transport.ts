import { BerthApiError } from './berth-api-error.js';
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
 * HTTP for the typed client: JSON requests and NDJSON streams against one berth server, every failure
 * turned into a BerthApiError (the server's `{code, message, details}`, or SERVER_UNREACHABLE).
 */
export class HttpTransport {
  readonly baseUrl: string;
  readonly #fetch: FetchFunction;
  readonly #authorization: string | undefined;

  constructor(baseUrl: string, fetchFunction: FetchFunction, token?: string) {
    this.baseUrl = baseUrl;
    this.#fetch = fetchFunction;
    this.#authorization = token ? `Bearer ${token}` : undefined;
  }

  async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.#send(method, path, options);
    const text = await response.text();
    if (text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new BerthApiError(response.status, `HTTP_${response.status}`, `the server at ${this.baseUrl} answered ${method} ${path} with something that is not JSON: ${text.slice(0, 200)}`);
    }
  }

  /**
   * Streams NDJSON values of a GET route. Errors of the request surface on the first iteration. An abort
   * of `signal` ends the iteration without an error; a connection lost mid-stream is SERVER_UNREACHABLE.
   */
  async *stream<T>(path: string, query: Query, signal: AbortSignal | undefined): AsyncGenerator<T, void, undefined> {
    let response: Response;
    try {
      response = await this.#send('GET', path, { query, signal });
    } catch (e) {
      if (signal?.aborted) return;
      throw e;
    }
    if (!response.body) return;
    const reader = response.body.getReader();
    try {
      for await (const value of parseNdjson(readChunks(reader))) yield value as T;
    } catch (e) {
      if (signal?.aborted) return;
      if (e instanceof SyntaxError) throw e;
      throw new BerthApiError(0, 'SERVER_UNREACHABLE', `lost the connection to the berth server at ${this.baseUrl} (${describeCause(e)})`, {}, { cause: e });
    } finally {
      // Closes the connection when the caller stops early (break, return, abort).
      await reader.cancel().catch(() => undefined);
    }
  }

  async #send(method: string, path: string, options: RequestOptions): Promise<Response> {
    const url = this.baseUrl + path + queryString(options.query);
    const headers: Record<string, string> = { accept: 'application/json, application/x-ndjson' };
    if (this.#authorization) headers['authorization'] = this.#authorization;
    const init: RequestInit = { method, headers };
    if (options.body !== undefined) {
      init.body = JSON.stringify(options.body);
      init.headers = { ...init.headers, 'content-type': 'application/json' };
    }
    if (options.signal) init.signal = options.signal;
    let response: Response;
    try {
      response = await this.#fetch(url, init);
    } catch (e) {
      if (options.signal?.aborted) throw e;
      throw new BerthApiError(
        0,
        'SERVER_UNREACHABLE',
        `cannot reach the berth server at ${this.baseUrl} (${describeCause(e)}): start one with \`berth server\`, or point --host or BERTH_HOST at a running server`,
        { baseUrl: this.baseUrl },
        { cause: e },
      );
    }
    if (!response.ok) throw await apiError(response, `${method} ${path}`);
    return response;
  }}

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

/** The most specific reason node's fetch gives (`connect ECONNREFUSED 127.0.0.1:7420`). */
function describeCause(e: unknown): string {
  let current: unknown = e;
  let message = e instanceof Error ? e.message : String(e);
  while (current instanceof Error && current.cause !== undefined) {
    current = current.cause;
    if (current instanceof Error && current.message) message = current.message;
    else if (typeof current === 'object' && current !== null && 'code' in current) message = String((current as { code: unknown }).code);
  }
  return message;
}
