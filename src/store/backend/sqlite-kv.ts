import Database from 'better-sqlite3';
import type { Clock, Disposable } from '../../lib/index.js';
import { systemClock } from '../../lib/index.js';
import { RequestInvalidError, RevisionCompactedError } from '../../model/index.js';
import type { KeyValue, KvBackend, KvEvent, KvLease, KvWatchListener, RangeOptions, RangeResult, TxnOp, TxnOpResponse, TxnRequest, TxnResult, WatchOptions, WriteResult } from './kv-backend.js';
import { KvWatchers } from './kv-watchers.js';
import { checkCompares, checkTxnOps, deleteWith, putWith } from './kv-txn.js';
import type { KvRow, KvStatements } from './sqlite-kv-schema.js';
import { openKvSchema, prepareKv, toKeyValue, toKvEvent } from './sqlite-kv-schema.js';

export interface SqliteKvOptions {
  /** A file path, or ':memory:' (the default). */
  readonly path?: string;
  /** Revisions of watch history kept before trimming (etcd's --auto-compaction-mode=revision); default 10 000; 0 = never trim. */
  readonly historyRevisions?: number;
  /** How often expired leases are swept, ms; default 250 (etcd's lessor checks every 500 ms). */
  readonly leaseCheckMs?: number;
  readonly clock?: Clock;
  /** How long a write waits for another connection's lock, ms (SQLite busy_timeout); default 5000. */
  readonly busyTimeoutMs?: number;
}

const REPLAY_BATCH = 1000;
/** A bound above every UTF-8 key (the byte 0xff never occurs in UTF-8): the end of the '' prefix. */
const KEY_MAX = Buffer.from([0xff]);

/**
 * The embedded backend: etcd's KV, Watch and Lease semantics over one SQLite file, for one process.
 * Every call runs synchronously inside; the promises are for the contract. Writes are BEGIN IMMEDIATE
 * transactions; watchers get each transaction's events after its commit, in revision order.
 * Another process may read the file; only the process holding it open for writing sees watches.
 */
export class SqliteKv implements KvBackend {
  private readonly db: Database.Database;
  private readonly st: KvStatements;
  private readonly watchers = new KvWatchers();
  private readonly clock: Clock;
  private readonly leases = new Map<string, SqliteLease>();
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly keep: number;
  private closed = false;

  constructor(options: SqliteKvOptions = {}) {
    this.db = new Database(options.path ?? ':memory:');
    openKvSchema(this.db, options.busyTimeoutMs ?? 5000);
    this.st = prepareKv(this.db);
    this.clock = options.clock ?? systemClock;
    this.keep = Math.max(0, options.historyRevisions ?? 10_000);
    // As etcd's lessor Promote after a restart: every lease gets its full TTL again from now.
    this.st.promoteLeases.run(this.clock.now());
    this.sweepTimer = setInterval(() => this.sweepLeases(), Math.max(10, options.leaseCheckMs ?? 250));
    this.sweepTimer.unref();
  }

  async get(key: string): Promise<KeyValue | undefined> {
    this.open();
    const row = this.st.get.get(Buffer.from(key, 'utf8'));
    return row ? toKeyValue(row) : undefined;
  }

  async range(prefix: string, options: RangeOptions = {}): Promise<RangeResult> {
    this.open();
    const read = this.db.transaction((): RangeResult => {
      const current = this.meta('revision');
      const at = options.revision ?? current;
      if (!Number.isInteger(at) || at < 1) throw new RequestInvalidError(`revision: must be an integer >= 1, got ${at}`);
      if (at > current) throw new RequestInvalidError(`revision ${at} is in the future (the store is at ${current})`);
      const compacted = this.meta('compacted');
      if (at < current && at < compacted) throw new RevisionCompactedError(at, compacted);
      const [start, end] = bounds(prefix, options.fromKey);
      const limit = options.limit && options.limit > 0 ? options.limit : -1;
      const fetch = limit > 0 ? limit + 1 : -1;
      const rows = at === current ? this.st.range.all(start, end, fetch) : this.st.rangeAt.all({ start, end, rev: at, limit: fetch });
      const more = limit > 0 && rows.length > limit;
      return { items: (more ? rows.slice(0, limit) : rows).map(toKeyValue), revision: at, more };
    });
    return read.deferred();
  }

  async count(prefix: string): Promise<{ count: number; revision: number }> {
    this.open();
    const [start, end] = bounds(prefix);
    const read = this.db.transaction(() => ({ count: (this.st.count.get(start, end) as { n: number }).n, revision: this.meta('revision') }));
    return read.deferred();
  }

  async revision(): Promise<number> {
    this.open();
    return this.meta('revision');
  }

  async txn(request: TxnRequest): Promise<TxnResult> {
    this.open();
    return this.write(request);
  }

  async put(key: string, value: string, options: { ifModRevision?: number; lease?: string } = {}): Promise<WriteResult> {
    this.open();
    return putWith(this, key, value, options);
  }

  async delete(key: string, options: { ifModRevision?: number } = {}): Promise<WriteResult> {
    this.open();
    return deleteWith(this, key, options);
  }

  watch(prefix: string, afterRevision: number, listener: KvWatchListener, options: WatchOptions = {}): Disposable {
    this.open();
    if (!Number.isInteger(afterRevision) || afterRevision < 0) throw new RequestInvalidError(`afterRevision: must be an integer >= 0, got ${afterRevision}`);
    return this.watchers.add(prefix, afterRevision, listener, options.prevKv === true, () => {
      const compacted = this.meta('compacted');
      if (afterRevision + 1 < compacted) return { compacted };
      return this.history(afterRevision);
    });
  }

  async grantLease(ttlSeconds: number): Promise<KvLease> {
    this.open();
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) throw new RequestInvalidError(`ttlSeconds: must be an integer >= 1, got ${ttlSeconds}`);
    const grant = this.db.transaction(() => {
      const id = String(this.meta('lease_seq') + 1);
      this.st.setMeta.run(Number(id), 'lease_seq');
      this.st.insertLease.run(id, ttlSeconds, this.clock.now() + ttlSeconds * 1000);
      return id;
    });
    const id = grant.immediate();
    const lease = new SqliteLease(id, ttlSeconds, {
      renew: () => this.st.renewLease.run(this.clock.now() + ttlSeconds * 1000, id).changes > 0,
      revoke: () => this.revokeLease(id),
      forget: () => this.leases.delete(id),
    });
    this.leases.set(id, lease);
    return lease;
  }

  async compact(revision: number): Promise<void> {
    this.open();
    const run = this.db.transaction(() => {
      const current = this.meta('revision');
      if (!Number.isInteger(revision) || revision < 1 || revision > current) throw new RequestInvalidError(`compact: revision must be an integer in 1..${current}, got ${revision}`);
      this.compactTo(revision);
    });
    run.immediate();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweepTimer);
    for (const lease of this.leases.values()) lease.release();
    this.leases.clear();
    this.watchers.closeAll();
    this.db.close();
  }

  /**
   * Runs a transaction: compares, then one branch, at one new revision if anything was written; then
   * hands its events to the watchers. Atomic: on any error nothing of it remains.
   */
  private write(request: TxnRequest, alsoInside?: () => void): TxnResult {
    checkTxnOps(request.success);
    checkTxnOps(request.failure ?? []);
    const events: KvEvent[] = [];
    const run = this.db.transaction((): TxnResult => {
      const current = this.meta('revision');
      const next = current + 1;
      const succeeded = checkCompares(request.compare, (key) => this.row(key));
      const ops = succeeded ? request.success : (request.failure ?? []);
      const responses = ops.map((op) => this.apply(op, next, events));
      alsoInside?.();
      if (events.length === 0) return { succeeded, revision: current, responses };
      this.st.setMeta.run(next, 'revision');
      if (this.keep > 0 && next - this.meta('compacted') > this.keep + Math.ceil(this.keep / 10)) this.compactTo(next - this.keep);
      return { succeeded, revision: next, responses };
    });
    const result = run.immediate();
    this.watchers.publish(events);
    return result;
  }

  private apply(op: TxnOp, rev: number, events: KvEvent[]): TxnOpResponse {
    switch (op.op) {
      case 'get': {
        const row = this.row(op.key);
        return { op: 'get', kv: row ? toKeyValue(row) : undefined };
      }
      case 'put': {
        if (op.lease !== undefined && !this.st.lease.get(op.lease)) throw new RequestInvalidError(`lease ${op.lease} not found (expired or revoked)`);
        const key = Buffer.from(op.key, 'utf8');
        const prev = this.st.get.get(key);
        const row: KvRow = { key, value: op.value, create_revision: prev?.create_revision ?? rev, mod_revision: rev, version: (prev?.version ?? 0) + 1, lease: op.lease ?? null };
        this.st.upsert.run(key, row.value, row.create_revision, rev, row.version, row.lease);
        events.push(this.record('put', row, prev, rev, events.length));
        return { op: 'put' };
      }
      case 'delete':
      case 'deletePrefix': {
        const rows = op.op === 'delete' ? [this.row(op.key)].filter((r): r is KvRow => r !== undefined) : this.st.range.all(...bounds(op.prefix), -1);
        for (const prev of rows) {
          this.st.remove.run(prev.key);
          events.push(this.record('delete', { key: prev.key, value: '', create_revision: 0, mod_revision: rev, version: 0, lease: null }, prev, rev, events.length));
        }
        return { op: 'delete', deleted: rows.map(toKeyValue) };
      }
    }
  }

  private record(type: 'put' | 'delete', row: KvRow, prev: KvRow | undefined, rev: number, seq: number): KvEvent {
    this.st.insertChange.run(rev, seq, type, row.key, row.value, row.create_revision, row.version, row.lease, prev?.value ?? null, prev?.create_revision ?? null, prev?.mod_revision ?? null, prev?.version ?? null, prev?.lease ?? null);
    return toKvEvent({ revision: rev, seq, type, key: row.key, value: row.value, create_revision: row.create_revision, version: row.version, lease: row.lease, prev_value: prev?.value ?? null, prev_create: prev?.create_revision ?? null, prev_mod: prev?.mod_revision ?? null, prev_version: prev?.version ?? null, prev_lease: prev?.lease ?? null });
  }

  /** History after `after`, in batches of whole revisions (a batch never splits a transaction). */
  private *history(after: number): Iterable<readonly KvEvent[]> {
    let from = after;
    for (;;) {
      const rows = this.st.changesAfter.all(from, REPLAY_BATCH);
      if (rows.length === 0) return;
      const last = (rows[rows.length - 1] as (typeof rows)[number]).revision;
      const whole = rows.length < REPLAY_BATCH ? rows : rows.filter((r) => r.revision < last);
      const batch = whole.length > 0 ? whole : this.st.changesAt.all(last);
      yield batch.map(toKvEvent);
      from = (batch[batch.length - 1] as (typeof rows)[number]).revision;
    }
  }

  private compactTo(revision: number): void {
    if (revision <= this.meta('compacted')) return;
    this.st.trimChanges.run(revision);
    this.st.setMeta.run(revision, 'compacted');
  }

  /** Deletes expired leases and their keys, one transaction (one revision) per lease, as etcd's lessor. */
  private sweepLeases(): void {
    if (this.closed) return;
    for (const { id } of this.st.expiredLeases.all(this.clock.now())) {
      this.revokeLease(id);
      this.leases.get(id)?.lose(new Error(`lease ${id} expired: it was not kept alive within its TTL`));
    }
  }

  private revokeLease(id: string): void {
    if (this.closed) return;
    const keys = this.st.keysOfLease.all(id).map((r) => r.key.toString('utf8'));
    this.write({ compare: [], success: keys.map((key) => ({ op: 'delete', key }) as const) }, () => this.st.removeLease.run(id));
  }

  private row(key: string): KvRow | undefined {
    return this.st.get.get(Buffer.from(key, 'utf8'));
  }

  private meta(name: 'revision' | 'compacted' | 'lease_seq'): number {
    return (this.st.meta.get(name) as { value: number }).value;
  }

  private open(): void {
    if (this.closed) throw new RequestInvalidError('the SQLite store backend is closed');
  }
}

/** The [start, end) BLOB bounds of a prefix range, optionally starting later at `fromKey`. */
function bounds(prefix: string, fromKey?: string): [Buffer, Buffer] {
  const p = Buffer.from(prefix, 'utf8');
  const end = p.length === 0 ? KEY_MAX : Buffer.from(p);
  if (p.length > 0) end[end.length - 1] = (end[end.length - 1] as number) + 1; // UTF-8 never ends in 0xff
  const from = fromKey !== undefined ? Buffer.from(fromKey, 'utf8') : p;
  return [Buffer.compare(from, p) > 0 ? from : p, end];
}

type LeaseHooks = { renew(): boolean; revoke(): void; forget(): void };

/** A SqliteKv lease: renewed every ttl/3 while this process holds it (etcd3's keepalive cadence). */
class SqliteLease implements KvLease {
  private readonly timer: NodeJS.Timeout;
  private readonly lostListeners = new Set<(error: Error) => void>();
  private done = false;

  constructor(
    readonly id: string,
    readonly ttlSeconds: number,
    private readonly hooks: LeaseHooks,
  ) {
    this.timer = setInterval(() => {
      if (!this.hooks.renew()) this.lose(new Error(`lease ${id} is gone (revoked or expired)`));
    }, (ttlSeconds * 1000) / 3);
    this.timer.unref();
  }

  /** Works after `release` too; revoking a lease that is already gone does nothing. */
  async revoke(): Promise<void> {
    this.stop();
    this.hooks.revoke();
  }

  release(): void {
    this.stop();
  }

  onLost(listener: (error: Error) => void): Disposable {
    this.lostListeners.add(listener);
    return { dispose: () => void this.lostListeners.delete(listener) };
  }

  /** Called when the lease expired or vanished while kept alive. */
  lose(error: Error): void {
    if (this.done) return;
    this.stop();
    for (const l of this.lostListeners) l(error);
  }

  private stop(): void {
    this.done = true;
    clearInterval(this.timer);
    this.hooks.forget();
  }
}
