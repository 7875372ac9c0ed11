import { randomUUID } from 'node:crypto';
import type { AtRestCipher, Clock, Logger } from '../lib/index.js';
import { silentLogger, systemClock } from '../lib/index.js';

/** The options of `openSqliteStore`; every one has a default (docs/store.md). */
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

/**
 * `options` with every default filled in, once, at open: the system clock, a silent logger, random
 * UUIDs, 10,000 revisions of history and 1,000 events per service (each at least 1), a 5,000 ms busy
 * timeout, and nodes' listeners on 127.0.0.1.
 */
export function resolveSqliteStoreOptions(options: SqliteStoreOptions): Required<Omit<SqliteStoreOptions, 'secretCipher'>> & Pick<SqliteStoreOptions, 'secretCipher'> {
  return {
    clock: options.clock ?? systemClock,
    logger: options.logger ?? silentLogger,
    newId: options.newId ?? randomUUID,
    historyRevisions: Math.max(1, options.historyRevisions ?? 10_000),
    eventsPerService: Math.max(1, options.eventsPerService ?? 1000),
    busyTimeoutMs: options.busyTimeoutMs ?? 5000,
    nodeAddresses: options.nodeAddresses ?? ['127.0.0.1'],
    ...(options.secretCipher ? { secretCipher: options.secretCipher } : {}),
  };
}
