import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { AtRestCipher, Clock, Disposable, Logger } from '../lib/index.js';
import { CodedError, silentLogger, systemClock } from '../lib/index.js';
import type { Grid, HostListenerClaim, Instance, InstanceStatus, NewServiceEvent, NodeInfo, NodeRegistration, SecretInfo, Service, ServiceCondition, ServiceEvent, ServiceSpec, SpecRevision, TokenInfo } from '../model/index.js';
import {
  GridNotFoundError,
  HostPortAllocatedError,
  INSTANCE_STATES,
  InstanceNotFoundError,
  InvalidTransitionError,
  RequestInvalidError,
  ServiceExistsError,
  ServiceNotDeployedError,
  ServiceNotFoundError,
  ServiceRemovingError,
  VersionConflictError,
  canAdvance,
  formatFieldError,
  isTerminal,
  serviceKey,
} from '../model/index.js';
import { FrozenJsonCache, deepFreeze, stableStringify } from './deep-freeze.js';
import { InstanceCache } from './instance-cache.js';
import type { RowChange } from './row-capture.js';
import { RowCapture } from './row-capture.js';
import { ChangeLog } from './change-log.js';
import { prepareDatabase } from './sqlite-schema.js';
import { SpecHistory } from './spec-history.js';
import { EventTable } from './event-table.js';
import { AccessTables } from './access-tables.js';
import type { SecretRewrite } from './secret-table.js';
import { SecretTable } from './secret-table.js';
import { changedNode, registeredNode, removableNode, withNodeDefaults } from './node-records.js';
import { HostPortTable } from './host-port-table.js';
import type { JsonRow, Statements } from './sqlite-statements.js';
import { SQL } from './sqlite-statements.js';
import type {
  ControllerWrites,
  EventFilter,
  InstanceFilter,
  NodeChange,
  ServiceIntentChange,
  Store,
  StoredToken,
  WatchListener,
  WriteOptions,
} from './store.js';

export interface SqliteStoreOptions {
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Ids of new services; default random UUIDs. */
  readonly newId?: () => string;
  /** Revisions of watch history kept (etcd's compaction window). Default 10000. */
  readonly historyRevisions?: number;
  /** Events kept per service; older ones are trimmed. Default 1000. */
  readonly eventsPerService?: number;
  /** How long a write waits for another connection's lock before failing (SQLITE_BUSY). Default 5000 ms. */
  readonly busyTimeoutMs?: number;
  /**
   * Where node, load-balancer and published ports are opened (the proxy's `nodeAddresses`): the host-listener
   * table claims them there. Default ['127.0.0.1'], the proxy's default.
   */
  readonly nodeAddresses?: readonly string[];
  /** Encrypts secret values at rest (`--encryption-key-file`; see secret-table.ts). Default: none (plaintext). */
  readonly secretCipher?: AtRestCipher;
}

/** What `setInstanceStatuses` did with each update. */
export interface StatusWriteResult {
  readonly written: readonly string[];
  /** Equal to the stored status: nothing written, no watch event. */
  readonly unchanged: readonly string[];
  /** No such instance (already deleted): skipped. */
  readonly unknown: readonly string[];
  /** Would move the state backwards: refused, logged at warn. */
  readonly refused: readonly InvalidTransitionError[];
}

const TERMINAL_STATES = INSTANCE_STATES.filter(isTerminal);

/** The desiredReason of an instance a user removed (`removeInstance`). */
export const REMOVED_BY_USER = 'removed by user';


/**
 * Opens (creating when missing) the SQLite store at `path` — a file, or `':memory:'` for tests.
 * @throws Error when the file cannot be opened or has a newer schema.
 */
export function openSqliteStore(path: string, options: SqliteStoreOptions = {}): SqliteStore {
  return new SqliteStore(path, options);
}

/**
 * The default Store backend (see store.ts for the contract). Every method runs in one SQLite transaction
 * (BEGIN IMMEDIATE for writes); watchers are called synchronously after the commit.
 */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly stmt: Statements;
  private readonly queries = new Map<string, Database.Statement>();
  private readonly log: ChangeLog;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly newId: () => string;
  private readonly events: EventTable;
  private readonly history: SpecHistory;
  private readonly access: AccessTables;
  private readonly secrets: SecretTable;
  /** See accessRevision(); in memory, as only this process writes this file (data-dir lock). */
  private accessChanges = 0;
  private readonly hostPorts: HostPortTable;
  private capture: RowCapture | undefined;
  private closed = false;
  /** Unchanged rows read again come back as the same frozen object (see FrozenJsonCache). */
  private readonly frozen = new FrozenJsonCache();
  /** Instances by id and revision: a list parses only what changed (see InstanceCache). */
  private readonly instances: InstanceCache;

  constructor(path: string, options: SqliteStoreOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.newId = options.newId ?? randomUUID;
    if (path !== ':memory:' && path !== '') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    try {
      prepareDatabase(this.db, options.busyTimeoutMs ?? 5000);
      this.stmt = Object.fromEntries(Object.entries(SQL).map(([k, sql]) => [k, this.db.prepare(sql)])) as unknown as Statements;
      this.history = new SpecHistory(this.db);
      this.access = new AccessTables(this.db, () => this.now());
      this.secrets = new SecretTable(this.db, options.secretCipher);
      this.log = new ChangeLog(this.db, { historyRevisions: Math.max(1, options.historyRevisions ?? 10_000), logger: this.logger });
      this.instances = new InstanceCache(this.db, () => this.log.rollbacks);
      this.events = new EventTable(this.db, { log: this.log, frozen: this.frozen, perService: Math.max(1, options.eventsPerService ?? 1000), nowMs: () => this.clock.now(), query: (sql) => this.query(sql) });
      this.hostPorts = new HostPortTable(this.db, options.nodeAddresses ?? ['127.0.0.1']);
      const conflicts = this.db.transaction(() => this.hostPorts.rebuild(this.listServices())).immediate();
      for (const c of conflicts) this.logger.warn({ ...c }, `${c.service} asks for ${c.listener}, which ${c.heldBy} holds: the older service keeps it; change one of them`);
    } catch (error) {
      this.db.close();
      throw error;
    }
  }

  revision(): number {
    this.assertOpen();
    return this.log.revision;
  }

  /**
   * Replication through etcd (docs/control-plane.md): from now on every committed write's rows go to
   * `onCommit` (the writer), and writes are refused with `readOnly`'s error while it returns one (a
   * replica, whose writes go to the leader). Call again to change roles.
   */
  replicate(options: { readonly onCommit?: (rows: readonly RowChange[]) => void; readonly readOnly?: () => Error | undefined }): void {
    this.capture ??= new RowCapture(this.db);
    this.log.replicate({ capture: this.capture, ...options });
  }

  /** A replica's catch-up with the writer's rows (see RowCapture); watchers get the change history among them. */
  applyReplicated(changes: readonly RowChange[]): void {
    this.assertOpen();
    this.log.applyReplicated(changes);
    if (changes.some((c) => c.table === 'tokens' || c.table === 'grids')) this.accessChanges++;
  }

  /** Every row here, as puts: what a new cluster's first leader writes (the rows the schema makes, e.g. the grid `default`). */
  replicatedRows(): RowChange[] {
    this.capture ??= new RowCapture(this.db);
    return this.capture.allRows();
  }

  /** Every row key here, for a full resync against the writer's rows. */
  replicatedKeys(): { table: string; key: (string | number)[] }[] {
    this.capture ??= new RowCapture(this.db);
    return this.capture.allKeys();
  }

  // ---- reads ----

  getService(grid: string, name: string): Service | undefined {
    this.assertOpen();
    const row = this.stmt.getService.get(grid, name) as JsonRow | undefined;
    return row ? this.frozen.parse<Service>(row.json) : undefined;
  }

  listServices(filter: { readonly grid?: string } = {}): Service[] {
    this.assertOpen();
    const rows = (filter.grid === undefined ? this.stmt.listServices.all() : this.stmt.listServicesInGrid.all(filter.grid)) as JsonRow[];
    return rows.map((r) => this.frozen.parse<Service>(r.json));
  }

  getInstance(id: string): Instance | undefined {
    this.assertOpen();
    return this.instances.get(id);
  }

  /** Ordered by grid, service, slot ascending, then newest first within a slot. */
  listInstances(filter: InstanceFilter = {}): Instance[] {
    this.assertOpen();
    const where: string[] = [];
    const args: unknown[] = [];
    for (const column of ['grid', 'service', 'node'] as const) {
      const value = filter[column];
      if (value !== undefined) {
        where.push(`${column} = ?`);
        args.push(value);
      }
    }
    if (filter.active) where.push(`state NOT IN (${TERMINAL_STATES.map((s) => `'${s}'`).join(', ')})`);
    const sql = `SELECT id, mod_revision AS revision FROM instances ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY grid, service, slot, create_revision DESC`;
    return (this.query(sql).all(...args) as { id: string; revision: number }[]).map((r) => this.instances.at(r.id, r.revision));
  }

  listNodes(): NodeInfo[] {
    this.assertOpen();
    return (this.stmt.listNodes.all() as JsonRow[]).map((r) => withNodeDefaults(this.frozen.parse<NodeInfo>(r.json)));
  }

  /** One row: node credentials are checked with it on every heartbeat and report. */
  getNode(name: string): NodeInfo | undefined {
    this.assertOpen();
    const row = this.stmt.getNode.get(name) as JsonRow | undefined;
    return row ? withNodeDefaults(this.frozen.parse<NodeInfo>(row.json)) : undefined;
  }

  /** @throws RequestInvalidError when `since` is not a time. */
  listEvents(filter: EventFilter): ServiceEvent[] {
    this.assertOpen();
    return this.events.list(filter);
  }

  // ---- API writer ----

  createService(input: { readonly grid: string; readonly spec: ServiceSpec; readonly deploy: boolean; readonly events?: readonly NewServiceEvent[] }, options: WriteOptions = {}): Service {
    return this.write(() => {
      const { grid, spec } = input;
      if (!this.access.getGrid(grid)) throw new GridNotFoundError(grid);
      if (this.readRow<Service>(this.stmt.getService, grid, spec.name)) throw new ServiceExistsError(grid, spec.name);
      this.hostPorts.claim(grid, spec.name, spec);
      const revision = this.log.next();
      const now = this.now();
      const service: Service = {
        id: this.newId(),
        grid,
        name: spec.name,
        version: revision,
        generation: 1,
        createdAt: now,
        updatedAt: now,
        spec,
        deployment: input.deploy ? { generation: 1, spec, requestedAt: now, restartGeneration: 0 } : null,
        desired: 'running',
        status: { phase: 'initialized', desiredInstances: 0, runningInstances: 0, observedGeneration: 0, message: 'created', updatedAt: now },
      };
      const stored = this.putService(service, revision);
      this.history.record(grid, spec.name, { generation: 1, spec, createdAt: now, cause: 'create', ...(input.deploy ? { deployedAt: now } : {}) });
      this.insertEvents(input.events ?? []);
      return stored;
    }, options);
  }

  listSpecHistory(grid: string, name: string): SpecRevision[] {
    this.assertOpen();
    return this.history.all(grid, name);
  }

  removeInstance(grid: string, service: string, id: string, options: { readonly events?: readonly NewServiceEvent[] } = {}): Instance {
    return this.write(() => {
      const current = this.readRow<Instance>(this.stmt.getInstance, id);
      if (!current || current.grid !== grid || current.service !== service) throw new InstanceNotFoundError(id);
      if (current.desiredState === 'shutdown' || isTerminal(current.status.state)) return deepFreeze(current);
      const stored = this.putInstance({ ...current, desiredState: 'shutdown', desiredReason: REMOVED_BY_USER });
      this.insertEvents(options.events ?? []);
      return stored;
    });
  }

  /**
   * A change that alters nothing (same spec, no deploy or restart, same desired) writes nothing: the
   * version stays, no watch event, and its `events` are not recorded.
   */
  updateServiceIntent(grid: string, name: string, change: ServiceIntentChange, options: WriteOptions = {}): Service {
    return this.write(() => {
      const current = this.readRow<Service>(this.stmt.getService, grid, name);
      if (!current) throw new ServiceNotFoundError(grid, name);
      if (options.ifVersion !== undefined && options.ifVersion !== current.version) {
        throw new VersionConflictError(`service "${name}" in grid "${grid}"`, options.ifVersion, current.version);
      }
      if (current.desired === 'removing') {
        const onlyRemoving = change.spec === undefined && !change.deploy && !change.restart && (change.desired ?? 'removing') === 'removing';
        if (!onlyRemoving) throw new ServiceRemovingError(grid, name);
      }
      return this.applyIntent(current, change);
    }, options);
  }

  /** The body of an intent change, inside a write: new version, history, deployment, events. */
  private applyIntent(current: Service, change: ServiceIntentChange & { readonly deploymentCause?: 'deploy' | 'rollback' | 'auto-rollback' }): Service {
    const { grid, name } = current;
    if (change.spec && change.spec.name !== name) {
      throw new RequestInvalidError(`spec.name "${change.spec.name}" does not match service "${name}"`, { field: 'spec.name' });
    }
    const specChanged = change.spec !== undefined && stableStringify(change.spec) !== stableStringify(current.spec);
    const spec = specChanged ? (change.spec as ServiceSpec) : current.spec;
    const generation = current.generation + (specChanged ? 1 : 0);
    const desired = change.desired ?? current.desired;
    const deleteVolumes = change.deleteVolumes === true && current.deleteVolumes !== true;
    if (!specChanged && !change.deploy && !change.restart && desired === current.desired && !deleteVolumes) return deepFreeze(current);

    if (specChanged) this.hostPorts.claim(grid, name, spec, current.spec);
    const now = this.now();
    let deployment = current.deployment;
    if (change.deploy) {
      const cause = change.deploymentCause ?? (change.rollbackTo !== undefined ? 'rollback' : 'deploy');
      deployment = {
        generation, spec, requestedAt: now, restartGeneration: deployment?.restartGeneration ?? 0,
        ...(cause !== 'deploy' ? { cause } : {}),
        ...(change.rollbackTo !== undefined ? { rollbackTo: change.rollbackTo } : {}),
      };
    }
    if (change.restart) {
      if (!deployment) throw new ServiceNotDeployedError(grid, name);
      deployment = { ...deployment, requestedAt: now, restartGeneration: deployment.restartGeneration + 1 };
    }
    const revision = this.log.next();
    const stored = this.putService({ ...current, version: revision, generation, updatedAt: now, spec, deployment, desired, ...(deleteVolumes ? { deleteVolumes: true } : {}) }, revision);
    if (specChanged) this.history.record(grid, name, { generation, spec, createdAt: now, cause: change.cause ?? 'update', ...(change.deploy ? { deployedAt: now } : {}) });
    else if (change.deploy) this.history.markDeployed(grid, name, generation, spec, now, change.cause ?? 'deploy');
    this.insertEvents(change.events ?? []);
    return stored;
  }

  // ---- controller writer ----

  applyControllerWrites(writes: ControllerWrites): void {
    this.write(() => {
      const now = this.now();
      for (const n of writes.createInstances ?? []) {
        if (this.stmt.getInstance.get(n.id)) throw new CodedError('INTERNAL', `instance "${n.id}" already exists; instance ids are never reused`, { id: n.id });
        const revision = this.log.next();
        const instance: Instance = { ...n, version: revision, createdAt: now, status: { state: 'new', timestamp: now, message: 'created' } };
        const json = JSON.stringify(instance);
        this.stmt.insertInstance.run(n.id, n.grid, n.service, n.node, n.slot, 'new', revision, json, revision);
        this.instances.remember(n.id, revision, this.log.record('instance', 'put', n.id, json, revision) as Instance);
      }
      for (const d of writes.setDesired ?? []) {
        const current = this.readRow<Instance>(this.stmt.getInstance, d.id);
        if (!current || (current.desiredState === d.desiredState && current.desiredReason === d.reason)) continue;
        this.putInstance({ ...current, desiredState: d.desiredState, desiredReason: d.reason });
      }
      for (const id of writes.deleteInstances ?? []) {
        const row = this.stmt.getInstance.get(id) as JsonRow | undefined;
        if (!row) continue;
        this.stmt.deleteInstance.run(id);
        this.log.record('instance', 'delete', id, row.json, this.log.next());
      }
      for (const { grid, name, status } of writes.serviceStatus ?? []) {
        const current = this.readRow<Service>(this.stmt.getService, grid, name);
        if (!current) continue;
        // The data plane's conditions are not the controllers' to write: they are kept as they are.
        const next = current.status.conditions === undefined ? status : { ...status, conditions: current.status.conditions };
        if (sameIgnoring(current.status, next, 'updatedAt')) continue;
        // Status is the controllers' field: version (the API's compare-and-set token) stays.
        this.putService({ ...current, status: next }, this.log.next());
      }
      if (writes.rollback) this.autoRollback(writes.rollback);
      for (const { grid, name } of writes.deleteServices ?? []) {
        const row = this.stmt.getService.get(grid, name) as JsonRow | undefined;
        if (!row) continue;
        const left = (this.stmt.countInstancesOfService.get(grid, name) as { n: number }).n;
        if (left > 0) {
          this.logger.warn({ grid, service: name, instances: left }, 'service record kept: it still has instances');
          continue;
        }
        this.stmt.deleteService.run(grid, name);
        this.history.remove(grid, name);
        this.hostPorts.release(grid, name);
        this.log.record('service', 'delete', serviceKey(grid, name), row.json, this.log.next());
      }
      this.insertEvents(writes.events ?? []);
    });
  }

  private autoRollback(r: NonNullable<ControllerWrites['rollback']>): void {
    const current = this.readRow<Service>(this.stmt.getService, r.grid, r.name);
    if (!current || current.desired === 'removing' || current.deployment?.requestedAt !== r.ifRequestedAt) return;
    const target = this.history.read(r.grid, r.name, r.toGeneration);
    if (!target) {
      this.logger.warn({ grid: r.grid, service: r.name, generation: r.toGeneration }, 'rollback target is no longer in the history');
      return;
    }
    try {
      this.applyIntent(current, { spec: target.spec, deploy: true, rollbackTo: r.toGeneration, deploymentCause: 'auto-rollback', cause: `automatic rollback to ${r.toGeneration}` });
    } catch (error) {
      if (!(error instanceof HostPortAllocatedError)) throw error;
      // The old spec asks for a listener another service took since: the rollback is refused and the
      // rollout pauses (as failureAction pause), saying why; nothing of the rollback is written.
      const message = `update to generation ${current.deployment?.generation ?? '?'} failed, and the automatic rollback to generation ${r.toGeneration} is refused: ${error.causes.map(formatFieldError).join('; ')}`;
      const update = current.status.update;
      if (update) this.putService({ ...current, status: { ...current.status, update: { ...update, state: 'paused', message } } }, this.log.next());
      this.insertEvents([{ grid: r.grid, service: r.name, type: 'service.update_paused', severity: 'warning', message, data: { rollbackTo: r.toGeneration } }]);
    }
  }

  // ---- data-plane writer ----

  /**
   * Replaces the data plane's conditions of a service (status.conditions); the version stays (it is not
   * the user's part). Equal conditions write nothing (and record no events). An unknown service is skipped.
   * @returns true when something was written.
   */
  setServiceConditions(grid: string, name: string, conditions: readonly ServiceCondition[], events: readonly NewServiceEvent[] = []): boolean {
    return this.write(() => {
      const current = this.readRow<Service>(this.stmt.getService, grid, name);
      if (!current || stableStringify(current.status.conditions ?? []) === stableStringify(conditions)) return false;
      const { conditions: _old, ...rest } = current.status;
      this.putService({ ...current, status: conditions.length > 0 ? { ...rest, conditions } : rest }, this.log.next());
      this.insertEvents(events);
      return true;
    });
  }

  /** The host-listener allocation table: every address:port a service's spec asks berth to listen on, with its owner. */
  listHostListeners(): HostListenerClaim[] {
    this.assertOpen();
    return this.hostPorts.list();
  }

  // ---- agent writer ----

  /**
   * Records observed statuses. An update that would move a state backwards is refused and the rest are
   * still written (one stale report must not block the others); refusals are logged and returned.
   * `events` are recorded whatever happened to the updates.
   */
  setInstanceStatuses(updates: readonly { readonly id: string; readonly status: InstanceStatus }[], events: readonly NewServiceEvent[] = []): StatusWriteResult {
    const result = this.write(() => {
      const written: string[] = [];
      const unchanged: string[] = [];
      const unknown: string[] = [];
      const refused: InvalidTransitionError[] = [];
      for (const { id, status } of updates) {
        const current = this.readRow<Instance>(this.stmt.getInstance, id);
        if (!current) unknown.push(id);
        else if (!canAdvance(current.status.state, status.state)) refused.push(new InvalidTransitionError(id, current.status.state, status.state));
        else if (stableStringify(current.status) === stableStringify(status)) unchanged.push(id);
        else {
          this.putInstance({ ...current, status });
          written.push(id);
        }
      }
      this.insertEvents(events);
      return { written, unchanged, unknown, refused };
    });
    for (const e of result.refused) this.logger.warn({ ...e.details }, e.message);
    return result;
  }

  upsertNode(node: NodeRegistration): NodeInfo {
    return this.write(() => this.putNode(registeredNode(node, this.getNode(node.name))));
  }

  updateNode(name: string, change: NodeChange, options: Pick<WriteOptions, 'ifVersion'> = {}): NodeInfo {
    return this.write(() => this.putNode(changedNode(this.getNode(name), name, change, options.ifVersion)));
  }

  removeNode(name: string, options: { readonly force?: boolean } = {}): NodeInfo {
    return this.write(() => {
      const current = removableNode(this.getNode(name), name, options.force === true);
      const revision = this.log.next();
      this.stmt.deleteNode.run(name);
      this.log.record('node', 'delete', name, JSON.stringify(current), revision);
      return current;
    });
  }

  private putNode(node: Omit<NodeInfo, 'version'>): NodeInfo {
    const revision = this.log.next();
    const json = JSON.stringify({ ...node, version: revision } satisfies NodeInfo);
    this.stmt.putNode.run(node.name, json, revision);
    return this.log.record('node', 'put', node.name, json, revision) as NodeInfo;
  }

  // ---- access: grids and tokens ----

  getGrid(name: string): Grid | undefined {
    this.assertOpen();
    return this.access.getGrid(name);
  }

  listGrids(): Grid[] {
    this.assertOpen();
    return this.access.listGrids();
  }

  createGrid(input: { readonly name: string; readonly labels?: Readonly<Record<string, string>> }): Grid {
    return this.accessWrite(() => this.access.createGrid({ name: input.name, createdAt: this.now(), labels: { ...input.labels } }));
  }

  deleteGrid(name: string): void {
    this.accessWrite(() => {
      this.access.deleteGrid(name);
      this.secrets.removeGrid(name);
    });
  }

  createToken(token: StoredToken): TokenInfo {
    return this.accessWrite(() => this.access.createToken(token));
  }

  accessRevision(): number {
    return this.accessChanges;
  }

  getToken(id: string): StoredToken | undefined {
    this.assertOpen();
    return this.access.getToken(id);
  }

  listTokens(filter: { readonly grid?: string } = {}): TokenInfo[] {
    this.assertOpen();
    return this.access.listTokens(filter);
  }

  deleteToken(id: string): TokenInfo {
    return this.accessWrite(() => this.access.deleteToken(id));
  }

  getSecret(grid: string, name: string): SecretInfo | undefined {
    this.assertOpen();
    return this.secrets.info(grid, name);
  }

  listSecrets(grid: string): SecretInfo[] {
    this.assertOpen();
    return this.secrets.all(grid);
  }

  getSecretValue(grid: string, name: string, key: string): string | undefined {
    this.assertOpen();
    return this.secrets.value(grid, name, key);
  }

  putSecret(grid: string, name: string, data: Readonly<Record<string, string>>, mode: 'create' | 'replace' | 'merge'): SecretInfo {
    return this.write(() => {
      if (!this.access.getGrid(grid)) throw new GridNotFoundError(grid);
      return this.secrets.write(grid, name, data, mode, this.now());
    });
  }

  deleteSecret(grid: string, name: string): void {
    this.write(() => this.secrets.remove(grid, name));
  }

  /** Rewrites every secret not under the write key of `secretCipher` (a key rotation; see SecretTable.reencryptAll). */
  reencryptSecrets(): SecretRewrite {
    return this.write(() => this.secrets.reencryptAll());
  }

  /** A write of grids or tokens; moves accessRevision whether it commits or not (a spurious move only costs a cache miss). */
  private accessWrite<T>(fn: () => T): T {
    try {
      return this.write(fn);
    } finally {
      this.accessChanges++;
    }
  }

  // ---- events and watch ----

  appendEvents(events: readonly NewServiceEvent[]): void {
    if (events.length === 0) return;
    this.write(() => this.insertEvents(events));
  }

  /**
   * Replays history after `fromRevision` synchronously (inside this call), then delivers live changes.
   * A `fromRevision` at or beyond the current revision replays nothing.
   * @throws RevisionCompactedError when changes after `fromRevision` have been trimmed;
   *   RequestInvalidError when `fromRevision` is not an integer >= 0.
   */
  watch(fromRevision: number, listener: WatchListener): Disposable {
    this.assertOpen();
    return this.log.watch(fromRevision, listener);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.log.close();
    this.db.close();
  }

  // ---- internals ----

  private write<T>(fn: () => T, options: WriteOptions = {}): T {
    this.assertOpen();
    return this.log.write(fn, { dryRun: options.dryRun === true });
  }

  private putService(service: Service, revision: number): Service {
    const json = JSON.stringify(service);
    this.stmt.putService.run(service.grid, service.name, json, revision);
    return this.log.record('service', 'put', serviceKey(service.grid, service.name), json, revision) as Service;
  }

  private putInstance(instance: Instance): Instance {
    const revision = this.log.next();
    const json = JSON.stringify({ ...instance, version: revision });
    this.stmt.updateInstance.run(instance.status.state, json, revision, instance.id);
    const stored = this.log.record('instance', 'put', instance.id, json, revision) as Instance;
    this.instances.remember(instance.id, revision, stored);
    return stored;
  }

  private insertEvents(events: readonly NewServiceEvent[]): void {
    this.events.append(events);
  }

  /** Reads a row for modification: plain (unfrozen) JSON, never handed out. */
  private readRow<T>(statement: Database.Statement, ...args: unknown[]): T | undefined {
    const row = statement.get(...args) as JsonRow | undefined;
    return row ? (JSON.parse(row.json) as T) : undefined;
  }

  private query(sql: string): Database.Statement {
    let statement = this.queries.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.queries.set(sql, statement);
    }
    return statement;
  }

  private now(): string {
    return new Date(this.clock.now()).toISOString();
  }

  private assertOpen(): void {
    if (this.closed) throw new CodedError('INTERNAL', 'the store is closed');
  }
}

/** True when `a` and `b` are equal apart from `ignored` (so a controller rewriting the same status does not wake itself). */
function sameIgnoring<T extends object>(a: T, b: T, ignored: keyof T): boolean {
  return stableStringify({ ...a, [ignored]: undefined }) === stableStringify({ ...b, [ignored]: undefined });
}
