import type { Disposable, Logger } from '../lib/index.js';
import { silentLogger } from '../lib/index.js';
import type { Compare, KvBackend, KvEvent, TxnOp } from './backend/index.js';
import { nextKey } from './backend/index.js';
import { CHANGES_TABLE, withoutDerivableJson } from './change-rows.js';
import { historyOps, historyPrefix, historyRowsOf } from './history-ring.js';
import type { RowChange } from './row-capture.js';
import type { SqliteStore } from './sqlite-store.js';

/*
 * The store on etcd (docs/control-plane.md). Every server keeps the whole store in memory (an SQLite
 * database, so reads stay synchronous and the domain rules stay written once); etcd holds it durably,
 * one key per row: `<prefix>rows/<table>/<primary key as JSON>` → the row's columns as JSON.
 *
 * - The leader is the one writer. ReplicaWriter sends each commit's rows to etcd in order, several
 *   commits merged into one transaction when they queue up (group commit), every transaction fenced on
 *   the leader's election key: a deposed leader's write fails instead of landing. A write is
 *   acknowledged (the API answers) only once it is in etcd.
 * - Followers keep up through a watch. A store transaction larger than one etcd transaction allows is
 *   split, and the `<prefix>commit` key, put in its last part, tells a follower to apply what it
 *   buffered: a follower never shows half a write.
 * - A server that becomes leader loads everything again at one revision before writing.
 */

/** Ops per etcd transaction: etcd's --max-txn-ops defaults to 128. */
const DEFAULT_CHUNK_OPS = 100;
/** Bytes of keys and values per etcd transaction: etcd's --max-request-bytes defaults to 1.5 MiB. */
const DEFAULT_CHUNK_BYTES = 1024 * 1024;
/** Transactions of one group commit in flight at once. */
const DEFAULT_IN_FLIGHT = 32;

export interface ReplicaKeys {
  readonly rows: string;
  readonly commit: string;
  /** The history ring (history-ring.ts). */
  readonly history: string;
}

export function replicaKeys(prefix: string): ReplicaKeys {
  return { rows: `${prefix}rows/`, commit: `${prefix}commit`, history: historyPrefix(prefix) };
}

function rowKey(keys: ReplicaKeys, change: { readonly table: string; readonly key: readonly (string | number)[] }): string {
  return `${keys.rows}${change.table}/${JSON.stringify(change.key)}`;
}

function parseRowKey(keys: ReplicaKeys, key: string): { table: string; key: (string | number)[] } | undefined {
  const rest = key.slice(keys.rows.length);
  const slash = rest.indexOf('/');
  if (slash <= 0) return undefined;
  try {
    const parsed = JSON.parse(rest.slice(slash + 1)) as unknown;
    return Array.isArray(parsed) ? { table: rest.slice(0, slash), key: parsed as (string | number)[] } : undefined;
  } catch {
    return undefined;
  }
}

/** Keeps a store a replica of the rows in etcd: a full load, then a watch. */
export class StoreReplica {
  private readonly keys: ReplicaKeys;
  private readonly prefix: string;
  private readonly logger: Logger;
  private applied = 0;
  private buffered: RowChange[] = [];
  private watching: Disposable | undefined;
  private readonly waiters = new Set<{ revision: number; resolve: () => void }>();

  constructor(
    private readonly kv: KvBackend,
    private readonly store: SqliteStore,
    options: { readonly prefix: string; readonly logger?: Logger },
  ) {
    this.keys = replicaKeys(options.prefix);
    this.prefix = options.prefix;
    this.logger = options.logger ?? silentLogger;
  }

  /** The etcd revision the store holds everything up to. */
  get revision(): number {
    return this.applied;
  }

  /**
   * Loads every row at one revision (pages of 1,000): rows here but not in etcd are deleted, the rest
   * written as they are — unless etcd holds no row at all (a new cluster: the store keeps the rows its
   * schema made, for the first leader to write). Returns that revision and how many rows etcd held.
   */
  async load(): Promise<{ revision: number; rows: number }> {
    const puts: RowChange[] = [];
    const present = new Set<string>();
    let revision: number | undefined;
    let fromKey: string | undefined;
    for (;;) {
      const page = await this.kv.range(this.keys.rows, { limit: 1000, ...(fromKey !== undefined ? { fromKey } : {}), ...(revision !== undefined ? { revision } : {}) });
      revision ??= page.revision;
      for (const kv of page.items) {
        const parsed = parseRowKey(this.keys, kv.key);
        if (!parsed) continue;
        present.add(kv.key);
        puts.push({ ...parsed, row: JSON.parse(kv.value) as Record<string, unknown> });
      }
      const last = page.items.at(-1);
      if (!page.more || !last) break;
      fromKey = nextKey(last.key);
    }
    // The history ring at the same revision: what this server may have missed of the history (history-ring.ts).
    if (puts.length > 0) puts.push(...(await this.ringAt(revision)));
    const deletes =
      puts.length === 0
        ? []
        : this.store
            .replicatedKeys()
            // The history is each server's own (kept whole by the change log), not rows of etcd.
            .filter((k) => k.table !== CHANGES_TABLE && !present.has(rowKey(this.keys, k)))
            .map((k): RowChange => ({ ...k, row: null }));
    this.buffered = [];
    if (deletes.length + puts.length > 0) this.store.applyReplicated([...deletes, ...puts]);
    this.advance(revision);
    return { revision, rows: puts.length };
  }

  /** Every history row the ring holds at etcd revision `revision`. */
  private async ringAt(revision: number): Promise<RowChange[]> {
    const rows: RowChange[] = [];
    let fromKey: string | undefined;
    for (;;) {
      const page = await this.kv.range(this.keys.history, { limit: 100, revision, ...(fromKey !== undefined ? { fromKey } : {}) });
      for (const kv of page.items) rows.push(...historyRowsOf(kv.value));
      const last = page.items.at(-1);
      if (!page.more || !last) return rows;
      fromKey = nextKey(last.key);
    }
  }

  /** Follows the rows from the loaded revision on; after a compaction, loads again. */
  follow(): void {
    void this.watching?.dispose();
    this.watching = this.kv.watch(this.prefix, this.applied, {
      events: (events) => this.onEvents(events),
      compacted: () => {
        this.logger.warn({ revision: this.applied }, 'the store history this server needed was compacted: loading everything again');
        void this.load().then(
          () => this.follow(),
          (error: unknown) => this.logger.error({ err: error }, 'reloading the store failed'),
        );
      },
      error: (error) => this.logger.warn({ err: error }, 'store watch trouble; retrying'),
    });
  }

  /** Stops following (a follower that became the leader). */
  stop(): void {
    void this.watching?.dispose();
    this.watching = undefined;
  }

  /**
   * Resolves once the store holds the last commit in etcd now (the commit marker's revision), or after
   * `timeoutMs` (false): a server that won the election first takes the last leader's final commits
   * through its watch, history included, before it loads.
   */
  async catchUp(timeoutMs: number): Promise<boolean> {
    const marker = await this.kv.get(this.keys.commit);
    return marker === undefined ? true : this.caughtUp(marker.modRevision, timeoutMs);
  }

  /** Resolves once the store holds etcd's revision `revision` (a write the leader acknowledged), or after `timeoutMs`. */
  async caughtUp(revision: number, timeoutMs: number): Promise<boolean> {
    if (this.applied >= revision) return true;
    return new Promise((resolve) => {
      const waiter = { revision, resolve: () => (clearTimeout(timer), this.waiters.delete(waiter), resolve(true)) };
      const timer = setTimeout(() => (this.waiters.delete(waiter), resolve(false)), timeoutMs);
      this.waiters.add(waiter);
    });
  }

  private onEvents(events: readonly KvEvent[]): void {
    for (const event of events) {
      if (event.kv.key === this.keys.commit) {
        if (event.type === 'put') {
          const rows = this.buffered;
          this.buffered = [];
          if (rows.length > 0) this.store.applyReplicated(rows);
          this.advance(event.kv.modRevision);
        }
        continue;
      }
      if (event.kv.key.startsWith(this.keys.history)) {
        if (event.type === 'put') this.buffered.push(...historyRowsOf(event.kv.value));
        continue;
      }
      if (!event.kv.key.startsWith(this.keys.rows)) continue;
      const parsed = parseRowKey(this.keys, event.kv.key);
      if (!parsed) continue;
      // History rows are trimmed by each server (an older leader deleted them in etcd, a newer one clears them once).
      if (parsed.table === CHANGES_TABLE && event.type === 'delete') continue;
      this.buffered.push({ ...parsed, row: event.type === 'put' ? (JSON.parse(event.kv.value) as Record<string, unknown>) : null });
    }
  }

  private advance(revision: number): void {
    if (revision > this.applied) this.applied = revision;
    for (const w of [...this.waiters]) if (w.revision <= this.applied) w.resolve();
  }
}

/** What stops a leader: its fence failed (another server leads) or etcd stayed unreachable. */
export class ReplicationLostError extends Error {}

/**
 * The leader's side: sends each commit's rows to etcd, in commit order, fenced on the election key.
 * A failure is fatal (`onFatal`): the in-memory store then holds writes etcd does not, and the server
 * must start again from etcd (kube-controller-manager exits when it loses its lease, likewise).
 */
export class ReplicaWriter {
  private readonly keys: ReplicaKeys;
  private queue: { seq: number; rows: readonly RowChange[] }[] = [];
  private committed = 0;
  private durable = 0;
  private etcdRevision = 0;
  private running = false;
  /** Group commits sent: the next one's slot in the history ring. */
  private groupCommits = 0;
  private clearedRowHistory = false;
  private failed: Error | undefined;
  private readonly waiters = new Set<{ seq: number; resolve: (rev: number) => void; reject: (e: Error) => void }>();
  private readonly chunkOps: number;
  private readonly chunkBytes: number;
  private readonly inFlight: number;
  private readonly retryForMs: number;
  private readonly logger: Logger;

  constructor(
    private readonly kv: KvBackend,
    private readonly options: {
      readonly prefix: string;
      /** The compare every transaction carries: the election key as this server won it. */
      readonly fence: Compare;
      readonly onFatal: (error: Error) => void;
      readonly chunkOps?: number;
      /** Bytes of keys and values per transaction (default 1 MiB; a single larger row goes alone). */
      readonly chunkBytes?: number;
      /** Transactions of one group commit sent at a time (default 32: etcd batches concurrent proposals into one raft entry and one fsync, and a leader whose event loop is busy for 100 ms still has that many transactions at work). */
      readonly inFlight?: number;
      /** How long an unreachable etcd is retried before giving up (default 10 s). */
      readonly retryForMs?: number;
      readonly logger?: Logger;
    },
  ) {
    this.keys = replicaKeys(options.prefix);
    this.chunkOps = Math.max(2, options.chunkOps ?? DEFAULT_CHUNK_OPS);
    this.chunkBytes = Math.max(1, options.chunkBytes ?? DEFAULT_CHUNK_BYTES);
    this.inFlight = Math.max(1, options.inFlight ?? DEFAULT_IN_FLIGHT);
    this.retryForMs = options.retryForMs ?? 10_000;
    this.logger = options.logger ?? silentLogger;
  }

  /** Queues one commit's rows (called synchronously at the commit). */
  enqueue(rows: readonly RowChange[]): void {
    if (this.failed) return;
    this.queue.push({ seq: ++this.committed, rows });
    if (!this.running) void this.run();
  }

  /**
   * Resolves with etcd's revision once every commit so far is in etcd.
   * @throws ReplicationLostError when replication failed (the server is going down)
   */
  async flushed(): Promise<number> {
    if (this.failed) throw this.failed;
    const seq = this.committed;
    if (this.durable >= seq) return this.etcdRevision;
    return new Promise((resolve, reject) => this.waiters.add({ seq, resolve, reject }));
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0 && !this.failed) {
        // Group commit: everything queued goes in one go; a row written twice is sent once, as it is last.
        const batch = this.queue;
        this.queue = [];
        const merged = new Map<string, RowChange>();
        const history: Readonly<Record<string, unknown>>[] = [];
        for (const commit of batch) {
          for (const change of commit.rows) {
            // The history goes in the ring, not row by row; its trimming stays here (each server trims its own).
            if (change.table === CHANGES_TABLE) {
              if (change.row !== null) history.push(change.row);
            } else merged.set(rowKey(this.keys, change), change);
          }
        }
        // A history row goes without the object when the row it describes goes with it (change-rows.ts).
        const rowOf = (table: string, key: readonly (string | number)[]): RowChange['row'] | undefined => merged.get(rowKey(this.keys, { table, key }))?.row;
        const ops: TxnOp[] = [...merged].map(([key, change]) => (change.row === null ? { op: 'delete', key } : { op: 'put', key, value: JSON.stringify(change.row) }));
        ops.push(...historyOps(this.options.prefix, this.groupCommits++, history.map((h) => withoutDerivableJson(h, rowOf))));
        // History rows an older berth kept in etcd, row by row: gone with this writer's first commit.
        if (!this.clearedRowHistory) {
          ops.push({ op: 'deletePrefix', prefix: `${this.keys.rows}${CHANGES_TABLE}/` });
          this.clearedRowHistory = true;
        }
        const lastSeq = (batch.at(-1) as { seq: number }).seq;
        const chunks = this.chunk(ops);
        const last = chunks.pop() as TxnOp[];
        // A batch holds each key once, so its chunks may land in any order: they go several at a time,
        // and the one with the commit marker after all of them (followers apply a commit at its marker).
        await this.sendAll(chunks);
        last.push({ op: 'put', key: this.keys.commit, value: String(lastSeq) });
        this.etcdRevision = await this.send(last);
        this.durable = lastSeq;
        for (const w of [...this.waiters]) {
          if (w.seq <= this.durable) {
            this.waiters.delete(w);
            w.resolve(this.etcdRevision);
          }
        }
      }
    } catch (error) {
      this.fail(error instanceof ReplicationLostError ? error : new ReplicationLostError(`the store could not be written to etcd: ${(error as Error).message}`));
    } finally {
      this.running = false;
    }
  }

  /** Ops in transactions etcd takes: at most chunkOps - 1 ops and chunkBytes each (the commit marker goes in the last); at least one. */
  private chunk(ops: readonly TxnOp[]): TxnOp[][] {
    const chunks: TxnOp[][] = [[]];
    let bytes = 0;
    for (const op of ops) {
      const size = op.op === 'put' ? Buffer.byteLength(op.key) + Buffer.byteLength(op.value) : Buffer.byteLength(op.op === 'deletePrefix' ? op.prefix : op.key);
      let current = chunks.at(-1) as TxnOp[];
      if (current.length > 0 && (current.length >= this.chunkOps - 1 || bytes + size > this.chunkBytes)) {
        current = [];
        chunks.push(current);
        bytes = 0;
      }
      current.push(op);
      bytes += size;
    }
    return chunks;
  }

  /** Sends `chunks` with at most `inFlight` transactions outstanding; rejects with the first failure. */
  private async sendAll(chunks: readonly TxnOp[][]): Promise<void> {
    let next = 0;
    let broken = false;
    const lane = async (): Promise<void> => {
      try {
        while (next < chunks.length && !broken) await this.send(chunks[next++] as TxnOp[]);
      } catch (error) {
        broken = true; // the other lanes send nothing more
        throw error;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.inFlight, chunks.length) }, lane));
  }

  /** One fenced transaction; transient failures are retried (a put or delete applied twice is the same row). */
  private async send(ops: readonly TxnOp[]): Promise<number> {
    const deadline = Date.now() + this.retryForMs;
    for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
      try {
        const result = await this.kv.txn({ compare: [this.options.fence], success: ops });
        if (!result.succeeded) throw new ReplicationLostError('this server is no longer the leader (its election key is gone or another server holds it)');
        return result.revision;
      } catch (error) {
        if (error instanceof ReplicationLostError || Date.now() + delay > deadline) throw error;
        this.logger.warn({ err: error }, 'writing to etcd failed; retrying');
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private fail(error: Error): void {
    if (this.failed) return;
    this.failed = error;
    for (const w of this.waiters) w.reject(error);
    this.waiters.clear();
    this.options.onFatal(error);
  }
}

/**
 * etcd keeps every revision until it is compacted (and stops taking writes at its space quota). The
 * leader compacts as kube-apiserver does: every `everyMs` (5 min), at the revision seen one period
 * before, so a watcher less than a period behind never loses history; one further behind loads again.
 * Returns the stop function.
 */
export function startCompaction(kv: KvBackend, options: { readonly everyMs?: number; readonly logger?: Logger } = {}): () => void {
  const logger = options.logger ?? silentLogger;
  let previous: number | undefined;
  const tick = async (): Promise<void> => {
    try {
      const current = await kv.revision();
      if (previous !== undefined && previous > 1) await kv.compact(previous);
      previous = current;
    } catch (error) {
      logger.warn({ err: error }, 'compacting etcd failed; trying again next period');
    }
  };
  void tick();
  const timer = setInterval(() => void tick(), options.everyMs ?? 5 * 60_000);
  timer.unref();
  return () => clearInterval(timer);
}
