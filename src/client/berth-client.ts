import type {
  Grid,
  Identity,
  SecretInfo,
  Instance,
  InstanceStats,
  LogLine,
  NodeDetail,
  NodeInfo,
  NodeUpdate,
  WhatIfChange,
  WhatIfPlan,
  Service,
  ServiceEndpoints,
  ServiceEvent,
  ServiceExplanation,
  ServiceSpecInput,
  SlotVolume,
  SpecHistory,
  TokenInfo,
  TimelineLine,
  StreamWarning,
  UnreachableNode,
} from '../model/index.js';
import type { CreatedToken, ExplainedService, Listed, VersionInfo } from './api-answers.js';
import { secretPath, servicePath, servicesPath } from './api-paths.js';
import type { FetchFunction, TransportTimeouts } from './http-transport.js';
import { HttpTransport } from './http-transport.js';
import type { CreateTokenOptions, DryRunOption, EventsOptions, LogsOptions, VersionOption, WatchOptions } from './request-options.js';
import { dryRunQuery } from './request-options.js';
import { EventCursor, LogCursor } from './stream-cursor.js';
import type { WatchEvent } from './watch-event.js';

export type { FetchFunction, ResumedStream, TransportTimeouts } from './http-transport.js';
// Declared by concept (answers, options); exported here too, as before the split.
export type { CreatedToken, ExplainedService, Listed, VersionInfo } from './api-answers.js';
export type { CreateTokenOptions, DryRunOption, EventsOptions, LogsOptions, VersionOption, WatchOptions } from './request-options.js';

/** How to reach the server. */
export interface BerthClientOptions {
  /**
   * Where `berth server` listens, e.g. `http://127.0.0.1:7420` (a trailing `/` is ignored); or the
   * servers of one cluster (`berth --host A,B`), tried in order when one cannot be reached
   * (HttpTransport: any request when no connection could be made, a GET also when the connection
   * broke before the answer).
   */
  readonly baseUrl: string | readonly string[];
  /** Bearer token sent with every request (`berth token create`, or the server's admin.token). */
  readonly token?: string;
  readonly fetch?: FetchFunction;
  /** How long to wait for a server before trying the next (HttpTransport); default: as long as `fetch` waits. */
  readonly timeouts?: TransportTimeouts;
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
  /** The first server given. */
  readonly baseUrl: string;
  readonly #http: HttpTransport;

  constructor(options: BerthClientOptions) {
    this.#http = new HttpTransport(options.baseUrl, { fetch: options.fetch ?? ((input, init) => fetch(input, init)), token: options.token, ...(options.timeouts ? { timeouts: options.timeouts } : {}) });
    this.baseUrl = this.#http.servers[0] as string;
  }

  /** The server requests go to now: the first given, or the last one that answered. */
  get server(): string {
    return this.#http.baseUrl;
  }

  /**
   * Every server of the cluster this client knows of: those it was given, then those the answers
   * named (a control-plane server's answers carry them; `version()` lists them). Suggested in a
   * SERVER_UNREACHABLE message; never tried unless given.
   */
  knownServers(): string[] {
    return this.#http.knownServers();
  }

  // ── access ──────────────────────────────────────────────────────────────────────────────────

  /** Who the token is: its kind, subject and roles. @throws BerthApiError UNAUTHENTICATED (401) */
  whoami(): Promise<Identity> {
    return this.#http.json('GET', '/v1/whoami');
  }

  /** The grids the caller holds a role in (every grid for a cluster-admin), sorted by name. */
  async listGrids(): Promise<Grid[]> {
    return (await this.#http.json<{ items: Grid[] }>('GET', '/v1/grids')).items;
  }

  /** @throws BerthApiError GRID_EXISTS (409), FORBIDDEN (403) unless cluster-admin */
  createGrid(name: string, options: { readonly labels?: Readonly<Record<string, string>> } = {}): Promise<Grid> {
    return this.#http.json('POST', '/v1/grids', { body: { name, ...(options.labels ? { labels: options.labels } : {}) } });
  }

  /** @throws BerthApiError GRID_NOT_FOUND (404), GRID_NOT_EMPTY (409) */
  async removeGrid(name: string): Promise<void> {
    await this.#http.json('DELETE', `/v1/grids/${encodeURIComponent(name)}`);
  }

  /** Tokens the caller may manage (of `grid` when given); never their secrets. */
  async listTokens(options: { readonly grid?: string } = {}): Promise<TokenInfo[]> {
    return (await this.#http.json<{ items: TokenInfo[] }>('GET', '/v1/tokens', { query: { grid: options.grid } })).items;
  }

  /** A new token; its secret is in the answer only. @throws BerthApiError FORBIDDEN (403) for a role the caller does not hold */
  createToken(options: CreateTokenOptions): Promise<CreatedToken> {
    return this.#http.json('POST', '/v1/tokens', { body: { ...options } });
  }

  /** @throws BerthApiError TOKEN_NOT_FOUND (404) */
  async revokeToken(id: string): Promise<void> {
    await this.#http.json('DELETE', `/v1/tokens/${encodeURIComponent(id)}`);
  }

  // ── secrets ─────────────────────────────────────────────────────────────────────────────────

  /** Names and keys of a grid's secrets; values never come back. */
  async listSecrets(grid: string): Promise<SecretInfo[]> {
    return (await this.#http.json<{ items: SecretInfo[] }>('GET', `/v1/grids/${encodeURIComponent(grid)}/secrets`)).items;
  }

  /** @throws BerthApiError SECRET_EXISTS (409) */
  createSecret(grid: string, name: string, data: Readonly<Record<string, string>>): Promise<SecretInfo> {
    return this.#http.json('POST', `/v1/grids/${encodeURIComponent(grid)}/secrets`, { body: { name, data } });
  }

  /** @throws BerthApiError SECRET_NOT_FOUND (404) */
  getSecret(grid: string, name: string): Promise<SecretInfo> {
    return this.#http.json('GET', secretPath(grid, name));
  }

  /** Replaces the data, or with `merge` sets only the keys given. @throws BerthApiError SECRET_NOT_FOUND (404) */
  updateSecret(grid: string, name: string, data: Readonly<Record<string, string>>, options: { readonly merge?: boolean } = {}): Promise<SecretInfo> {
    return this.#http.json('PUT', secretPath(grid, name), { body: { data, ...(options.merge ? { merge: true } : {}) } });
  }

  /** @throws BerthApiError SECRET_NOT_FOUND (404), SECRET_IN_USE (409) */
  async removeSecret(grid: string, name: string): Promise<void> {
    await this.#http.json('DELETE', secretPath(grid, name));
  }

  // ── services ────────────────────────────────────────────────────────────────────────────────

  /** Services of a grid sorted by name; `labels` keeps those carrying every given label. */
  async listServices(grid: string, options: { readonly labels?: Readonly<Record<string, string>> } = {}): Promise<Service[]> {
    return (await this.listServicesAt(grid, options)).items;
  }

  /**
   * The services of a grid and the store revision they were read at: `watch({ fromRevision:
   * revision + 1 })` follows the list with no change lost or seen twice (Kubernetes' list-then-watch).
   */
  listServicesAt(grid: string, options: { readonly labels?: Readonly<Record<string, string>> } = {}): Promise<Listed<Service>> {
    const label = Object.entries(options.labels ?? {}).map(([k, v]) => `${k}=${v}`);
    return this.#http.json<Listed<Service>>('GET', servicesPath(grid), { query: { label } });
  }

  /**
   * Creates a service (201). It is not deployed unless `deploy` is true (Kontena). With `dryRun`, the
   * server validates and allocates as for the real request, answers the service it would store, and
   * stores nothing (Kubernetes' dryRun=All).
   */
  createService(grid: string, spec: ServiceSpecInput, options: { readonly deploy?: boolean } & DryRunOption = {}): Promise<Service> {
    return this.#http.json('POST', servicesPath(grid), { query: dryRunQuery(options), body: { spec, ...(options.deploy === undefined ? {} : { deploy: options.deploy }) } });
  }

  /** The service with its `explanation` (computed on read; absent from servers older than `why`). */
  getService(grid: string, name: string): Promise<ExplainedService> {
    return this.#http.json('GET', servicePath(grid, name));
  }

  /** Replaces the spec; `spec.name` must equal `name`. Not deployed unless `deploy` is true. `dryRun`: as createService. */
  updateService(grid: string, name: string, spec: ServiceSpecInput, options: VersionOption & { readonly deploy?: boolean } & DryRunOption = {}): Promise<Service> {
    const { dryRun: _dryRun, ...rest } = options;
    return this.#http.json('PUT', servicePath(grid, name), { query: dryRunQuery(options), body: { spec, ...rest } });
  }

  /**
   * Asks for removal (202): the answer is the service marked `removing`; GET turns 404 once its
   * instances are gone. A stateful service's data directories are kept unless `volumes` is true.
   */
  removeService(grid: string, name: string, options: VersionOption & { readonly volumes?: boolean } = {}): Promise<Service> {
    return this.#http.json('DELETE', servicePath(grid, name), { query: { version: options.version, ...(options.volumes ? { volumes: true } : {}) } });
  }

  /**
   * The per-slot data directories of the grid's stateful services on the nodes, or of one service
   * (which need not exist any more). A server older than this route answers 404 `ROUTE_NOT_FOUND`.
   */
  async listVolumes(grid: string, options: { readonly service?: string } = {}): Promise<SlotVolume[]> {
    const answer = await this.#http.json<{ items: SlotVolume[] }>('GET', `/v1/grids/${encodeURIComponent(grid)}/volumes`, { query: { service: options.service } });
    return answer.items;
  }

  /** Makes the current spec the deployed one; `force` replaces every instance even when nothing changed. `dryRun`: as createService. */
  deploy(grid: string, name: string, options: VersionOption & { readonly force?: boolean } & DryRunOption = {}): Promise<Service> {
    const { dryRun: _dryRun, ...rest } = options;
    return this.#http.json('POST', `${servicePath(grid, name)}/deploy`, { query: dryRunQuery(options), body: { ...rest } });
  }

  /**
   * Deploys the spec of an earlier generation again, as a new generation (`deployment.cause` rollback):
   * generation `to`, or by default the one deployed before the current deployment.
   * @throws BerthApiError REVISION_NOT_FOUND (404) for a `to` the history does not hold,
   *   NOTHING_TO_ROLL_BACK (409), VERSION_CONFLICT (409) for a stale `version`, PORT_ALLOCATED /
   *   ADDRESS_ALLOCATED (422) when the old spec's node port or VIP was taken since.
   */
  rollback(grid: string, name: string, options: VersionOption & { readonly to?: number } = {}): Promise<Service> {
    return this.#http.json('POST', `${servicePath(grid, name)}/rollback`, { body: { ...options } });
  }

  /** The versions of the spec, oldest first (20 kept), and which generation is deployed. */
  history(grid: string, name: string): Promise<SpecHistory> {
    return this.#http.json('GET', `${servicePath(grid, name)}/history`);
  }

  /** Why the service is (not) healthy, converged or paused: verdict, reasons with evidence (last log lines included), suggestions. */
  why(grid: string, name: string): Promise<ServiceExplanation> {
    return this.#http.json('GET', `${servicePath(grid, name)}/why`);
  }

  /** Sets the replicas and deploys at once. */
  scale(grid: string, name: string, replicas: number, options: VersionOption = {}): Promise<Service> {
    return this.#http.json('POST', `${servicePath(grid, name)}/scale`, { body: { replicas, ...options } });
  }

  start(grid: string, name: string, options: VersionOption = {}): Promise<Service> {
    return this.#http.json('POST', `${servicePath(grid, name)}/start`, { body: { ...options } });
  }

  stop(grid: string, name: string, options: VersionOption = {}): Promise<Service> {
    return this.#http.json('POST', `${servicePath(grid, name)}/stop`, { body: { ...options } });
  }

  /** Replaces every instance, one update batch at a time. */
  restart(grid: string, name: string, options: VersionOption = {}): Promise<Service> {
    return this.#http.json('POST', `${servicePath(grid, name)}/restart`, { body: { ...options } });
  }

  // ── network ─────────────────────────────────────────────────────────────────────────────────

  /**
   * The service's network face and endpoints: VIP, ports with node ports, external and load-balancer
   * addresses, ready and not-ready endpoints. A server older than the networking routes answers 404
   * with code `NOT_FOUND` (unlike `SERVICE_NOT_FOUND` for a missing service).
   */
  endpoints(grid: string, name: string): Promise<ServiceEndpoints> {
    return this.#http.json('GET', `${servicePath(grid, name)}/endpoints`);
  }

  /** The service's endpoints now, then again each time they change (NDJSON), until `signal` aborts. */
  followEndpoints(grid: string, name: string, options: { readonly signal?: AbortSignal } = {}): AsyncIterable<ServiceEndpoints> {
    return this.#http.stream<ServiceEndpoints>(`${servicePath(grid, name)}/endpoints`, { follow: true }, options.signal);
  }

  /**
   * Hand-sets the endpoints of a service without a selector (Kubernetes' Endpoints object):
   * `addresses` as `"ip:port"` or `"ip"` (then the service's target port). Answers the Service.
   */
  setEndpoints(grid: string, name: string, addresses: readonly string[], options: VersionOption = {}): Promise<Service> {
    return this.#http.json('PUT', `${servicePath(grid, name)}/endpoints`, { body: { addresses, ...options } });
  }

  // ── instances and telemetry ─────────────────────────────────────────────────────────────────

  /** Instances by slot, newest first within a slot; `active` leaves out terminated history. */
  async listInstances(grid: string, name: string, options: { readonly active?: boolean } = {}): Promise<Instance[]> {
    return (await this.listInstancesAt(grid, name, options)).items;
  }

  /** A service's instances and the store revision they were read at (as listServicesAt). */
  listInstancesAt(grid: string, name: string, options: { readonly active?: boolean } = {}): Promise<Listed<Instance>> {
    return this.#http.json<Listed<Instance>>('GET', `${servicePath(grid, name)}/instances`, { query: { active: options.active ? true : undefined } });
  }

  /**
   * Asks one instance to stop — `instance` is a slot number (its live instance) or an instance id — and
   * answers it as written (desired shutdown, reason "removed by user"); the controller puts a new
   * instance in its slot. @throws BerthApiError INSTANCE_NOT_FOUND (404)
   */
  removeInstance(grid: string, name: string, instance: string | number): Promise<Instance> {
    return this.#http.json('DELETE', `${servicePath(grid, name)}/instances/${encodeURIComponent(String(instance))}`);
  }

  /**
   * Log lines of the service's instances in time order (NDJSON); with `follow`, until `signal` aborts.
   * With `events: true`, the service's events come in between as `{ kind: 'event', time, event }`.
   * A followed stream whose server dies, whose connection breaks or that goes silent is resumed on the
   * next server from its last line's time (HttpTransport.follow, LogCursor): no line twice, none lost.
   */
  logs(grid: string, name: string, options: LogsOptions & { readonly events: true }): AsyncIterable<TimelineLine>;
  logs(grid: string, name: string, options?: LogsOptions): AsyncIterable<LogLine>;
  logs(grid: string, name: string, options: LogsOptions = {}): AsyncIterable<TimelineLine> {
    const { signal, instance, onWarning, onResume, ...rest } = options;
    const path = `${servicePath(grid, name)}/logs`;
    const query = {
      ...rest,
      follow: rest.follow ? true : undefined,
      events: rest.events ? true : undefined,
      instance: instance === undefined ? undefined : String(instance),
    };
    const values = rest.follow
      ? this.#http.follow<TimelineLine | StreamWarning>(path, new LogCursor(query, Date.now()), { signal, onResume })
      : this.#http.stream<TimelineLine | StreamWarning>(path, query, signal);
    return withoutWarnings(values, onWarning);
  }

  /** One sample per running instance. */
  async stats(grid: string, name: string): Promise<InstanceStats[]> {
    return (await this.statsReport(grid, name)).items;
  }

  /** One sample per running instance, and the nodes whose agents did not answer (their instances are not in `items`). */
  async statsReport(grid: string, name: string): Promise<{ readonly items: InstanceStats[]; readonly unreachable: readonly UnreachableNode[] }> {
    const answer = await this.#http.json<{ items: InstanceStats[]; unreachable?: UnreachableNode[] }>('GET', `${servicePath(grid, name)}/stats`);
    return { items: answer.items, unreachable: answer.unreachable ?? [] };
  }

  /**
   * The service's event history (Kontena's `service events`); with `follow`, until `signal` aborts. A
   * followed stream is resumed on the next server after its last event's id (`after`; EventCursor)
   * when its server dies, its connection breaks or it goes silent: no event twice, none lost.
   */
  events(grid: string, name: string, options: EventsOptions = {}): AsyncIterable<ServiceEvent> {
    const { signal, onResume, ...rest } = options;
    const path = `${servicePath(grid, name)}/events`;
    const query = { ...rest, follow: rest.follow ? true : undefined };
    return rest.follow ? this.#http.follow<ServiceEvent>(path, new EventCursor(query, Date.now()), { signal, onResume }) : this.#http.stream<ServiceEvent>(path, query, signal);
  }

  /** Every change in the store from `fromRevision` (default: now) until `signal` aborts. */
  watch(options: WatchOptions = {}): AsyncIterable<WatchEvent> {
    return this.#http.stream<WatchEvent>('/v1/watch', { fromRevision: options.fromRevision }, options.signal);
  }

  // ── server ──────────────────────────────────────────────────────────────────────────────────

  /** The server's version and, on a cluster, its control-plane servers (learned for `knownServers()`). */
  async version(): Promise<VersionInfo> {
    const info = await this.#http.json<VersionInfo>('GET', '/v1/version');
    if (info.controlPlane) this.#http.learnServers(info.controlPlane.servers.map((s) => s.url));
    return info;
  }

  async nodes(): Promise<NodeInfo[]> {
    const answer = await this.#http.json<{ items: NodeInfo[] }>('GET', '/v1/nodes');
    return answer.items;
  }

  /**
   * What one hypothetical change of the nodes would do (`berth plan`); nothing is changed.
   * @throws BerthApiError NODE_NOT_FOUND (404), REQUEST_INVALID (400)
   */
  plan(change: { readonly failNode: string } | { readonly drain: string } | { readonly addNode: Omit<Extract<WhatIfChange, { kind: 'add-node' }>, 'kind'> }): Promise<WhatIfPlan> {
    return this.#http.json('POST', '/v1/plan', { body: change });
  }

  /** One node and the instances on it. @throws BerthApiError NODE_NOT_FOUND (404) */
  node(name: string): Promise<NodeDetail> {
    return this.#http.json('GET', `/v1/nodes/${encodeURIComponent(name)}`);
  }

  /** Availability and labels (`manage-nodes`). @throws BerthApiError NODE_NOT_FOUND (404), VERSION_CONFLICT (409), REQUEST_INVALID (400) */
  updateNode(name: string, change: NodeUpdate): Promise<NodeInfo> {
    return this.#http.json('PATCH', `/v1/nodes/${encodeURIComponent(name)}`, { body: change });
  }

  /** Forgets a node (`manage-nodes`). @throws BerthApiError NODE_NOT_FOUND (404), NODE_NOT_DOWN (409) unless `force` */
  async removeNode(name: string, options: { readonly force?: boolean } = {}): Promise<void> {
    await this.#http.json('DELETE', `/v1/nodes/${encodeURIComponent(name)}`, { query: { force: options.force ? 'true' : undefined } });
  }

  /** The OpenAPI 3.1 document of the API. */
  openapi(): Promise<Record<string, unknown>> {
    return this.#http.json('GET', '/v1/openapi.json');
  }
}

/** The stream's values without its `{"warning": …}` lines, which go to `onWarning`. */
async function* withoutWarnings(values: AsyncIterable<TimelineLine | StreamWarning>, onWarning: ((warning: StreamWarning['warning']) => void) | undefined): AsyncGenerator<TimelineLine, void, undefined> {
  for await (const value of values) {
    if (typeof value === 'object' && value !== null && 'warning' in value) onWarning?.(value.warning);
    else yield value;
  }
}
