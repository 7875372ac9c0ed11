import type { Disposable, Logger } from '../lib/index.js';
import { silentLogger } from '../lib/index.js';
import type { Compare, KvBackend, KvLease } from './backend/index.js';

/*
 * Leader election on the store backend, as etcd's concurrency.Election and Kubernetes' leader election
 * do it: one key, put only while absent and attached to the candidate's lease. The holder leads while
 * its lease is kept alive; when it dies the lease expires after its TTL, the key is deleted, and the
 * candidates watching it try again. Every write of the leader carries the `fence` compare, so a
 * deposed leader's write fails instead of landing.
 */

/** Who leads: the value the winner put (its id and the URL its API answers at). */
export interface LeaderRecord {
  readonly id: string;
  readonly url: string;
}

export interface ElectionOptions {
  /** The election key, e.g. `/berth/leader`. */
  readonly key: string;
  readonly self: LeaderRecord;
  /** Lease TTL in seconds (etcd's minimum is 2); a dead leader is replaced within it. */
  readonly ttlSeconds: number;
  readonly logger?: Logger;
}

export class LeaderElection {
  private lease: KvLease | undefined;
  private leading = false;
  private readonly stopped = new AbortController();
  private readonly logger: Logger;
  private leader: LeaderRecord | undefined;
  private observing: Disposable | undefined;

  constructor(
    private readonly kv: KvBackend,
    private readonly options: ElectionOptions,
  ) {
    this.logger = options.logger ?? silentLogger;
  }

  /** The current leader as last seen (undefined between a leader's end and the next one's start). */
  current(): LeaderRecord | undefined {
    return this.leader;
  }

  /** Keeps `current()` up to date from the key (call once). */
  async observe(): Promise<void> {
    const kv = await this.kv.get(this.options.key);
    this.leader = kv ? parseRecord(kv.value) : undefined;
    const revision = await this.kv.revision();
    this.observing = this.kv.watch(this.options.key, revision, {
      events: (events) => {
        for (const e of events) if (e.kv.key === this.options.key) this.leader = e.type === 'put' ? parseRecord(e.kv.value) : undefined;
      },
      compacted: () => void this.observe(),
    });
  }

  /**
   * Waits until this server leads. Resolves with the fence its writes must carry.
   * @param onLost  called once if leadership ends later (the lease could not be kept alive)
   * @throws Error when stop() was called first
   */
  async campaign(onLost: (error: Error) => void): Promise<Compare> {
    const value = JSON.stringify(this.options.self);
    for (let delay = 100; ; ) {
      if (this.stopped.signal.aborted) throw new Error('the election was stopped');
      let result;
      let lease: KvLease;
      try {
        lease = await this.ensureLease(onLost);
        result = await this.kv.txn({
          compare: [{ key: this.options.key, absent: true }],
          success: [{ op: 'put', key: this.options.key, value, lease: lease.id }],
          failure: [{ op: 'get', key: this.options.key }],
        });
        delay = 100;
      } catch (error) {
        // etcd unreachable for a while: a candidate keeps trying.
        this.logger.warn({ err: error }, 'campaigning failed; trying again');
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 2000);
        continue;
      }
      if (result.succeeded) {
        this.leading = true;
        this.leader = this.options.self;
        this.logger.info({ revision: result.revision }, 'this server leads');
        return { key: this.options.key, createRevision: result.revision };
      }
      const held = result.responses[0];
      const holder = held && held.op === 'get' ? held.kv : undefined;
      if (holder && holder.lease === lease.id) {
        // Ours from an earlier campaign of this lease (a retried call): lead with it.
        this.leading = true;
        return { key: this.options.key, createRevision: holder.createRevision };
      }
      this.leader = holder ? parseRecord(holder.value) : undefined;
      await this.keyGone(result.revision);
    }
  }

  /** The lease campaigns are made with; a lost one is replaced while not leading, and ends the lead otherwise. */
  private async ensureLease(onLost: (error: Error) => void): Promise<KvLease> {
    if (this.lease) return this.lease;
    const lease = await this.kv.grantLease(this.options.ttlSeconds);
    this.lease = lease;
    lease.onLost((error) => {
      if (this.lease === lease) this.lease = undefined;
      if (this.leading) onLost(error);
    });
    return lease;
  }

  /** Resigns (revokes the lease: the key goes at once) and stops observing. */
  async stop(): Promise<void> {
    this.stopped.abort();
    void this.observing?.dispose();
    await this.lease?.revoke().catch(() => undefined);
  }

  /** Resolves when the key is deleted after `revision`, when stopped, or after a TTL (then the caller tries again). */
  private keyGone(revision: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        void watch.dispose();
        this.stopped.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, this.options.ttlSeconds * 1000);
      const watch = this.kv.watch(this.options.key, revision, {
        events: (events) => {
          if (events.some((e) => e.kv.key === this.options.key && e.type === 'delete')) done();
        },
        compacted: done,
      });
      this.stopped.signal.addEventListener('abort', done, { once: true });
    });
  }
}

function parseRecord(value: string): LeaderRecord | undefined {
  try {
    const parsed = JSON.parse(value) as Partial<LeaderRecord>;
    return typeof parsed.id === 'string' && typeof parsed.url === 'string' ? { id: parsed.id, url: parsed.url } : undefined;
  } catch {
    return undefined;
  }
}
