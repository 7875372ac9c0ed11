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
  WatchOptions,
  WriteOptions,
} from './store.js';
export type { SqliteStoreOptions, StatusWriteResult } from './sqlite-store.js';
export type { SecretRewrite } from './secret-table.js';
export { SqliteStore, openSqliteStore, REMOVED_BY_USER } from './sqlite-store.js';
export { watchEventJson } from './change-log.js';
export type { NodeLiveness } from './node-liveness.js';
export { MemoryNodeLiveness } from './node-liveness.js';
export { recordHeartbeat } from './node-heartbeat.js';
export type { RowChange } from './row-capture.js';
export { StoreReplica } from './store-replica.js';
export { ReplicaWriter, ReplicationLostError, startCompaction } from './replica-writer.js';
export type { LeaderRecord, ElectionOptions } from './leader-election.js';
export { LeaderElection } from './leader-election.js';
export type { ServerRecord, ServerRegistryOptions } from './server-registry.js';
export { ServerRegistry, parseServerRecord } from './server-registry.js';
export type { Compare, KvBackend, StoreUrl } from './backend/index.js';
export { openKvBackend, parseStoreUrl } from './backend/index.js';
