import type { ICompare, IOptions, IPutRequest, IRequestOp, IResponseOp, Lease } from 'etcd3';
import { Etcd3 } from 'etcd3';
import type { Disposable } from '../../lib/index.js';
import { hasCode } from '../../lib/index.js';
import { RequestInvalidError } from '../../model/index.js';
import { mapEtcdError } from './etcd-errors.js';
import { EtcdWatch, fromEtcdKv } from './etcd-watch.js';
import type { Compare, KeyValue, KvBackend, KvLease, KvWatchListener, RangeOptions, RangeResult, TxnOp, TxnOpResponse, TxnRequest, TxnResult, WatchOptions, WriteResult } from './kv-backend.js';
import { prefixEnd } from './kv-backend.js';
import { checkTxnOps, deleteWith, putWith } from './kv-txn.js';

export interface EtcdKvOptions {
  /** Client URLs: `http://h1:2379` or `https://…` (TLS when `tls` is given). */
  readonly endpoints: readonly string[];
  /** PEM contents (etcdctl's --cacert, --cert, --key). */
  readonly tls?: { readonly ca?: Buffer; readonly cert?: Buffer; readonly key?: Buffer };
  /** etcd's user/password auth (etcdctl's --user). */
  readonly auth?: { readonly user: string; readonly password: string };
  /** How long to wait for a connection, ms (etcdctl's --dial-timeout, default 2 s there; 5 s here). */
  readonly dialTimeoutMs?: number;
  /** Deadline of one unary call, ms (etcdctl's --command-timeout); default 5000. */
  readonly requestTimeoutMs?: number;
  /**
   * HTTP/2 keepalive pings, ms: `timeMs` between pings, `timeoutMs` to wait for the answer before the
   * connection counts as dead and its watch streams reconnect elsewhere — how a member that hangs or is
   * cut off is noticed (a watch on it would otherwise stall without an error). Default 30 000 / 10 000,
   * as Kubernetes' etcd client (apiserver storagebackend/factory/etcd3.go keepaliveTime/keepaliveTimeout).
   * etcd refuses pings more often than its --grpc-keepalive-min-time (5 s by default).
   */
  readonly keepalive?: { readonly timeMs: number; readonly timeoutMs: number };
}

/**
 * The etcd backend: KvBackend over the etcd3 client (etcd's gRPC API, v3). Txn maps to etcd's Txn one
 * to one, range to Range with a prefix range_end, watch to a Watch stream with start_revision (see
 * EtcdWatch for the resume rule), leases to etcd3's Lease (keepalive every ttl/3 on its own stream).
 * Every error leaves as a CodedError (etcd-errors.ts): STORE_UNAVAILABLE when no member answers.
 */
export class EtcdKv implements KvBackend {
  private readonly client: Etcd3;
  private readonly endpoints: readonly string[];
  private readonly requestTimeoutMs: number;
  private readonly watches = new Set<EtcdWatch>();
  private readonly leases = new Set<Lease>();
  private compacted = 0;

  constructor(options: EtcdKvOptions) {
    if (options.endpoints.length === 0) throw new RequestInvalidError('etcd: at least one endpoint is needed');
    this.endpoints = options.endpoints;
    const requestTimeoutMs = options.requestTimeoutMs ?? 5000;
    this.requestTimeoutMs = requestTimeoutMs;
    const config: IOptions = {
      hosts: [...options.endpoints],
      dialTimeout: options.dialTimeoutMs ?? 5000,
      // As etcd's clientv3 (MaxCallRecvMsgSize = math.MaxInt32): a range answer may pass gRPC's 4 MiB default.
      grpcOptions: {
        'grpc.max_receive_message_length': 2 ** 31 - 1,
        'grpc.keepalive_time_ms': options.keepalive?.timeMs ?? 30_000,
        'grpc.keepalive_timeout_ms': options.keepalive?.timeoutMs ?? 10_000,
        // Pings only while a call is open (a watch, a lease keepalive), as etcd's clientv3
        // (PermitWithoutStream false): etcd's server refuses pings on an idle connection with GOAWAY
        // "too_many_pings", which dropped a server's connection 30 s after start (an idle channel's first ping).
        'grpc.keepalive_permit_without_calls': 0,
      },
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + requestTimeoutMs }),
      ...(options.tls ? { credentials: { rootCertificate: options.tls.ca ?? Buffer.alloc(0), ...(options.tls.key ? { privateKey: options.tls.key } : {}), ...(options.tls.cert ? { certChain: options.tls.cert } : {}) } } : {}),
      ...(options.auth ? { auth: { username: options.auth.user, password: options.auth.password } } : {}),
    };
    this.client = new Etcd3(config);
  }

  async get(key: string): Promise<KeyValue | undefined> {
    const res = await this.call(() => this.client.kv.range({ key: Buffer.from(key, 'utf8') }));
    const kv = res.kvs[0];
    return kv ? fromEtcdKv(kv) : undefined;
  }

  async range(prefix: string, options: RangeOptions = {}): Promise<RangeResult> {
    const { key, rangeEnd } = prefixRange(prefix);
    const from = options.fromKey !== undefined && Buffer.compare(Buffer.from(options.fromKey, 'utf8'), key) > 0 ? Buffer.from(options.fromKey, 'utf8') : key;
    const revision = options.revision;
    if (revision !== undefined && (!Number.isInteger(revision) || revision < 1)) throw new RequestInvalidError(`revision: must be an integer >= 1, got ${revision}`);
    const res = await this.call(
      () => this.client.kv.range({ key: from, range_end: rangeEnd, ...(options.limit ? { limit: options.limit } : {}), ...(revision !== undefined ? { revision } : {}) }),
      revision,
    );
    return { items: res.kvs.map(fromEtcdKv), revision: revision ?? Number(res.header.revision), more: res.more };
  }

  async count(prefix: string): Promise<{ count: number; revision: number }> {
    const { key, rangeEnd } = prefixRange(prefix);
    const res = await this.call(() => this.client.kv.range({ key, range_end: rangeEnd, count_only: true }));
    return { count: Number(res.count), revision: Number(res.header.revision) };
  }

  async revision(): Promise<number> {
    const res = await this.call(() => this.client.kv.range({ key: Buffer.from([0]), limit: 1, count_only: true }));
    return Number(res.header.revision);
  }

  async txn(request: TxnRequest): Promise<TxnResult> {
    checkTxnOps(request.success);
    checkTxnOps(request.failure ?? []);
    const res = await this.call(() =>
      this.client.kv.txn({ compare: request.compare.map(toEtcdCompare), success: request.success.map(toEtcdOp), failure: (request.failure ?? []).map(toEtcdOp) }),
    );
    const ops = res.succeeded ? request.success : (request.failure ?? []);
    const revision = Number(res.header.revision);
    return { succeeded: res.succeeded, revision, responses: ops.map((op, i) => fromEtcdResponse(op, res.responses[i])) };
  }

  async put(key: string, value: string, options: { ifModRevision?: number; lease?: string } = {}): Promise<WriteResult> {
    if (options.ifModRevision !== undefined) return putWith(this, key, value, options);
    // Unconditional: etcd's plain Put, as a raw client would send it (a Txn costs the server more).
    const request = toEtcdOp({ op: 'put', key, value, ...(options.lease !== undefined ? { lease: options.lease } : {}) }).request_put as IPutRequest;
    const res = await this.call(() => this.client.kv.put(request));
    return { ok: true, revision: Number(res.header.revision) };
  }

  async delete(key: string, options: { ifModRevision?: number } = {}): Promise<WriteResult> {
    return deleteWith(this, key, options);
  }

  watch(prefix: string, afterRevision: number, listener: KvWatchListener, options: WatchOptions = {}): Disposable {
    if (!Number.isInteger(afterRevision) || afterRevision < 0) throw new RequestInvalidError(`afterRevision: must be an integer >= 0, got ${afterRevision}`);
    const forward: KvWatchListener = {
      events: (events) => listener.events(events),
      compacted: (rev) => {
        this.watches.delete(watch);
        this.compacted = Math.max(this.compacted, rev);
        listener.compacted(rev);
      },
      error: (error) => listener.error?.(mapEtcdError(error, { endpoints: this.endpoints })),
    };
    const watch = new EtcdWatch(this.client, { ...prefixRange(prefix), prevKv: options.prevKv === true }, afterRevision, forward, this.requestTimeoutMs);
    this.watches.add(watch);
    return {
      dispose: () => {
        this.watches.delete(watch);
        watch.dispose();
      },
    };
  }

  async grantLease(ttlSeconds: number): Promise<KvLease> {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) throw new RequestInvalidError(`ttlSeconds: must be an integer >= 1, got ${ttlSeconds}`);
    const lease = this.client.lease(ttlSeconds, { autoKeepAlive: true });
    const id = await this.call(() => lease.grant()).catch(async (error: unknown) => {
      lease.release();
      throw error;
    });
    this.leases.add(lease);
    const lostListeners = new Set<(error: Error) => void>();
    lease.on('lost', (error) => {
      this.leases.delete(lease);
      const mapped = new Error(`lease ${id} was lost: ${error.message}`, { cause: error });
      for (const l of lostListeners) l(mapped);
    });
    return {
      id,
      ttlSeconds,
      revoke: async () => {
        this.leases.delete(lease);
        // etcd3's revoke() also works after release() (which marks the lease revoked() locally), and
        // ignores a lease that is already gone (expired, revoked elsewhere): revoke stays idempotent.
        try {
          await this.call(() => lease.revoke());
        } catch (error) {
          if (!hasCode(error, 'REQUEST_INVALID')) throw error;
        }
      },
      release: () => {
        this.leases.delete(lease);
        lease.release();
      },
      onLost: (listener) => {
        lostListeners.add(listener);
        return { dispose: () => void lostListeners.delete(listener) };
      },
    };
  }

  async compact(revision: number): Promise<void> {
    if (!Number.isInteger(revision) || revision < 1) throw new RequestInvalidError(`compact: revision must be an integer >= 1, got ${revision}`);
    try {
      await this.call(() => this.client.kv.compact({ revision, physical: true }), revision);
    } catch (error) {
      if ((error as { code?: string }).code !== 'REVISION_COMPACTED') throw error; // already compacted there: a no-op
    }
    this.compacted = Math.max(this.compacted, revision);
  }

  async close(): Promise<void> {
    for (const w of this.watches) w.dispose();
    this.watches.clear();
    for (const l of this.leases) l.release();
    this.leases.clear();
    this.client.close();
  }

  /** Runs one etcd call and maps its error (etcd-errors.ts); `revision` names the revision it read at. */
  private async call<T>(fn: () => Promise<T>, revision?: number): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw mapEtcdError(error, { endpoints: this.endpoints, compacted: this.compacted, ...(revision !== undefined ? { revision } : {}) });
    }
  }
}

/** The etcd [key, range_end) of a prefix; '' is every key (key "\0", range_end "\0", as etcdctl --from-key ''). */
function prefixRange(prefix: string): { key: Buffer; rangeEnd: Buffer } {
  return { key: prefix === '' ? Buffer.from([0]) : Buffer.from(prefix, 'utf8'), rangeEnd: prefixEnd(prefix) };
}

function toEtcdCompare(c: Compare): ICompare {
  const key = Buffer.from(c.key, 'utf8');
  if ('exists' in c) return { key, target: 'Create', result: 'Greater', create_revision: 0 };
  if ('absent' in c) return { key, target: 'Create', result: 'Equal', create_revision: 0 };
  if ('modRevision' in c) return { key, target: 'Mod', result: 'Equal', mod_revision: c.modRevision };
  if ('createRevision' in c) return { key, target: 'Create', result: 'Equal', create_revision: c.createRevision };
  if ('version' in c) return { key, target: 'Version', result: 'Equal', version: c.version };
  return { key, target: 'Value', result: 'Equal', value: Buffer.from(c.value, 'utf8') };
}

function toEtcdOp(op: TxnOp): IRequestOp {
  switch (op.op) {
    case 'put':
      return { request_put: { key: Buffer.from(op.key, 'utf8'), value: Buffer.from(op.value, 'utf8'), ...(op.lease !== undefined ? { lease: op.lease } : {}) } };
    case 'delete':
      return { request_delete_range: { key: Buffer.from(op.key, 'utf8'), prev_kv: true } };
    case 'deletePrefix': {
      const { key, rangeEnd } = prefixRange(op.prefix);
      return { request_delete_range: { key, range_end: rangeEnd, prev_kv: true } };
    }
    case 'get':
      return { request_range: { key: Buffer.from(op.key, 'utf8') } };
  }
}

/** etcd's ResponseOp as ours. */
function fromEtcdResponse(op: TxnOp, res: IResponseOp | undefined): TxnOpResponse {
  switch (op.op) {
    case 'put':
      return { op: 'put' };
    case 'delete':
    case 'deletePrefix':
      return { op: 'delete', deleted: (res?.response_delete_range?.prev_kvs ?? []).map(fromEtcdKv) };
    case 'get': {
      const kv = res?.response_range?.kvs[0];
      return { op: 'get', kv: kv ? fromEtcdKv(kv) : undefined };
    }
  }
}
