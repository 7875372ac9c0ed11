import type { Logger } from '../lib/index.js';
import { silentLogger } from '../lib/index.js';
import type { Compare, KvBackend, TxnOp } from './backend/index.js';
import { CHANGES_TABLE, withoutDerivableJson } from './change-rows.js';
import { HISTORY_RING, historyOps, historySlotPrefix } from './history-ring.js';
import type { ReplicaKeys } from './replica-keys.js';
import { replicaKeys, rowKey } from './replica-keys.js';
import type { RowChange } from './row-capture.js';

/*
 * The leader's side of the store on etcd (docs/control-plane.md): each commit's rows go to etcd in
 * commit order, fenced on the leader's election key; StoreReplica (store-replica.ts) is the followers'.
 */

/** Ops per etcd transaction: etcd's --max-txn-ops defaults to 128. */
const DEFAULT_CHUNK_OPS = 100;
/** Bytes of keys and values per etcd transaction: etcd's --max-request-bytes defaults to 1.5 MiB. */
const DEFAULT_CHUNK_BYTES = 1024 * 1024;
/** Transactions of one group commit in flight at once. */
const DEFAULT_IN_FLIGHT = 32;

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
  /** How many parts each ring slot holds in etcd (counted once per slot by this writer, then known). */
  private readonly slotParts = new Map<number, number>();
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
      /** Bytes of history per ring value (default HISTORY_PART_BYTES; tests make it small). */
      readonly historyPartBytes?: number;
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
        const slot = this.groupCommits++ % HISTORY_RING;
        const held = await this.heldParts(slot);
        const historyPuts = historyOps(this.options.prefix, slot, history.map((h) => withoutDerivableJson(h, rowOf)), held ?? 0, this.options.historyPartBytes);
        // Not counted (etcd did not answer): counted again next time round, stale parts included.
        if (held !== undefined) this.slotParts.set(slot, historyPuts.filter((op) => op.op === 'put').length);
        ops.push(...historyPuts);
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

  /**
   * How many parts ring slot `slot` holds in etcd: known, else counted; undefined when etcd did not
   * answer the count (its stale parts then wait for the next time round: a count must not stop a
   * leader whose writes would have been retried).
   */
  private async heldParts(slot: number): Promise<number | undefined> {
    const known = this.slotParts.get(slot);
    if (known !== undefined) return known;
    try {
      return (await this.kv.count(historySlotPrefix(this.options.prefix, slot))).count;
    } catch (error) {
      this.logger.warn({ err: error, slot }, 'counting a history slot in etcd failed; its older parts stay until the ring comes round again');
      return undefined;
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
