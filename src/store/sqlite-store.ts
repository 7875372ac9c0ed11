import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Clock, Disposable, Logger } from '../lib/index.js';
import { CodedError } from '../lib/index.js';
import type { Grid, HostListenerClaim, Instance, InstanceStatus, NewServiceEvent, NodeInfo, NodeRegistration, SecretInfo, Service, ServiceCondition, ServiceEvent, ServiceSpec, SpecRevision, TokenInfo } from '../model/index.js';
import { GridNotFoundError } from '../model/index.js';
import { FrozenJsonCache } from './deep-freeze.js';
import { InstanceCache } from './instance-cache.js';
import { instanceListing } from './instance-listing.js';
import type { RowChange } from './row-capture.js';
import { RowCapture } from './row-capture.js';
import { ChangeLog } from './change-log.js';
import { CHANGES_TABLE } from './change-rows.js';
import { prepareDatabase } from './sqlite-schema.js';
import { SpecHistory } from './spec-history.js';
import { EventTable } from './event-table.js';
import { AccessTables } from './access-tables.js';
import type { SecretRewrite } from './secret-table.js';
import { SecretTable } from './secret-table.js';
import { NodeTable } from './node-table.js';
import { INSTANCES_TABLE, ObjectRows } from './object-rows.js';
import { ServiceIntentWriter } from './service-intent-writer.js';
import { ControllerWriter } from './controller-writer.js';
import type { StatusWriteResult } from './status-writer.js';
import { StatusWriter } from './status-writer.js';
import { HostPortTable } from './host-port-table.js';
import type { JsonRow, Statements } from './sqlite-statements.js';
import { SQL } from './sqlite-statements.js';
import type { SqliteStoreOptions } from './sqlite-store-options.js';
import { resolveSqliteStoreOptions } from './sqlite-store-options.js';
import type { ControllerWrites, EventFilter, InstanceFilter, NodeChange, ServiceIntentChange, Store, StoredToken, WatchListener, WatchOptions, WriteOptions } from './store.js';

// Declared with the writer or the options they belong to; exported here too, as before the split.
export type { SqliteStoreOptions } from './sqlite-store-options.js';
export type { StatusWriteResult } from './status-writer.js';
export { REMOVED_BY_USER } from './service-intent-writer.js';

/**
 * The tables whose writers note their rows for replication themselves (RowCapture's `selfNoted`): the
 * two every status write touches, so that their rows are not noted by a trigger and read back.
 */
const SELF_NOTED = [CHANGES_TABLE, INSTANCES_TABLE];

/**
 * Opens (creating when missing) the SQLite store at `path` — a file, or `':memory:'` for tests.
 * @throws Error when the file cannot be opened or has a newer schema.
 */
export function openSqliteStore(path: string, options: SqliteStoreOptions = {}): SqliteStore {
  return new SqliteStore(path, options);
}

/**
 * The default Store backend (see store.ts for the contract). Every method runs in one SQLite transaction
 * (BEGIN IMMEDIATE for writes, `write`); watchers are called synchronously after the commit. The writes
 * themselves live with their writer (docs/store.md "Three writers"): ServiceIntentWriter (the API),
 * ControllerWriter (the controllers), StatusWriter (agents and the data plane), NodeTable, AccessTables,
 * SecretTable and EventTable; this class opens the file, reads, and runs each write in its transaction.
 */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly stmt: Statements;
  private readonly queries = new Map<string, Database.Statement>();
  private readonly log: ChangeLog;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly events: EventTable;
  private readonly history: SpecHistory;
  private readonly access: AccessTables;
  private readonly secrets: SecretTable;
  /** See accessRevision(); in memory, as only this process writes this file (data-dir lock). */
  private accessChanges = 0;
  private readonly hostPorts: HostPortTable;
  private readonly nodes: NodeTable;
  private readonly intent: ServiceIntentWriter;
  private readonly controller: ControllerWriter;
  private readonly status: StatusWriter;
  private capture: RowCapture | undefined;
  private closed = false;
  /** Unchanged rows read again come back as the same frozen object (see FrozenJsonCache). */
  private readonly frozen = new FrozenJsonCache();
  /** Instances by id and revision: a list parses only what changed (see InstanceCache). */
  private readonly instances: InstanceCache;

  constructor(path: string, options: SqliteStoreOptions = {}) {
    const o = resolveSqliteStoreOptions(options);
    this.clock = o.clock;
    this.logger = o.logger;
    if (path !== ':memory:' && path !== '') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    try {
      prepareDatabase(this.db, o.busyTimeoutMs);
      this.stmt = Object.fromEntries(Object.entries(SQL).map(([k, sql]) => [k, this.db.prepare(sql)])) as unknown as Statements;
      this.history = new SpecHistory(this.db);
      this.access = new AccessTables(this.db, () => this.now());
      this.secrets = new SecretTable(this.db, o.secretCipher);
      this.log = new ChangeLog(this.db, { historyRevisions: o.historyRevisions, logger: this.logger });
      this.instances = new InstanceCache(this.db, () => this.log.rollbacks);
      this.events = new EventTable(this.db, { log: this.log, frozen: this.frozen, perService: o.eventsPerService, nowMs: () => this.clock.now(), query: (sql) => this.query(sql) });
      this.hostPorts = new HostPortTable(this.db, o.nodeAddresses);
      this.nodes = new NodeTable(this.stmt, this.log, this.frozen);
      const rows = new ObjectRows(this.stmt, this.log, this.instances);
      const tables = { rows, log: this.log, hostPorts: this.hostPorts, history: this.history, events: this.events, now: () => this.now() };
      this.intent = new ServiceIntentWriter({ ...tables, access: this.access, newId: o.newId });
      this.controller = new ControllerWriter({ ...tables, instances: this.instances, intent: this.intent, logger: this.logger });
      this.status = new StatusWriter({ rows, log: this.log, events: this.events });
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
    this.capture ??= new RowCapture(this.db, { selfNoted: SELF_NOTED });
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
    this.capture ??= new RowCapture(this.db, { selfNoted: SELF_NOTED });
    return this.capture.allRows();
  }

  /** Every row key here, for a full resync against the writer's rows. */
  replicatedKeys(): { table: string; key: (string | number)[] }[] {
    this.capture ??= new RowCapture(this.db, { selfNoted: SELF_NOTED });
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
    const { sql, args } = instanceListing(filter);
    return (this.query(sql).all(...args) as { id: string; revision: number }[]).map((r) => this.instances.at(r.id, r.revision));
  }

  listNodes(): NodeInfo[] {
    this.assertOpen();
    return this.nodes.list();
  }

  /** One row: node credentials are checked with it on every heartbeat and report. */
  getNode(name: string): NodeInfo | undefined {
    this.assertOpen();
    return this.nodes.get(name);
  }

  /** @throws RequestInvalidError when `since` is not a time. */
  listEvents(filter: EventFilter): ServiceEvent[] {
    this.assertOpen();
    return this.events.list(filter);
  }

  listSpecHistory(grid: string, name: string): SpecRevision[] {
    this.assertOpen();
    return this.history.all(grid, name);
  }

  /** The host-listener allocation table: every address:port a service's spec asks berth to listen on, with its owner. */
  listHostListeners(): HostListenerClaim[] {
    this.assertOpen();
    return this.hostPorts.list();
  }

  // ---- API writer (ServiceIntentWriter) ----

  createService(input: { readonly grid: string; readonly spec: ServiceSpec; readonly deploy: boolean; readonly events?: readonly NewServiceEvent[] }, options: WriteOptions = {}): Service {
    return this.write(() => this.intent.create(input), options);
  }

  removeInstance(grid: string, service: string, id: string, options: { readonly events?: readonly NewServiceEvent[] } = {}): Instance {
    return this.write(() => this.intent.removeInstance(grid, service, id, options.events ?? []));
  }

  /** A change that alters nothing writes nothing: the version stays, no watch event, no `events` (ServiceIntentWriter.apply). */
  updateServiceIntent(grid: string, name: string, change: ServiceIntentChange, options: WriteOptions = {}): Service {
    return this.write(() => this.intent.update(grid, name, change, options.ifVersion), options);
  }

  // ---- controller writer (ControllerWriter) ----

  applyControllerWrites(writes: ControllerWrites): void {
    this.write(() => this.controller.apply(writes));
  }

  // ---- data-plane and agent writers (StatusWriter, NodeTable) ----

  /** The version stays (it is not the user's part); an unknown service is skipped (StatusWriter.serviceConditions). */
  setServiceConditions(grid: string, name: string, conditions: readonly ServiceCondition[], events: readonly NewServiceEvent[] = []): boolean {
    return this.write(() => this.status.serviceConditions(grid, name, conditions, events));
  }

  /** What happened to each update (StatusWriter.instanceStatuses); refusals are logged at warn after the commit. */
  setInstanceStatuses(updates: readonly { readonly id: string; readonly status: InstanceStatus }[], events: readonly NewServiceEvent[] = []): StatusWriteResult {
    const result = this.write(() => this.status.instanceStatuses(updates, events));
    for (const e of result.refused) this.logger.warn({ ...e.details }, e.message);
    return result;
  }

  upsertNode(node: NodeRegistration): NodeInfo {
    return this.write(() => this.nodes.upsert(node));
  }

  updateNode(name: string, change: NodeChange, options: Pick<WriteOptions, 'ifVersion'> = {}): NodeInfo {
    return this.write(() => this.nodes.update(name, change, options.ifVersion));
  }

  removeNode(name: string, options: { readonly force?: boolean } = {}): NodeInfo {
    return this.write(() => this.nodes.remove(name, options.force === true));
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
    this.write(() => this.events.append(events));
  }

  /**
   * Replays history after `fromRevision` synchronously (inside this call), then delivers live changes.
   * A `fromRevision` at or beyond the current revision replays nothing.
   * @throws RevisionCompactedError when changes after `fromRevision` have been trimmed;
   *   RequestInvalidError when `fromRevision` is not an integer >= 0.
   */
  watch(fromRevision: number, listener: WatchListener, options: WatchOptions = {}): Disposable {
    this.assertOpen();
    return this.log.watch(fromRevision, listener, options);
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
