import type { IEvent, IKeyValue, IWatchRequest, IWatchResponse, Namespace } from 'etcd3';
import type { Disposable } from '../../lib/index.js';
import type { KeyValue, KvEvent, KvWatchListener } from './kv-backend.js';

type WatchStream = Awaited<ReturnType<Namespace['watchClient']['watch']>>;

/** Reconnect backoff, ms: doubles from the first to the last (etcd3's watch backoff is up to 30 s; ours is shorter, members come back fast). */
const BACKOFF_MS = [50, 100, 200, 400, 800, 1600, 2000];

/**
 * One etcd watch on its own gRPC watch stream, with resume done here rather than by etcd3's Watcher:
 * that one moves its start revision to the header revision of each response and of the "created"
 * reply, which can be ahead of the last event delivered (a catching-up watcher's responses carry the
 * store's current revision), so a reconnect mid-replay could skip changes. Here `last` is the revision
 * of the last event handed to the listener, and every (re)connect asks for `last + 1`; an event at or
 * below `last` (a resent response) is dropped. etcd sends a revision's events in one response (no
 * fragmenting asked for), so a revision is never half-delivered.
 *
 * A compaction answer (compact_revision set) ends the watch with one `compacted` call. A lost stream
 * (member killed, network) is reported to `error` and reopened with backoff, through the client's
 * pool, which moves to another member.
 */
export class EtcdWatch implements Disposable {
  private last: number;
  private stream: WatchStream | undefined;
  private attempt = 0;
  private disposed = false;
  private timer: NodeJS.Timeout | undefined;
  private createTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: Namespace,
    private readonly range: { readonly key: Buffer; readonly rangeEnd: Buffer; readonly prevKv: boolean },
    afterRevision: number,
    private readonly listener: KvWatchListener,
    /** How long to wait for etcd's "created" reply before trying again (a member that hangs), ms. */
    private readonly createTimeoutMs = 5000,
  ) {
    this.last = afterRevision;
    void this.connect();
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer) clearTimeout(this.timer);
    this.closeStream();
  }

  private async connect(): Promise<void> {
    if (this.disposed) return;
    let stream: WatchStream;
    try {
      stream = await this.client.watchClient.watch();
    } catch (error) {
      this.retry(error);
      return;
    }
    this.stream = stream;
    if (this.disposed) {
      this.closeStream(); // half-closed, then cancelled (see closeStream)
      return;
    }
    let failed = false;
    const fail = (error: unknown): void => {
      if (failed || this.stream !== stream) return;
      failed = true;
      this.closeStream();
      this.retry(error);
    };
    stream.on('data', (res: IWatchResponse) => {
      if (this.stream === stream) this.handle(res, fail);
    });
    stream.on('error', fail);
    stream.on('end', () => fail(new Error('the etcd watch stream ended')));
    const request: IWatchRequest = {
      create_request: { key: this.range.key, range_end: this.range.rangeEnd, start_revision: this.last + 1, prev_kv: this.range.prevKv },
    };
    stream.write(request);
    this.createTimer = setTimeout(() => fail(new Error(`no answer to the watch request within ${this.createTimeoutMs} ms`)), this.createTimeoutMs);
  }

  private handle(res: IWatchResponse, fail: (error: unknown) => void): void {
    if (this.disposed) return;
    const compactRevision = Number(res.compact_revision ?? 0);
    if (compactRevision > 0) {
      this.dispose();
      this.listener.compacted(compactRevision);
      return;
    }
    if (res.canceled) {
      fail(new Error(`etcd canceled the watch: ${res.cancel_reason || 'no reason given'}`));
      return;
    }
    if (res.created) {
      this.attempt = 0;
      clearTimeout(this.createTimer);
    }
    const fresh = (res.events ?? []).filter((e) => Number(e.kv.mod_revision) > this.last);
    if (fresh.length === 0) return;
    const events = fresh.map(toKvEvent);
    this.last = Number((fresh[fresh.length - 1] as IEvent).kv.mod_revision);
    try {
      this.listener.events(events);
    } catch (error) {
      this.report(error);
    }
  }

  private retry(error: unknown): void {
    if (this.disposed) return;
    this.report(error);
    const delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)] as number;
    this.attempt++;
    this.timer = setTimeout(() => void this.connect(), delay);
  }

  private closeStream(): void {
    clearTimeout(this.createTimer);
    const stream = this.stream;
    this.stream = undefined;
    if (!stream) return;
    stream.on('error', () => {}); // a cancelled stream still emits CANCELLED
    try {
      // Half-closed first: etcd3 reports an error of a stream that is still writable to its connection
      // pool as the host failing (rpc.js: `stream.writable && markFailed`), which resets the channel —
      // every other watch and the leases' keepalive streams — and counts toward its circuit breaker (3
      // in a row: no call at all for 5 s, longer than a 5 s lease). A follower's campaign ends a watch
      // every lease period, and taking the lead ends two more: the new leader lost its leases and
      // stopped within seconds of taking over.
      stream.end();
    } catch {}
    try {
      stream.cancel();
    } catch {}
  }

  private report(error: unknown): void {
    try {
      this.listener.error?.(error instanceof Error ? error : new Error(String(error)));
    } catch {}
  }
}

/** etcd's mvccpb.KeyValue (int64 as decimal strings) as ours. */
export function fromEtcdKv(kv: IKeyValue): KeyValue {
  const lease = kv.lease && kv.lease !== '0' ? { lease: String(kv.lease) } : {};
  return Object.freeze({
    key: kv.key.toString('utf8'),
    value: kv.value ? kv.value.toString('utf8') : '',
    createRevision: Number(kv.create_revision ?? 0),
    modRevision: Number(kv.mod_revision ?? 0),
    version: Number(kv.version ?? 0),
    ...lease,
  });
}

function toKvEvent(e: IEvent): KvEvent {
  const type = e.type === 'Delete' ? 'delete' : 'put';
  return Object.freeze({ type, kv: fromEtcdKv(e.kv), ...(e.prev_kv ? { prevKv: fromEtcdKv(e.prev_kv) } : {}) });
}
