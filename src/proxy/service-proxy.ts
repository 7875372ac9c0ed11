import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { Server } from 'node:net';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { EndpointsSnapshot } from '../model/index.js';
import type { Clock, Logger } from '../lib/index.js';
import { silentLogger, systemClock } from '../lib/index.js';
import type { ListenerSpec, ProxyProtocol, ProxyTable } from './proxy-table.js';
import { buildProxyTable } from './proxy-table.js';
import { RelayEngine } from './relay-engine.js';
import { UdpListener } from './udp-relay.js';
import type { WorkerStatus } from './worker-pool.js';
import { WORKER_ENV, WorkerPool } from './worker-pool.js';

export type ListenerState = 'opening' | 'listening' | 'failed';

/** One listener as `status()` reports it. */
export interface ListenerStatus extends ListenerSpec {
  readonly state: ListenerState;
  /** The listen error's code (EADDRINUSE, EADDRNOTAVAIL, EACCES…) when `state` is 'failed'. */
  readonly error?: string;
}

/**
 * A listener that could not open or failed later (in this process or a worker), an address claimed by
 * two service ports (`ADDRESS_CONFLICT`), or a worker process that died (`WORKER_EXIT`, `listener` is
 * then `worker <pid>` and `serviceKey` ''). Reported, never thrown.
 */
export interface ProxyError {
  readonly listener: string;
  readonly serviceKey: string;
  readonly code: string;
  readonly message: string;
}

export interface ServiceProxyOptions {
  /** Addresses node ports are opened on. Default ['127.0.0.1']. */
  readonly nodeAddresses?: readonly string[];
  /** Which protocols this instance serves. Default both. */
  readonly protocols?: readonly ProxyProtocol[];
  /** Idle time after which a UDP flow is forgotten, ms. Default 30 000. */
  readonly udpIdleTimeoutMs?: number;
  /** Most backends tried for one TCP connection whose connects are refused. Default 3 (capped by the backend count). */
  readonly maxConnectAttempts?: number;
  /**
   * Processes that accept and relay TCP connections, this one included: N ≥ 2 forks N − 1 proxy worker
   * processes that share the listening sockets (ClientIP-affinity listeners and UDP stay in this
   * process). 0 or 1: everything in this process. Default 0 (`defaultProxyWorkers()` is berth server's).
   */
  readonly workers?: number;
  /** A worker that has not started or acknowledged a snapshot after this long is killed and replaced, ms. Default 10 000. */
  readonly workerAckTimeoutMs?: number;
  /** @internal the worker's entry module (tests substitute one that injects faults). */
  readonly workerEntry?: string;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Listen failures, address conflicts, worker deaths; the proxy keeps serving its other listeners. */
  readonly onError?: (error: ProxyError) => void;
}

export type { WorkerStatus } from './worker-pool.js';

/** berth server's default `workers`: one accepting process per core, at most 2 (measured: docs/proxy.md). */
export function defaultProxyWorkers(): number {
  return Math.min(2, availableParallelism());
}

interface TcpListenerEntry {
  readonly protocol: 'TCP';
  spec: ListenerSpec;
  state: ListenerState;
  error?: string;
  readonly server: Server;
  closed: boolean;
  /** Handed to the workers (they accept on it too). */
  shared: boolean;
}

interface UdpListenerEntry {
  readonly protocol: 'UDP';
  spec: ListenerSpec;
  state: ListenerState;
  error?: string;
  readonly udp: UdpListener;
  closed: boolean;
}

type ListenerEntry = TcpListenerEntry | UdpListenerEntry;

const WORKER_ENTRY = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './proxy-worker.ts' : './proxy-worker.js', import.meta.url));

/**
 * The L4 data plane: listens on every service port's VIP, external, load-balancer and node-port
 * addresses and relays TCP connections and UDP flows to ready endpoints, in this process and, with
 * `workers` ≥ 2, in worker processes that accept on the same sockets.
 *
 * Invariants: tables are rebuilt from each whole snapshot; `sync` resolves only once this process and
 * every worker use that snapshot's tables (or a newer one's); a listener whose address is still wanted
 * keeps its socket and connections; connections to a backend that left are never cut (they drain), new
 * ones go elsewhere. Events: 'drained' (backendKey `ip:port`) when a backend's active TCP connections,
 * summed over all processes, reach 0.
 */
export class ServiceProxy extends EventEmitter {
  private readonly engine: RelayEngine;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly options: ServiceProxyOptions;
  private readonly entries = new Map<string, ListenerEntry>();
  /** Active TCP connections per backend key, over this process and every worker. */
  private readonly totals = new Map<string, number>();
  private pool: WorkerPool | undefined;
  private table: ProxyTable | undefined;
  private snapshot: EndpointsSnapshot | undefined;
  /** Number of the last snapshot given to `sync`, and of the last one applied everywhere. */
  private seq = 0;
  private appliedSeq = 0;
  /** Applications of snapshots run one after the other (a worker must close a socket before it is bound again). */
  private chain: Promise<void> = Promise.resolve();
  private started = false;

  constructor(options: ServiceProxyOptions = {}) {
    super();
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.engine = new RelayEngine({
      clock: this.clock,
      maxConnectAttempts: options.maxConnectAttempts ?? 3,
      onCount: (key, before, after) => {
        this.counted(key, before, after);
        this.pool?.loadChanged(() => this.engine.load);
      },
      handOff: (client, listener) => this.pool?.handOff(client, listener.spec.key, this.engine.load) ?? false,
    });
  }

  /** Starts the workers (if any) and opens the listeners of the last snapshot given (if any). */
  async start(): Promise<void> {
    this.started = true;
    let workers = this.options.workers ?? 0;
    if (workers >= 2 && process.env[WORKER_ENV] === '1') {
      this.logger.warn({ workers }, 'a proxy running inside a proxy worker starts no workers of its own');
      workers = 0;
    }
    if (workers >= 2 && this.pool === undefined) {
      this.pool = new WorkerPool({
        size: workers - 1,
        entry: this.options.workerEntry ?? WORKER_ENTRY,
        nodeAddresses: this.options.nodeAddresses ?? ['127.0.0.1'],
        maxConnectAttempts: this.options.maxConnectAttempts ?? 3,
        countFlushMs: 10,
        ackTimeoutMs: this.options.workerAckTimeoutMs ?? 10_000,
        logger: this.logger,
        onCount: (key, before, after) => this.counted(key, before, after),
        onError: (e) => this.report({ ...e, serviceKey: this.entries.get(e.listener)?.spec.serviceKey ?? '' }),
        onConnection: (client, key) => {
          const entry = this.entries.get(key);
          if (entry?.protocol === 'TCP' && !entry.closed) this.engine.adopt(client, entry.spec.serviceKey);
          else client.destroy();
        },
      });
      await this.pool.start();
    }
    if (this.table !== undefined) await this.enqueue(this.seq);
  }

  /** Stops the workers, closes every listener and cuts every connection and flow. */
  async stop(): Promise<void> {
    this.started = false;
    const pool = this.pool;
    this.pool = undefined;
    await pool?.stop();
    await this.chain;
    for (const entry of this.entries.values()) this.closeEntry(entry);
    this.entries.clear();
    this.engine.cutAll(new Error('proxy stopped'));
    this.appliedSeq = 0;
  }

  /**
   * Rebuilds the tables from a whole snapshot: this process's backends change at once, then listeners
   * are opened and closed and the workers get the snapshot. Resolves when every listener opening settled
   * and every worker acknowledged (failures go to `onError`, never rejected).
   */
  sync(snapshot: EndpointsSnapshot): Promise<void> {
    const table = buildProxyTable(snapshot, { nodeAddresses: this.options.nodeAddresses });
    this.table = table;
    this.snapshot = snapshot;
    const seq = ++this.seq;
    this.engine.update(table.services);
    for (const conflict of table.conflicts) {
      this.report({ listener: conflict.key, serviceKey: conflict.serviceKey, code: 'ADDRESS_CONFLICT', message: `${conflict.key} is already served for ${conflict.heldBy}` });
    }
    return this.started ? this.enqueue(seq) : Promise.resolve();
  }

  /** Active (connected) TCP connections to one backend, over all processes (a worker's with ≤ 10 ms delay). */
  activeConnections(ip: string, port: number): number {
    return this.totals.get(backendKey(ip, port)) ?? 0;
  }

  /** Resolves when the backend has no active TCP connections in any process (at once if it has none). */
  whenDrained(ip: string, port: number, signal?: AbortSignal): Promise<void> {
    const key = backendKey(ip, port);
    if ((this.totals.get(key) ?? 0) === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onDrained = (drained: string): void => {
        if (drained !== key) return;
        this.off('drained', onDrained);
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        this.off('drained', onDrained);
        reject(signal?.reason);
      };
      this.on('drained', onDrained);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  status(): ListenerStatus[] {
    return [...this.entries.values()].map((e) => ({ ...e.spec, state: e.state, ...(e.error !== undefined ? { error: e.error } : {}) }));
  }

  /** The worker processes (none with `workers` < 2), their pids, states and connection counts. */
  workers(): WorkerStatus[] {
    return this.pool?.status() ?? [];
  }

  private counted(key: string, before: number, after: number): void {
    const total = (this.totals.get(key) ?? 0) + after - before;
    if (total > 0) {
      this.totals.set(key, total);
      return;
    }
    this.totals.delete(key);
    if (after < before) this.emit('drained', key);
  }

  private enqueue(seq: number): Promise<void> {
    const run = this.chain.then(() => this.settle(seq));
    this.chain = run.catch((error: unknown) => this.logger.error({ err: error }, 'proxy sync failed'));
    return run;
  }

  /** Applies the newest snapshot (which covers `seq`) here and in every worker, unless that is done already. */
  private async settle(seq: number): Promise<void> {
    if (!this.started || this.appliedSeq >= seq || this.table === undefined || this.snapshot === undefined) return;
    const target = this.seq;
    const table = this.table;
    const snapshot = this.snapshot;
    await this.apply(table);
    if (this.pool !== undefined) {
      const shared = this.workerListeners(table);
      for (const [key, entry] of this.entries) if (entry.protocol === 'TCP') entry.shared = shared.has(key);
      await this.pool.sync(target, snapshot, shared);
    }
    this.appliedSeq = Math.max(this.appliedSeq, target);
  }

  /** The listening sockets workers share: TCP, open, and not of a ClientIP-affinity service (its picks must stay in one process). */
  private workerListeners(table: ProxyTable): Map<string, Server> {
    const shared = new Map<string, Server>();
    for (const [key, entry] of this.entries) {
      if (entry.protocol !== 'TCP' || entry.state !== 'listening' || entry.closed) continue;
      if (table.services.get(entry.spec.serviceKey)?.affinity.type === 'ClientIP') continue;
      shared.set(key, entry.server);
    }
    return shared;
  }

  private async apply(table: ProxyTable): Promise<void> {
    const protocols = this.options.protocols ?? ['TCP', 'UDP'];
    for (const [key, entry] of this.entries) {
      const wanted = table.listeners.get(key);
      if (wanted === undefined || entry.state === 'failed') {
        this.entries.delete(key);
        this.closeEntry(entry);
      } else {
        entry.spec = wanted;
        if (entry.protocol === 'UDP') entry.udp.serviceKey = wanted.serviceKey;
      }
    }
    const opening: Promise<void>[] = [];
    for (const [key, spec] of table.listeners) {
      if (!protocols.includes(spec.protocol) || this.entries.has(key) || !this.started) continue;
      opening.push(spec.protocol === 'TCP' ? this.openTcp(spec) : this.openUdp(spec));
    }
    await Promise.all(opening);
  }

  private openTcp(spec: ListenerSpec): Promise<void> {
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true });
    const entry: TcpListenerEntry = { protocol: 'TCP', spec, state: 'opening', server, closed: false, shared: false };
    this.entries.set(spec.key, entry);
    this.engine.serve(server, entry);
    return new Promise((resolve) => {
      const onListenError = (error: NodeJS.ErrnoException): void => {
        this.failed(entry, error);
        resolve();
      };
      server.once('error', onListenError);
      server.listen({ host: spec.host, port: spec.port, exclusive: false }, () => {
        server.off('error', onListenError);
        server.on('error', (error: NodeJS.ErrnoException) => this.report({ listener: entry.spec.key, serviceKey: entry.spec.serviceKey, code: error.code ?? 'ERROR', message: error.message }));
        if (entry.closed) server.close();
        else entry.state = 'listening';
        resolve();
      });
    });
  }

  private async openUdp(spec: ListenerSpec): Promise<void> {
    const udp = new UdpListener({ pick: (serviceKey, client) => this.engine.balancer.next(serviceKey, client) }, spec.host, spec.port, spec.serviceKey, {
      clock: this.clock,
      idleTimeoutMs: this.options.udpIdleTimeoutMs ?? 30_000,
    });
    const entry: UdpListenerEntry = { protocol: 'UDP', spec, state: 'opening', udp, closed: false };
    this.entries.set(spec.key, entry);
    try {
      await udp.open();
      if (entry.closed) udp.close();
      else entry.state = 'listening';
    } catch (error) {
      this.failed(entry, error as NodeJS.ErrnoException);
    }
  }

  private failed(entry: ListenerEntry, error: NodeJS.ErrnoException): void {
    entry.state = 'failed';
    entry.error = error.code ?? 'ERROR';
    if (entry.protocol === 'UDP') entry.udp.close();
    this.report({ listener: entry.spec.key, serviceKey: entry.spec.serviceKey, code: entry.error, message: error.message });
  }

  /**
   * Stops accepting at once: the socket is closed here (workers close their copies on the sync that
   * follows); connections already relayed keep running and drain on their own.
   */
  private closeEntry(entry: ListenerEntry): void {
    entry.closed = true;
    if (entry.protocol === 'UDP') entry.udp.close();
    else if (entry.state === 'listening') entry.server.close();
  }

  private report(error: ProxyError): void {
    this.logger.warn({ listener: error.listener, service: error.serviceKey, code: error.code }, error.message);
    this.options.onError?.(error);
  }
}

function backendKey(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}
