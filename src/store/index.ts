export type {
  ControllerWrites,
  EventFilter,
  InstanceFilter,
  NewInstance,
  ServiceIntentChange,
  Store,
  StoredToken,
  WatchEvent,
  WatchListener,
  WriteOptions,
} from './store.js';
export type { SqliteStoreOptions } from './sqlite-store-options.js';
export type { StatusWriteResult } from './status-writer.js';
export { SqliteStore, openSqliteStore } from './sqlite-store.js';
export { REMOVED_BY_USER } from './service-intent-writer.js';
export type { NodeLiveness } from './node-liveness.js';
export { MemoryNodeLiveness } from './node-liveness.js';
export { recordHeartbeat } from './node-heartbeat.js';
export type { RowChange } from './row-capture.js';
export { StoreReplica, ReplicaWriter, ReplicationLostError, startCompaction } from './store-replica.js';
export type { LeaderRecord, ElectionOptions } from './leader-election.js';
export { LeaderElection } from './leader-election.js';
export type { Compare, KvBackend, StoreUrl } from './backend/index.js';
export { openKvBackend, parseStoreUrl } from './backend/index.js';
