import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { Server } from 'node:net';
import { availableParallelism } from 'node:os';
import type { EndpointsSnapshot } from '../model/index.js';
import type { Clock, Logger } from '../lib/index.js';
import { silentLogger, systemClock } from '../lib/index.js';
import type { RelayExit } from './native-relay.js';
import type { ListenerConflict, ListenerSpec, ProxyProtocol, ProxyTable } from './proxy-table.js';
import { buildProxyTable } from './proxy-table.js';
import { RelayEngine } from './relay-engine.js';
import { RelaySupervisor } from './relay-supervisor.js';
import type { RelayStatus } from './relay-supervisor.js';
import { UdpListener } from './udp-relay.js';

export type ListenerState = 'opening' | 'listening' | 'failed';

/** One listener as `status()` reports it. */
export interface ListenerStatus extends ListenerSpec {
  readonly state: ListenerState;
  /** The listen error's code (EADDRINUSE, EADDRNOTAVAIL, EACCES…) when `state` is 'failed'. */
  readonly error?: string;
  /** The error in words ("listen EADDRINUSE: address already in use 127.0.0.1:30000") when `state` is 'failed'. */
  readonly message?: string;
}

/**
 * A listener that could not open or failed later, an address claimed by two service ports
 * (`ADDRESS_CONFLICT`), or the native relay process that died (`RELAY_EXIT`, `listener` is then
 * `relay <pid>` and `serviceKey` ''). Reported, never thrown.
 */
export interface ProxyError {
  readonly listener: string;
  readonly serviceKey: string;
  readonly code: string;
  readonly message: string;
}

/**
 * Which code relays TCP: `native` is berth-relay (native/relay/, epoll threads; the default),
 * `node` is this process's event loop (tcp-relay.ts; what runs when the relay binary is missing).
 * UDP is always relayed in this process.
 */
export type ProxyEngine = 'native' | 'node';

export interface ServiceProxyOptions {
  /** Addresses node ports and published ports are opened on. Default ['127.0.0.1']. */
  readonly nodeAddresses?: readonly string[];
  /** Which protocols this instance serves. Default both. */
  readonly protocols?: readonly ProxyProtocol[];
  /** Idle time after which a UDP flow is forgotten, ms. Default 30 000. */
  readonly udpIdleTimeoutMs?: number;
  /** Most backends tried for one TCP connection whose connects are refused (each at most once). Default 3. */
  readonly maxConnectAttempts?: number;
  /**
   * A connect to a backend not done within this long is given up and tried on another backend (as
   * HAProxy's `timeout connect`), ms; 0: never. Default 5000.
   */
  readonly connectTimeoutMs?: number;
  /** Default 'native'; falls back to 'node' (with a warning) when the relay cannot start. */
  readonly engine?: ProxyEngine;
  /** Threads of the native relay. Default 1 (`defaultProxyThreads()` is berth server's). */
  readonly threads?: number;
  /** @internal the relay binary (tests substitute a missing one). */
  readonly relayBinary?: string;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Listen failures, address conflicts, relay deaths; the proxy keeps serving its other listeners. */
  readonly onError?: (error: ProxyError) => void;
}

export type { RelayStatus } from './relay-supervisor.js';

/** `connectTimeoutMs`' default: HAProxy's configuration examples use `timeout connect 5s`. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

/**
 * berth server's default relay threads: one per core, at most 2. On this 2-core machine, shared with
 * the backends and the load generator, 2 threads beat 1 (1.06× against 0.87× HAProxy's requests/s with
 * keep-alive, p99 0.84× against 1.25×; docs/proxy.md, Measured).
 */
export function defaultProxyThreads(): number {
  return Math.min(2, availableParallelism());
}

interface TcpListenerEntry {
  readonly protocol: 'TCP';
  spec: ListenerSpec;
  state: ListenerState;
  error?: string;
  message?: string;
  closed: boolean;
  /** The node engine's listening socket. */
  readonly server?: Server;
  /** The native engine's listener id (its socket lives in the relay). */
  readonly relayId?: number;
  /** Native: the service id this listener was last routed to (kept by RelaySupervisor.publish). */
  routedTo?: number;
}

interface UdpListenerEntry {
  readonly protocol: 'UDP';
  spec: ListenerSpec;
  state: ListenerState;
  error?: string;
  message?: string;
  readonly udp: UdpListener;
  closed: boolean;
}

type ListenerEntry = TcpListenerEntry | UdpListenerEntry;

/**
 * The L4 data plane: listens on every service port's VIP, external, load-balancer, node-port and
 * published-port addresses and relays TCP connections (in berth-relay, or with `engine: 'node'` in this process) and
 * UDP flows (in this process) to ready endpoints.
 *
 * Invariants: tables are rebuilt from each whole snapshot; `sync` resolves only once every relay
 * thread uses that snapshot's tables (or a newer one's); a listener whose address is still wanted
 * keeps its socket and connections; connections to a backend that left are never cut (they drain), new
 * ones go elsewhere. Events: 'drained' (backendKey `ip:port`) when a backend's active TCP connections
 * reach 0.
 */
export class ServiceProxy extends EventEmitter {
  private readonly engine: RelayEngine;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly options: ServiceProxyOptions;
  private readonly entries = new Map<string, ListenerEntry>();
  /** Active TCP connections per backend key, over both engines. */
  private readonly totals = new Map<string, number>();
  private readonly native: RelaySupervisor;
  private useNative: boolean;
  private table: ProxyTable | undefined;
  /** Number of the last snapshot given to `sync`, and of the last one applied everywhere. */
  private seq = 0;
  private appliedSeq = 0;
  /** Applications of snapshots run one after the other (a socket is closed before its address is bound again). */
  private chain: Promise<void> = Promise.resolve();
  private started = false;

  constructor(options: ServiceProxyOptions = {}) {
    super();
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.useNative = (options.engine ?? 'native') === 'native';
    this.engine = new RelayEngine({
      clock: this.clock,
      maxConnectAttempts: options.maxConnectAttempts ?? 3,
      connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      onCount: (key, before, after) => this.counted(key, before, after),
    });
    this.native = new RelaySupervisor({
      threads: Math.max(1, Math.min(64, options.threads ?? 1)),
      ...(options.relayBinary !== undefined ? { binary: options.relayBinary } : {}),
      maxConnectAttempts: options.maxConnectAttempts ?? 3,
      connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      clock: this.clock,
      logger: this.logger,
      onCount: (key, before, after) => this.counted(key, before, after),
      onExit: (exit) => this.relayExited(exit),
      onRestarted: () => {
        this.appliedSeq = 0;
        if (this.table !== undefined) void this.enqueue(this.seq);
      },
    });
  }

  /** Starts the native relay (unless `engine: 'node'`) and opens the listeners of the last snapshot given (if any). */
  async start(): Promise<void> {
    this.started = true;
    if (this.useNative && !this.native.running && !(await this.native.start())) {
      this.logger.warn({}, 'TCP is relayed in the server process (engine node)');
      this.useNative = false;
    }
    if (this.table !== undefined) await this.enqueue(this.seq);
  }

  /** Ends the relay, closes every listener and cuts every connection and flow. */
  async stop(): Promise<void> {
    this.started = false;
    await this.chain;
    await this.native.stop();
    for (const entry of this.entries.values()) this.closeEntry(entry);
    this.entries.clear();
    this.engine.cutAll(new Error('proxy stopped'));
    this.appliedSeq = 0;
  }

  /**
   * Rebuilds the tables from a whole snapshot: the in-process balancer changes at once, then listeners
   * are opened and closed and the relay gets the tables. Resolves when every listener opening settled
   * and every relay thread uses the tables (failures go to `onError`, never rejected).
   */
  sync(snapshot: EndpointsSnapshot): Promise<void> {
    const table = buildProxyTable(snapshot, { nodeAddresses: this.options.nodeAddresses });
    this.table = table;
    const seq = ++this.seq;
    this.engine.update(table.services);
    for (const conflict of table.conflicts) {
      this.report({ listener: conflict.key, serviceKey: conflict.serviceKey, code: 'ADDRESS_CONFLICT', message: `${conflict.key} is already served for ${conflict.heldBy}` });
    }
    return this.started ? this.enqueue(seq) : Promise.resolve();
  }

  /** Active TCP connections to one backend (the relay's counted from the pick, reported within ~10 ms). */
  activeConnections(ip: string, port: number): number {
    return this.totals.get(backendKey(ip, port)) ?? 0;
  }

  /** Resolves when the backend has no active TCP connections (at once if it has none). */
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

  /** Every listener of the newest applied table with its state; a failed one with its error (it is retried on the next `sync`). */
  status(): ListenerStatus[] {
    return [...this.entries.values()].map((e) => ({ ...e.spec, state: e.state, ...(e.error !== undefined ? { error: e.error } : {}), ...(e.message !== undefined ? { message: e.message } : {}) }));
  }

  /** Addresses two service ports of the newest snapshot claim: the second claimant is not served (`ADDRESS_CONFLICT`). */
  conflicts(): readonly ListenerConflict[] {
    return this.table?.conflicts ?? [];
  }

  /** Which engine relays TCP now ('node' also after a relay that could not start). */
  tcpEngine(): ProxyEngine {
    return this.useNative ? 'native' : 'node';
  }

  /** The native relay process, while one runs. */
  relayStatus(): RelayStatus | undefined {
    return this.native.status();
  }

  /** Connections each relay thread holds now (empty without a relay): how evenly the threads share the load. */
  relayThreadLoads(): Promise<number[]> {
    return this.native.threadLoads();
  }

  /** The relay died (RelaySupervisor starts another): its sockets went with it, so its listeners are forgotten. */
  private relayExited(exit: RelayExit): void {
    const how = exit.signal ?? `status ${exit.code}`;
    this.report({ listener: `relay ${exit.pid}`, serviceKey: '', code: 'RELAY_EXIT', message: `berth-relay (pid ${exit.pid}) exited (${how}); starting another` });
    for (const [key, entry] of this.entries) if (entry.protocol === 'TCP' && entry.relayId !== undefined) this.entries.delete(key);
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

  /** Applies the newest snapshot (which covers `seq`), unless that is done already. */
  private async settle(seq: number): Promise<void> {
    if (!this.started || this.appliedSeq >= seq || this.table === undefined) return;
    const target = this.seq;
    const table = this.table;
    await this.apply(table);
    if (this.native.running) {
      const routes = [...this.entries.values()].filter((e): e is TcpListenerEntry & { relayId: number } => e.protocol === 'TCP' && e.relayId !== undefined && e.state === 'listening');
      await this.native.publish(table, routes);
    }
    this.appliedSeq = Math.max(this.appliedSeq, target);
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
      if (spec.protocol === 'UDP') opening.push(this.openUdp(spec));
      else if (this.native.running) opening.push(this.openNative(spec));
      else if (!this.useNative) opening.push(this.openTcp(spec));
      // else: the relay is restarting; the restart applies the newest table
    }
    await Promise.all(opening);
  }

  private async openNative(spec: ListenerSpec): Promise<void> {
    const entry: TcpListenerEntry = { protocol: 'TCP', spec, state: 'opening', closed: false, relayId: this.native.newId() };
    this.entries.set(spec.key, entry);
    const failure = await this.native.listen(entry.relayId as number, spec.host, spec.port);
    if (failure?.code === 'RELAY_EXIT') return; // reported once as RELAY_EXIT; the restart opens it again
    if (failure !== undefined) {
      this.failed(entry, Object.assign(new Error(failure.message), { code: failure.code }));
      return;
    }
    if (entry.closed) this.native.close(entry.relayId as number);
    else entry.state = 'listening';
  }

  private openTcp(spec: ListenerSpec): Promise<void> {
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true });
    const entry: TcpListenerEntry = { protocol: 'TCP', spec, state: 'opening', server, closed: false };
    this.entries.set(spec.key, entry);
    this.engine.serve(server, entry);
    return new Promise((resolve) => {
      const onListenError = (error: NodeJS.ErrnoException): void => {
        this.failed(entry, error);
        resolve();
      };
      server.once('error', onListenError);
      server.listen({ host: spec.host, port: spec.port }, () => {
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
    entry.message = error.message;
    if (entry.protocol === 'UDP') entry.udp.close();
    this.report({ listener: entry.spec.key, serviceKey: entry.spec.serviceKey, code: entry.error, message: error.message });
  }

  /**
   * Stops accepting: a node socket at once, a relay's socket with the commit that follows (before
   * `sync` resolves); connections already relayed keep running and drain on their own.
   */
  private closeEntry(entry: ListenerEntry): void {
    entry.closed = true;
    if (entry.protocol === 'UDP') entry.udp.close();
    else if (entry.relayId !== undefined) {
      if (entry.state === 'listening') this.native.close(entry.relayId);
    } else if (entry.state === 'listening') entry.server?.close();
  }

  private report(error: ProxyError): void {
    this.logger.warn({ listener: error.listener, service: error.serviceKey, code: error.code }, error.message);
    this.options.onError?.(error);
  }
}

function backendKey(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}
