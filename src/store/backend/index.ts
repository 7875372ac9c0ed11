export type {
  Compare,
  KeyValue,
  KvBackend,
  KvEvent,
  KvLease,
  KvWatchListener,
  RangeOptions,
  RangeResult,
  TxnOp,
  TxnOpResponse,
  TxnRequest,
  TxnResult,
  WatchOptions,
  WriteResult,
} from './kv-backend.js';
export { nextKey } from './kv-backend.js';
export type { SqliteKvOptions } from './sqlite-kv.js';
export { SqliteKv } from './sqlite-kv.js';
export type { EtcdKvOptions } from './etcd-kv.js';
export { EtcdKv } from './etcd-kv.js';
export type { EtcdStoreUrl, SqliteStoreUrl, StoreUrl } from './store-url.js';
export { parseStoreUrl } from './store-url.js';
export { openKvBackend } from './open-kv-backend.js';
