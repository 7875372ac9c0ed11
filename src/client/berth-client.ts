import type {
  Instance,
  InstanceStats,
  LogLine,
  NodeInfo,
  Service,
  ServiceEndpoints,
  ServiceEvent,
  ServiceSpecInput,
} from '../model/index.js';
import { BerthApiError } from './berth-api-error.js';
import { parseNdjson } from './ndjson.js';
import type { WatchEvent } from './watch-event.js';

/** The fetch the client calls: the global one by default, a stub in tests. */
export type FetchFunction = (input: string, init: RequestInit) => Promise<Response>;

export interface BerthClientOptions {
  /** Where `berth server` listens, e.g. `http://127.0.0.1:7420` (a trailing `/` is ignored). */
  readonly baseUrl: string;
  readonly fetch?: FetchFunction;
}

/** `GET /v1/version`. */
export interface VersionInfo {
  readonly version: string;
  readonly apiVersion: string;
  /** The name of the node the server runs on. */
  readonly node: string;
  /** `host:port` of berth's DNS server (UDP and TCP), when the server runs one. */
  readonly dns?: string;
}

/** Options every write that takes a compare-and-set token accepts. */
export interface VersionOption {
  /** The `Service.version` the caller read; the server answers 409 VERSION_CONFLICT when it has moved on. */
  readonly version?: number;
}

export interface LogsOptions {
  /** Lines to return from the end (the API default is all; the CLI sends 100, as Kontena). */
  readonly tail?: number;
  /** RFC 3339 time or a duration back from now (`10m`). */
  readonly since?: string;
  /** Keep the stream open for new lines until `signal` aborts. */
  readonly follow?: boolean;
  /** A slot number or an instance id. */
  readonly instance?: string | number;
  readonly signal?: AbortSignal;
}

export interface EventsOptions {
  readonly tail?: number;
  readonly since?: string;
  readonly follow?: boolean;
  readonly signal?: AbortSignal;
}

export interface WatchOptions {
  /** First revision to stream; default: changes from now on. */
  readonly fromRevision?: number;
  readonly signal?: AbortSignal;
}

type Query = Record<string, string | number | boolean | readonly string[] | undefined>;

interface RequestOptions {
  readonly query?: Query;
  readonly body?: unknown;
  readonly signal?: AbortSignal;
}

/**
 * The typed client of berth's HTTP API (docs/api.md): one method per route.
 *
 * Every method throws BerthApiError: the server's `{code, message, details}` answer with its status, or
 * `SERVER_UNREACHABLE` (status 0) when no server answers at `baseUrl`. Streaming methods return async
 * iterables; they end quietly when their `signal` aborts, and breaking out of the loop closes the
 * connection.
 */
export class BerthClient {
  readonly baseUrl: string;
  readonly #fetch: FetchFunction;

  constructor(options: BerthClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
  }

  // ── services ────────────────────────────────────────────────────────────────────────────────

  /** Services of a grid sorted by name; `labels` keeps those carrying every given label. */
  async listServices(grid: string, options: { readonly labels?: Readonly<Record<string, string>> } = {}): Promise<Service[]> {
    const label = Object.entries(options.labels ?? {}).map(([k, v]) => `${k}=${v}`);
    const answer = await this.#json<{ items: Service[] }>('GET', this.#servicesPath(grid), { query: { label } });
    return answer.items;
  }

  /** Creates a service (201). It is not deployed unless `deploy` is true (Kontena). */
  createService(grid: string, spec: ServiceSpecInput, options: { readonly deploy?: boolean } = {}): Promise<Service> {
    return this.#json('POST', this.#servicesPath(grid), { body: { spec, ...(options.deploy === undefined ? {} : { deploy: options.deploy }) } });
  }

  getService(grid: string, name: string): Promise<Service> {
    return this.#json('GET', this.#servicePath(grid, name));
  }

  /** Replaces the spec; `spec.name` must equal `name`. Not deployed unless `deploy` is true. */
  updateService(grid: string, name: string, spec: ServiceSpecInput, options: VersionOption & { readonly deploy?: boolean } = {}): Promise<Service> {
    return this.#json('PUT', this.#servicePath(grid, name), { body: { spec, ...options } });
  }

  /** Asks for removal (202): the answer is the service marked `removing`; GET turns 404 once its instances are gone. */
  removeService(grid: string, name: string, options: VersionOption = {}): Promise<Service> {
    return this.#json('DELETE', this.#servicePath(grid, name), { query: { version: options.version } });
  }

  /** Makes the current spec the deployed one; `force` replaces every instance even when nothing changed. */
  deploy(grid: string, name: string, options: VersionOption & { readonly force?: boolean } = {}): Promise<Service> {
    return this.#json('POST', `${this.#servicePath(grid, name)}/deploy`, { body: { ...options } });
  }

  /** Sets the replicas and deploys at once. */
  scale(grid: string, name: string, replicas: number, options: VersionOption = {}): Promise<Service> {
    return this.#json('POST', `${this.#servicePath(grid, name)}/scale`, { body: { replicas, ...options } });
  }

  start(grid: string, name: string, options: VersionOption = {}): Promise<Service> {
    return this.#json('POST', `${this.#servicePath(grid, name)}/start`, { body: { ...options } });
  }

  stop(grid: string, name: string, options: VersionOption = {}): Promise<Service> {
    return this.#json('POST', `${this.#servicePath(grid, name)}/stop`, { body: { ...options } });
  }

  /** Replaces every instance, one update batch at a time. */
  restart(grid: string, name: string, options: VersionOption = {}): Promise<Service> {
    return this.#json('POST', `${this.#servicePath(grid, name)}/restart`, { body: { ...options } });
  }

  // ── network ─────────────────────────────────────────────────────────────────────────────────

  /**
   * The service's network face and endpoints: VIP, ports with node ports, external and load-balancer
   * addresses, ready and not-ready endpoints. A server older than the networking routes answers 404
   * with code `NOT_FOUND` (unlike `SERVICE_NOT_FOUND` for a missing service).
   */
  endpoints(grid: string, name: string): Promise<ServiceEndpoints> {
    return this.#json('GET', `${this.#servicePath(grid, name)}/endpoints`);
  }

  /** The service's endpoints now, then again each time they change (NDJSON), until `signal` aborts. */
  followEndpoints(grid: string, name: string, options: { readonly signal?: AbortSignal } = {}): AsyncIterable<ServiceEndpoints> {
    return this.#stream<ServiceEndpoints>(`${this.#servicePath(grid, name)}/endpoints`, { follow: true }, options.signal);
  }

  /**
   * Hand-sets the endpoints of a service without a selector (Kubernetes' Endpoints object):
   * `addresses` as `"ip:port"` or `"ip"` (then the service's target port). Answers the Service.
   */
  setEndpoints(grid: string, name: string, addresses: readonly string[], options: VersionOption = {}): Promise<Service> {
    return this.#json('PUT', `${this.#servicePath(grid, name)}/endpoints`, { body: { addresses, ...options } });
  }

  // ── instances and telemetry ─────────────────────────────────────────────────────────────────

  /** Instances by slot, newest first within a slot; `active` leaves out terminated history. */
  async listInstances(grid: string, name: string, options: { readonly active?: boolean } = {}): Promise<Instance[]> {
    const answer = await this.#json<{ items: Instance[] }>('GET', `${this.#servicePath(grid, name)}/instances`, {
      query: { active: options.active ? true : undefined },
    });
    return answer.items;
  }

  /** Log lines of the service's instances in time order (NDJSON); with `follow`, until `signal` aborts. */
  logs(grid: string, name: string, options: LogsOptions = {}): AsyncIterable<LogLine> {
    const { signal, instance, ...rest } = options;
    return this.#stream<LogLine>(`${this.#servicePath(grid, name)}/logs`, {
      ...rest,
      follow: rest.follow ? true : undefined,
      instance: instance === undefined ? undefined : String(instance),
    }, signal);
  }

  /** One sample per running instance. */
  async stats(grid: string, name: string): Promise<InstanceStats[]> {
    const answer = await this.#json<{ items: InstanceStats[] }>('GET', `${this.#servicePath(grid, name)}/stats`);
    return answer.items;
  }

  /** The service's event history (Kontena's `service events`); with `follow`, until `signal` aborts. */
  events(grid: string, name: string, options: EventsOptions = {}): AsyncIterable<ServiceEvent> {
    const { signal, ...rest } = options;
    return this.#stream<ServiceEvent>(`${this.#servicePath(grid, name)}/events`, { ...rest, follow: rest.follow ? true : undefined }, signal);
  }

  /** Every change in the store from `fromRevision` (default: now) until `signal` aborts. */
  watch(options: WatchOptions = {}): AsyncIterable<WatchEvent> {
    return this.#stream<WatchEvent>('/v1/watch', { fromRevision: options.fromRevision }, options.signal);
  }

  // ── server ──────────────────────────────────────────────────────────────────────────────────

  version(): Promise<VersionInfo> {
    return this.#json('GET', '/v1/version');
  }

  async nodes(): Promise<NodeInfo[]> {
    const answer = await this.#json<{ items: NodeInfo[] }>('GET', '/v1/nodes');
    return answer.items;
  }

  /** The OpenAPI 3.1 document of the API. */
  openapi(): Promise<Record<string, unknown>> {
    return this.#json('GET', '/v1/openapi.json');
  }

  // ── transport ───────────────────────────────────────────────────────────────────────────────

  #servicesPath(grid: string): string {
    return `/v1/grids/${encodeURIComponent(grid)}/services`;
  }

  #servicePath(grid: string, name: string): string {
    return `${this.#servicesPath(grid)}/${encodeURIComponent(name)}`;
  }

  async #json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
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
  async *#stream<T>(path: string, query: Query, signal: AbortSignal | undefined): AsyncGenerator<T, void, undefined> {
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
    const init: RequestInit = { method, headers: { accept: 'application/json, application/x-ndjson' } };
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
