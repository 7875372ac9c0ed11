import type { Disposable, Logger } from '../lib/index.js';
import { silentLogger } from '../lib/index.js';
import type { KvBackend, KvEvent } from './backend/index.js';
import { nextKey } from './backend/index.js';
import { CHANGES_TABLE } from './change-rows.js';
import { historyRowsOf } from './history-ring.js';
import type { ReplicaKeys } from './replica-keys.js';
import { parseRowKey, replicaKeys, rowKey } from './replica-keys.js';
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
