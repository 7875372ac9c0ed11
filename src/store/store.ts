import type { Disposable } from '../lib/index.js';
import type {
  DesiredState,
  Grid,
  SecretInfo,
  TokenInfo,
  HostListenerClaim,
  Instance,
  InstanceSpec,
  InstanceStatus,
  NewServiceEvent,
  NodeAvailability,
  NodeInfo,
  NodeRegistration,
  Service,
  ServiceDesired,
  ServiceEvent,
  ServiceSpec,
  ServiceCondition,
  ServiceStatus,
  SpecRevision,
} from '../model/index.js';

/*
 * The store: versioned objects under one store-wide revision (etcd's model), compare-and-set writes,
 * watch from a revision, and a per-service event history. The SQLite backend is the default; an etcd
 * backend implements the same interface later.
 *
 * Three writers (swarmkit): the API writes a service's intent (spec, deployment, desired), controllers
 * write instances' desired state and services' status, the agent writes instances' status. Each writer
 * has its own methods below and no method lets one writer touch another's fields.
 *
 * Every returned object is frozen: never mutate what the store returned.
 */

/** A change seen by a watcher. `object` is the value after the change (before it, for a delete). */
export type WatchEvent =
  | { readonly revision: number; readonly kind: 'service'; readonly op: 'put' | 'delete'; readonly key: string; readonly object: Service }
  | { readonly revision: number; readonly kind: 'instance'; readonly op: 'put' | 'delete'; readonly key: string; readonly object: Instance }
  | { readonly revision: number; readonly kind: 'node'; readonly op: 'put' | 'delete'; readonly key: string; readonly object: NodeInfo }
  | { readonly revision: number; readonly kind: 'event'; readonly op: 'put'; readonly key: string; readonly object: ServiceEvent };

export type WatchListener = (event: WatchEvent) => void;

/** Options of Store.watch. */
export interface WatchOptions {
  /** The watch ended because the history lost continuity (see Store.watch); list again. */
  readonly onLost?: () => void;
}

/** Compare-and-set: the write only happens if the object's version still equals `ifVersion`. */
export interface WriteOptions {
  readonly ifVersion?: number;
  /**
   * Check and compute everything, return what would be stored, store nothing (Kubernetes' dryRun=All):
   * the same errors as the real write, no revision, no watch event, no history, no service event.
   */
  readonly dryRun?: boolean;
}

/** An API-side change of a service. Fields left out are unchanged. */
export interface ServiceIntentChange {
  /** Replaces the spec; the generation goes up by one when it differs from the current spec. */
  readonly spec?: ServiceSpec;
  /** After applying `spec`: make the current spec and generation the deployed one (Kontena's deploy). */
  readonly deploy?: boolean;
  /** Bump deployment.restartGeneration so every instance is replaced (restart, deploy --force). */
  readonly restart?: boolean;
  readonly desired?: ServiceDesired;
  /** With `desired: removing`: the data directories go with the service (Service.deleteVolumes). */
  readonly deleteVolumes?: boolean;
  /** Events recorded in the same transaction. */
  readonly events?: readonly NewServiceEvent[];
  /** Recorded in the spec history with a new version: "update", "scale", "rollback to 3"… Default "update". */
  readonly cause?: string;
  /** With `deploy`: this deployment restores the spec of that generation (deployment.cause = rollback). */
  readonly rollbackTo?: number;
}

/** An instance as a controller creates it; the store adds version, createdAt and status `new`. */
export interface NewInstance {
  readonly id: string;
  readonly grid: string;
  readonly service: string;
  readonly serviceId: string;
  readonly slot: number;
  readonly node: string;
  readonly generation: number;
  readonly restartGeneration: number;
  readonly restarts: number;
  readonly spec: InstanceSpec;
  readonly desiredState: DesiredState;
  readonly desiredReason?: string;
}

/** Everything one controller pass writes, applied in one transaction. */
export interface ControllerWrites {
  readonly createInstances?: readonly NewInstance[];
  readonly setDesired?: readonly { readonly id: string; readonly desiredState: DesiredState; readonly reason: string }[];
  readonly deleteInstances?: readonly string[];
  readonly serviceStatus?: readonly { readonly grid: string; readonly name: string; readonly status: ServiceStatus }[];
  /**
   * failureAction = rollback: deploys the spec of `toGeneration` from the history as a new version
   * (deployment.cause = auto-rollback), only if the deployment is still the one requested at
   * `ifRequestedAt` (a newer user deploy wins). Moves the service's version: the intent changed.
   */
  readonly rollback?: { readonly grid: string; readonly name: string; readonly toGeneration: number; readonly ifRequestedAt: string };
  /** Removes service records whose instances are all gone (the end of `rm`). */
  readonly deleteServices?: readonly { readonly grid: string; readonly name: string }[];
  readonly events?: readonly NewServiceEvent[];
}

/** A change of a node by the API (availability, labels) or the node controller (ready). Fields left out are unchanged. */
export interface NodeChange {
  readonly availability?: NodeAvailability;
  /** The node controller's: false when the node's heartbeats stopped for the grace period; its agent's registration sets it true again. */
  readonly ready?: boolean;
  /**
   * The node controller's, with `ready: false`: the last heartbeat it heard (heartbeats themselves
   * write no record), so that a down node's record says when it was last heard of.
   */
  readonly heartbeatAt?: string;
  /** Replaces the node's labels. */
  readonly labels?: Readonly<Record<string, string>>;
}

export interface InstanceFilter {
  readonly grid?: string;
  readonly service?: string;
  readonly node?: string;
  /** Only instances whose status is not terminal. */
  readonly active?: boolean;
}

export interface EventFilter {
  readonly grid: string;
  readonly service: string;
  /** Only events with id > afterId. */
  readonly afterId?: number;
  /** Only events at or after this time (ISO 8601). */
  readonly since?: string;
  /** Only the last `tail` events (after the other filters). */
  readonly tail?: number;
}

/** A token as stored: its public fields and the SHA-256 of its secret (never the secret). */
export interface StoredToken extends TokenInfo {
  readonly hash: string;
}

export interface Store {
  /** The store-wide revision of the last write. */
  revision(): number;

  getService(grid: string, name: string): Service | undefined;
  listServices(filter?: { readonly grid?: string }): Service[];
  getInstance(id: string): Instance | undefined;
  listInstances(filter?: InstanceFilter): Instance[];
  listNodes(): NodeInfo[];
  /** Events of one service, oldest first. */
  listEvents(filter: EventFilter): ServiceEvent[];

  // ---- API writer ----
  /**
   * Stores a new service (generation 1, desired `running`, status `initialized`); deploys it at once when
   * `deploy` is true.
   * @throws GridNotFoundError (404) when the grid does not exist, ServiceExistsError (409) when the name
   *   is taken in the grid.
   * Claims the spec's host listeners (model/host-listeners.ts) in the same transaction.
   * @throws ServiceExistsError (409) when the name is taken in the grid; HostPortAllocatedError (422
   *   PORT_ALLOCATED) when the spec asks for an address:port another service holds (a changed spec in
   *   updateServiceIntent likewise, for the listeners it adds).
   */
  createService(
    input: { readonly grid: string; readonly spec: ServiceSpec; readonly deploy: boolean; readonly events?: readonly NewServiceEvent[] },
    options?: Pick<WriteOptions, 'dryRun'>,
  ): Service;
  /**
   * Applies an API-side change.
   * @throws ServiceNotFoundError (404), VersionConflictError (409) when `ifVersion` is stale,
   *   ServiceRemovingError (409) when the service is being removed and the change is not `desired: 'removing'`,
   *   HostPortAllocatedError (422) as createService.
   */
  updateServiceIntent(grid: string, name: string, change: ServiceIntentChange, options?: WriteOptions): Service;
  /** The versions of a service's spec, oldest first (at most SPEC_HISTORY_LIMIT); [] for an unknown service. */
  listSpecHistory(grid: string, name: string): SpecRevision[];
  /**
   * Asks one instance to stop (`berth service rm --instance`): desiredState `shutdown` with reason
   * "removed by user"; the controller then puts a new instance in its slot. The one API write of an
   * instance field (as Kubernetes lets users delete a pod). An instance that has ended or is already
   * stopping is returned unchanged (nothing written, its `events` not recorded).
   * @throws InstanceNotFoundError (404) when no instance has this id in that service.
   */
  removeInstance(grid: string, service: string, id: string, options?: { readonly events?: readonly NewServiceEvent[] }): Instance;

  // ---- controller writer ----
  /** Applies a controller's plan atomically. Desired-state changes of unknown instances are ignored. */
  applyControllerWrites(writes: ControllerWrites): void;

  /**
   * The host-listener allocation table: every address:port (virtual IP, external IP, load-balancer and
   * node port) that a stored spec asks berth to listen on, with the service that holds it.
   */
  listHostListeners(): HostListenerClaim[];

  // ---- data-plane writer ----
  /**
   * Replaces the conditions the node's data plane observed for a service (`status.conditions`, e.g.
   * ListenersOpen), with `events` in the same transaction. Equal conditions write nothing. Returns
   * whether it wrote.
   */
  setServiceConditions(grid: string, name: string, conditions: readonly ServiceCondition[], events?: readonly NewServiceEvent[]): boolean;

  // ---- agent writer ----
  /**
   * Records observed statuses. A status that would move an instance's state backwards is refused
   * (InvalidTransition, logged by the caller). Unknown instances are skipped.
   */
  setInstanceStatuses(updates: readonly { readonly id: string; readonly status: InstanceStatus }[], events?: readonly NewServiceEvent[]): void;
  /**
   * Registers a node or records its heartbeat (the agent's facts); keeps the API's `availability` and
   * `labels` of a node already known (model/node.ts).
   */
  upsertNode(node: NodeRegistration): NodeInfo;

  // ---- nodes (the API writes availability and labels) ----
  getNode(name: string): NodeInfo | undefined;
  /**
   * `berth node update`: availability and labels.
   * @throws NodeNotFoundError (404), VersionConflictError (409) when `ifVersion` is stale
   */
  updateNode(name: string, change: NodeChange, options?: Pick<WriteOptions, 'ifVersion'>): NodeInfo;
  /**
   * `berth node rm`: forgets a node (its instances are then on no known node).
   * @throws NodeNotFoundError (404), NodeNotDownError (409) while the node is ready, unless `force`
   */
  removeNode(name: string, options?: { readonly force?: boolean }): NodeInfo;

  // ---- access: grids and tokens (the API writes them) ----
  getGrid(name: string): Grid | undefined;
  /** Every grid, sorted by name (`default` always exists). */
  listGrids(): Grid[];
  /** @throws GridExistsError (409) */
  createGrid(input: { readonly name: string; readonly labels?: Readonly<Record<string, string>> }): Grid;
  /**
   * Removes an empty grid and its tokens.
   * @throws GridNotFoundError (404), GridNotEmptyError (409) while it has services.
   */
  deleteGrid(name: string): void;
  /** @throws GridNotFoundError (404) when a grid token names an unknown grid. */
  createToken(token: StoredToken): TokenInfo;
  /** One token with its hash, for authentication. */
  getToken(id: string): StoredToken | undefined;
  /** Tokens (without hashes), oldest first; only those of `grid` when given. */
  listTokens(filter?: { readonly grid?: string }): TokenInfo[];
  /** @throws TokenNotFoundError (404) */
  deleteToken(id: string): TokenInfo;
  /**
   * A number that changes whenever a token or grid is created or removed, so that an authenticator may
   * cache what it verified until then (a revocation is seen by the next request).
   */
  accessRevision(): number;

  // ---- secrets (the API writes them; the agent reads values) ----
  getSecret(grid: string, name: string): SecretInfo | undefined;
  /** Secrets of a grid (names and keys, never values), sorted by name. */
  listSecrets(grid: string): SecretInfo[];
  /** One value, for a container's env; undefined when the secret or key is missing. */
  getSecretValue(grid: string, name: string, key: string): string | undefined;
  /**
   * Creates, replaces or merges keys into a secret.
   * @throws GridNotFoundError (404), SecretExistsError (409) on create, SecretNotFoundError (404) otherwise
   */
  putSecret(grid: string, name: string, data: Readonly<Record<string, string>>, mode: 'create' | 'replace' | 'merge'): SecretInfo;
  /** @throws SecretNotFoundError (404), SecretInUseError (409) while a service's spec refers to it */
  deleteSecret(grid: string, name: string): void;

  // ---- events and watch ----
  /** Appends events from any writer (e.g. the agent noticing an exit). */
  appendEvents(events: readonly NewServiceEvent[]): void;
  /**
   * Calls `listener` for every change after `fromRevision` (replayed from history first), then live.
   * `options.onLost` is called, once, when the watch ends because this server's history lost its
   * continuity (a replica that loaded past what etcd's history ring held, docs/control-plane.md "The
   * history"): the listener gets nothing more, and the watcher lists again, as after REVISION_COMPACTED.
   * @throws CodedError `REVISION_COMPACTED` (410) when that history is no longer kept.
   */
  watch(fromRevision: number, listener: WatchListener, options?: WatchOptions): Disposable;

  close(): void;
}
