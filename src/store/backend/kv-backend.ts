/**
 * The store's backend contract: a versioned key-value store with transactions, watch from a revision and
 * leases — etcd's KV/Watch/Lease API (etcd api/etcdserverpb/rpc.proto) in the shape Kubernetes'
 * storage.Interface (k8s.io/apiserver/pkg/storage/interfaces.go) puts over it. Two backends implement it:
 * SqliteKv (embedded, one process) and EtcdKv (the etcd3 client). Both pass conformance.ts.
 *
 * The backend is kind-agnostic: keys are strings (berth uses `/berth/<kind>/<...>` paths), values are
 * strings (JSON). The domain rules (spec history, removal guard, allocation tables) live above it.
 *
 * Revisions (as etcd's mvcc): one store-wide `revision`, starting at 1 for an empty store (etcd's
 * initial revision) and raised by exactly one by every transaction that writes something; all puts and
 * deletes of one transaction share that revision. Every stored key carries `createRevision` (the
 * revision that created it, since its last delete), `modRevision` (its last write) and `version`
 * (writes since creation, 1 after the first put).
 */
import type { Disposable } from '../../lib/index.js';

/** One stored key, as etcd's mvccpb.KeyValue. Revisions are integers (etcd's int64, < 2^53 here). */
export interface KeyValue {
  readonly key: string;
  readonly value: string;
  readonly createRevision: number;
  readonly modRevision: number;
  /** Writes since creation: 1 after the first put; a delete resets the key. */
  readonly version: number;
  /** The lease the key is attached to, or undefined (etcd's lease 0). */
  readonly lease?: string;
}

/**
 * A watched change. For `delete`, `kv` is etcd's tombstone: the key, `modRevision` = the deleting
 * revision, `value` '' and createRevision/version 0. `prevKv` is the key before the change (absent
 * for the first put of a key), given only to a watch that asked for it (`{ prevKv: true }`: etcd's
 * prev_kv, which costs etcd a read of the old version per event).
 */
export interface KvEvent {
  readonly type: 'put' | 'delete';
  readonly kv: KeyValue;
  readonly prevKv?: KeyValue;
}

/**
 * A comparison of a transaction (etcd's Compare, with `=` only — what compare-and-set needs).
 * `modRevision: 0` / `createRevision: 0` / `version: 0` hold for an absent key, as in etcd;
 * `exists` / `absent` are shorthands for `createRevision > 0` / `createRevision = 0`.
 */
export type Compare =
  | { readonly key: string; readonly modRevision: number }
  | { readonly key: string; readonly createRevision: number }
  | { readonly key: string; readonly version: number }
  | { readonly key: string; readonly value: string }
  | { readonly key: string; readonly exists: true }
  | { readonly key: string; readonly absent: true };

/** An operation of a transaction. A key may appear in at most one put/delete of a branch (etcd's rule). */
export type TxnOp =
  | { readonly op: 'put'; readonly key: string; readonly value: string; readonly lease?: string }
  | { readonly op: 'delete'; readonly key: string }
  | { readonly op: 'deletePrefix'; readonly prefix: string }
  | { readonly op: 'get'; readonly key: string };

/**
 * What one op returned: put → nothing more (the key's modRevision is the txn's revision; etcd would
 * need prev_kv, a read of the old version, to tell createRevision and version — ask with a `get` op);
 * delete/deletePrefix → the keys removed (their last state); get → the key or undefined.
 */
export type TxnOpResponse =
  | { readonly op: 'put' }
  | { readonly op: 'delete'; readonly deleted: readonly KeyValue[] }
  | { readonly op: 'get'; readonly kv: KeyValue | undefined };

export interface TxnRequest {
  readonly compare: readonly Compare[];
  readonly success: readonly TxnOp[];
  readonly failure?: readonly TxnOp[];
}

/**
 * `succeeded`: every compare held (the success branch ran), else the failure branch ran. `revision`:
 * the store revision after the transaction (the new one if it wrote, else the current one).
 */
export interface TxnResult {
  readonly succeeded: boolean;
  readonly revision: number;
  readonly responses: readonly TxnOpResponse[];
}

/**
 * The outcome of a put/delete. `ok: true`: `revision` is the key's new modRevision (a put) or the
 * deleting revision (for a delete of an absent key, the current revision). A failed compare is a result,
 * not an error: the caller knows what the key means and maps `{ ok: false }` to its own
 * VERSION_CONFLICT (409) with `current`'s modRevision (model/errors.ts VersionConflictError) — the
 * backend cannot name the object.
 */
export type WriteResult =
  | { readonly ok: true; readonly revision: number }
  | { readonly ok: false; readonly revision: number; readonly current: KeyValue | undefined };

export interface RangeOptions {
  /** At most this many items (etcd's limit; 0 or undefined = all). */
  readonly limit?: number;
  /** Start at this key (inclusive); the next page's `fromKey` is the last key + '\0' (`nextKey`). */
  readonly fromKey?: string;
  /** Read at this past revision (etcd's range revision): pass the first page's revision to the next pages. */
  readonly revision?: number;
}

export interface RangeResult {
  readonly items: readonly KeyValue[];
  /** The revision this read is consistent at. */
  readonly revision: number;
  /** True when `limit` cut the result; continue from `nextKey(items.at(-1).key)`. */
  readonly more: boolean;
}

/**
 * Receives a watch. `events` gets every change after the watch's revision, in revision order (events of
 * one revision in their transaction's order), each exactly once, across reconnects. `compacted` is called
 * at most once, when the history the watch needs is gone: the watch has ended; resync by
 * `range(prefix)` then `watch(prefix, thatRange.revision)` (Kubernetes' relist on 410 Gone).
 * `error` reports trouble the backend is retrying through (etcd: a lost member); the watch goes on.
 * A listener that throws is reported to `error` and stays subscribed.
 */
export interface KvWatchListener {
  events(events: readonly KvEvent[]): void;
  compacted(compactRevision: number): void;
  error?(error: Error): void;
}

export interface WatchOptions {
  readonly prevKv?: boolean;
}

/**
 * A lease (etcd's): keys put with it vanish, as delete events, when it expires or is revoked. The
 * backend keeps it alive (etcd3's keepalive, every ttl/3) until `revoke` or `release`.
 */
export interface KvLease {
  /** etcd's int64 lease id, as a decimal string. */
  readonly id: string;
  readonly ttlSeconds: number;
  /** Deletes the lease and its keys now. Idempotent. */
  revoke(): Promise<void>;
  /** Stops keeping it alive without revoking: its keys vanish when the TTL runs out (a crash, politely). */
  release(): void;
  /** Called once when the lease could not be kept alive (expired, revoked elsewhere, store unreachable past the TTL). */
  onLost(listener: (error: Error) => void): Disposable;
}

/**
 * The backend. Every method is async and may reject with StoreUnavailableError (STORE_UNAVAILABLE, 503:
 * no member answers; etcd only) and RequestInvalidError (a malformed argument: a negative revision, a
 * txn naming one key twice). `range` and `watch` reject/signal RevisionCompactedError (410) for history
 * older than `compact` kept. A failed compare is never an error (see TxnResult and WriteResult).
 */
export interface KvBackend {
  /** The key, or undefined. */
  get(key: string): Promise<KeyValue | undefined>;
  /** Keys starting with `prefix` ('' = all), sorted by key (bytewise UTF-8, as etcd), at one revision. */
  range(prefix: string, options?: RangeOptions): Promise<RangeResult>;
  /** How many keys start with `prefix`, and the revision counted at (etcd's count_only range). */
  count(prefix: string): Promise<{ readonly count: number; readonly revision: number }>;
  /** All-or-nothing: compares, then one branch, at one new revision if it writes. */
  txn(request: TxnRequest): Promise<TxnResult>;
  /** Puts `value`; with `ifModRevision` only if the key's modRevision is that (0: only if absent). */
  put(key: string, value: string, options?: { readonly ifModRevision?: number; readonly lease?: string }): Promise<WriteResult>;
  /** Deletes the key; with `ifModRevision` only if it matches. `ok: true` also when the key was absent (no revision is used then). */
  delete(key: string, options?: { readonly ifModRevision?: number }): Promise<WriteResult>;
  /** The current store revision. */
  revision(): Promise<number>;
  /**
   * Watches keys starting with `prefix` for changes after `afterRevision` (exclusive, as a Kubernetes
   * resourceVersion; etcd's start_revision = afterRevision + 1). Dispose to stop.
   * `options.prevKv`: give each event the key's previous state (see KvEvent).
   * @throws RequestInvalidError when afterRevision is not an integer >= 0
   */
  watch(prefix: string, afterRevision: number, listener: KvWatchListener, options?: WatchOptions): Disposable;
  /** Grants a lease of `ttlSeconds` (an integer >= 1; etcd raises it to its minimum TTL, 2 s by default). */
  grantLease(ttlSeconds: number): Promise<KvLease>;
  /**
   * Drops the history before `revision` (etcd's compact): a watch that needs older changes gets
   * `compacted(revision)`; a range at an older revision rejects with REVISION_COMPACTED. Compacting at or
   * below an earlier compaction is a no-op.
   * @throws RequestInvalidError when `revision` is above the current revision
   */
  compact(revision: number): Promise<void>;
  /** Ends watches (without a signal), stops lease keepalives (leases are not revoked), closes the connection. */
  close(): Promise<void>;
}

/** The key right after `key` in key order: the next page's `fromKey` after a page ending at `key`. */
export function nextKey(key: string): string {
  return `${key}\0`;
}

/**
 * The end of a prefix range, as etcd's clientv3.GetPrefixRangeEnd: the prefix with its last byte raised
 * by one; for the empty prefix the byte 0, etcd's "every key from the start key on". Works on UTF-8 bytes.
 */
export function prefixEnd(prefix: string): Buffer {
  const bytes = Buffer.from(prefix, 'utf8');
  for (let i = bytes.length - 1; i >= 0; i--) {
    if ((bytes[i] as number) < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1));
      end[i] = (bytes[i] as number) + 1;
      return end;
    }
  }
  return Buffer.from([0]); // etcd's "\0" range_end: every key >= the start
}
