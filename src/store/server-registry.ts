import type { Disposable, Logger } from '../lib/index.js';
import { silentLogger } from '../lib/index.js';
import type { KvBackend, KvLease } from './backend/index.js';

/*
 * The control-plane servers of one cluster, as etcd knows them: each server puts its record under
 * `<prefix>servers/<id>`, attached to a lease of its own, and every server watches that prefix. A server
 * that stops revokes its lease (its key goes at once); one that dies is gone when its lease runs out
 * (the leader lease's TTL). Kubernetes' apiservers register likewise (the `kube-apiserver-<id>` Leases
 * of kube-system), and Swarm lists its managers in `docker info` (Swarm.Managers, RemoteManagers): the
 * Docker face and GET /v1/version read this list.
 */

/** One server: its election id, the URL its API answers at, when it registered, its berth version. */
export interface ServerRecord {
  readonly id: string;
  readonly url: string;
  readonly startedAt: string;
  readonly version: string;
}

export interface ServerRegistryOptions {
  /** The key prefix, e.g. `/berth/servers/`. */
  readonly prefix: string;
  readonly self: ServerRecord;
  /** Lease TTL in seconds (the leader lease's: a dead server leaves the list within it). */
  readonly ttlSeconds: number;
  readonly logger?: Logger;
}

/** Retry delays (ms) of a registration etcd refused or did not answer: 250 ms doubling up to 5 s. */
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5000;

export class ServerRegistry {
  private readonly servers = new Map<string, ServerRecord>();
  private readonly logger: Logger;
  private lease: KvLease | undefined;
  private watching: Disposable | undefined;
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly kv: KvBackend,
    private readonly options: ServerRegistryOptions,
  ) {
    this.logger = options.logger ?? silentLogger;
  }

  /**
   * Registers this server (retried in the background while etcd does not answer; again with a new lease
   * if the lease is lost) and keeps `list()` up to date from etcd. Resolves after the first list.
   */
  async start(): Promise<void> {
    await this.observe();
    void this.register(RETRY_MIN_MS);
  }

  /** Every registered server, sorted by id (this one included once its registration is in etcd). */
  list(): ServerRecord[] {
    return [...this.servers.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Revokes the lease (this server's key goes at once) and stops watching. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    void this.watching?.dispose();
    await this.lease?.revoke().catch(() => undefined);
  }

  private async observe(): Promise<void> {
    const { prefix } = this.options;
    const page = await this.kv.range(prefix);
    this.servers.clear();
    for (const kv of page.items) {
      const record = parseServerRecord(kv.value);
      if (record) this.servers.set(kv.key.slice(prefix.length), record);
    }
    void this.watching?.dispose();
    this.watching = this.kv.watch(prefix, page.revision, {
      events: (events) => {
        for (const e of events) {
          const id = e.kv.key.slice(prefix.length);
          const record = e.type === 'put' ? parseServerRecord(e.kv.value) : undefined;
          if (record) this.servers.set(id, record);
          else this.servers.delete(id);
        }
      },
      // The history the watch needed is gone: list again (Kubernetes' relist on 410).
      compacted: () => void this.observe().catch((error: unknown) => this.logger.warn({ err: error }, 'listing the servers again failed')),
    });
  }

  private async register(delayMs: number): Promise<void> {
    if (this.stopped) return;
    const { prefix, self, ttlSeconds } = this.options;
    try {
      const lease = await this.kv.grantLease(ttlSeconds);
      if (this.stopped) return void (await lease.revoke().catch(() => undefined));
      this.lease = lease;
      lease.onLost((error) => {
        if (this.lease !== lease || this.stopped) return;
        this.lease = undefined;
        this.logger.warn({ err: error }, 'the server registration lease was lost; registering again');
        void this.register(RETRY_MIN_MS);
      });
      await this.kv.put(`${prefix}${self.id}`, JSON.stringify(self), { lease: lease.id });
    } catch (error) {
      const lease = this.lease;
      this.lease = undefined;
      void lease?.revoke().catch(() => undefined); // a lease whose put failed: a new one comes with the retry
      if (this.stopped) return;
      this.logger.warn({ err: error }, 'registering this server failed; trying again');
      this.retry = setTimeout(() => void this.register(Math.min(delayMs * 2, RETRY_MAX_MS)), delayMs);
    }
  }
}

/** A record as stored, or undefined when it is not one (a newer berth's or a hand-written value). */
export function parseServerRecord(value: string): ServerRecord | undefined {
  try {
    const v = JSON.parse(value) as Partial<ServerRecord>;
    if (typeof v.id !== 'string' || typeof v.url !== 'string') return undefined;
    return { id: v.id, url: v.url, startedAt: typeof v.startedAt === 'string' ? v.startedAt : '', version: typeof v.version === 'string' ? v.version : '' };
  } catch {
    return undefined;
  }
}
