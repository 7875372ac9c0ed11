import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { Server } from 'node:net';
import { availableParallelism } from 'node:os';
import type { EndpointsSnapshot } from '../model/index.js';
import type { Clock, Logger } from '../lib/index.js';
import { silentLogger, systemClock } from '../lib/index.js';
import { DEFAULT_AFFINITY_TIMEOUT_SECONDS } from './balancer.js';
import { NativeRelay } from './native-relay.js';
import type { RelayExit } from './native-relay.js';
import type { BalancedService, ListenerSpec, ProxyProtocol, ProxyTable } from './proxy-table.js';
import { buildProxyTable } from './proxy-table.js';
import { RelayEngine } from './relay-engine.js';
import { UdpListener } from './udp-relay.js';

export type ListenerState = 'opening' | 'listening' | 'failed';

/** One listener as `status()` reports it. */
export interface ListenerStatus extends ListenerSpec {
  readonly state: ListenerState;
  /** The listen error's code (EADDRINUSE, EADDRNOTAVAIL, EACCES…) when `state` is 'failed'. */
  readonly error?: string;
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
  /** Addresses node ports are opened on. Default ['127.0.0.1']. */
  readonly nodeAddresses?: readonly string[];
  /** Which protocols this instance serves. Default both. */
  readonly protocols?: readonly ProxyProtocol[];
  /** Idle time after which a UDP flow is forgotten, ms. Default 30 000. */
  readonly udpIdleTimeoutMs?: number;
  /** Most backends tried for one TCP connection whose connects are refused (each at most once). Default 3. */
  readonly maxConnectAttempts?: number;
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

/** The native relay as `relayStatus()` reports it. */
export interface RelayStatus {
  readonly pid: number;
  readonly threads: number;
  /** How many times it died and was started again. */
  readonly restarts: number;
}

/**
 * berth server's default relay threads: one per core, at most 2. On this 2-core machine, shared with
 * the backends and the load generator, 2 threads beat 1 (1.06× against 0.87× HAProxy's requests/s with
 * keep-alive, p99 0.84× against 1.25×; docs/proxy.md, Measured).
 */
export function defaultProxyThreads(): number {
  return Math.min(2, availableParallelism());
}

/** A relay that died is started again after this back-off (doubling up to 5 s, reset after 10 s of life). */
const RELAY_RESTART_MS = [100, 200, 400, 800, 1600, 3200, 5000];

interface TcpListenerEntry {
  readonly protocol: 'TCP';
  spec: ListenerSpec;
  state: ListenerState;
  error?: string;
  closed: boolean;
  /** The node engine's listening socket. */
  readonly server?: Server;
  /** The native engine's listener id (its socket lives in the relay). */
  readonly relayId?: number;
  /** Native: the service id this listener was last routed to. */
  routedTo?: number;
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

/**
 * The L4 data plane: listens on every service port's VIP, external, load-balancer and node-port
 * addresses and relays TCP connections (in berth-relay, or with `engine: 'node'` in this process) and
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
  private relay: NativeRelay | undefined;
  private relayRestarts = 0;
  private relayStartedAt = 0;
  private relayTimer: NodeJS.Timeout | undefined;
  private useNative: boolean;
  private nextId = 1;
  /** Native: the relay's id of each TCP service port, and the definition last sent for it. */
  private readonly serviceIds = new Map<string, number>();
  private readonly sentServices = new Map<number, string>();
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
      onCount: (key, before, after) => this.counted(key, before, after),
    });
  }

  /** Starts the native relay (unless `engine: 'node'`) and opens the listeners of the last snapshot given (if any). */
  async start(): Promise<void> {
    this.started = true;
    if (this.useNative && this.relay === undefined) await this.startRelay();
    if (this.table !== undefined) await this.enqueue(this.seq);
  }

  /** Ends the relay, closes every listener and cuts every connection and flow. */
  async stop(): Promise<void> {
    this.started = false;
    clearTimeout(this.relayTimer);
    this.relayTimer = undefined;
    await this.chain;
    const relay = this.relay;
    this.relay = undefined;
    await relay?.stop();
    for (const entry of this.entries.values()) this.closeEntry(entry);
    this.entries.clear();
    this.serviceIds.clear();
    this.sentServices.clear();
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

  status(): ListenerStatus[] {
    return [...this.entries.values()].map((e) => ({ ...e.spec, state: e.state, ...(e.error !== undefined ? { error: e.error } : {}) }));
  }

  /** Which engine relays TCP now ('node' also after a relay that could not start). */
  tcpEngine(): ProxyEngine {
    return this.useNative ? 'native' : 'node';
  }

  /** The native relay process, while one runs. */
  relayStatus(): RelayStatus | undefined {
    const pid = this.relay?.pid;
    return pid === undefined ? undefined : { pid, threads: this.threads(), restarts: this.relayRestarts };
  }

  /** Connections each relay thread holds now (empty without a relay): how evenly the threads share the load. */
  relayThreadLoads(): Promise<number[]> {
    return this.relay?.threadLoads() ?? Promise.resolve([]);
  }

  private threads(): number {
    return Math.max(1, Math.min(64, this.options.threads ?? 1));
  }

  private async startRelay(): Promise<void> {
    const relay = new NativeRelay({ threads: this.threads(), logger: this.logger, ...(this.options.relayBinary !== undefined ? { binary: this.options.relayBinary } : {}) });
    relay.on('count', (key: string, before: number, after: number) => this.counted(key, before, after));
    relay.on('exit', (exit: RelayExit) => this.relayExited(relay, exit));
    try {
      await relay.start();
    } catch (error) {
      if (this.relayRestarts > 0) throw error; // a restart that fails is retried by relayExited's caller
      this.logger.warn({ err: error }, 'the native relay cannot start; TCP is relayed in the server process (engine node)');
      this.useNative = false;
      return;
    }
    this.relay = relay;
    this.relayStartedAt = this.clock.now();
  }

  /** The relay died: its sockets and connections went with it. Report, forget its listeners, start another. */
  private relayExited(relay: NativeRelay, exit: RelayExit): void {
    if (this.relay !== relay) return;
    this.relay = undefined;
    const how = exit.signal ?? `status ${exit.code}`;
    this.report({ listener: `relay ${exit.pid}`, serviceKey: '', code: 'RELAY_EXIT', message: `berth-relay (pid ${exit.pid}) exited (${how}); starting another` });
    for (const [key, entry] of this.entries) if (entry.protocol === 'TCP' && entry.relayId !== undefined) this.entries.delete(key);
    this.serviceIds.clear();
    this.sentServices.clear();
    if (this.clock.now() - this.relayStartedAt > 10_000) this.relayRestarts = 0;
    const delay = RELAY_RESTART_MS[Math.min(this.relayRestarts, RELAY_RESTART_MS.length - 1)] as number;
    this.relayRestarts++;
    const restart = (): void => {
      this.relayTimer = undefined;
      if (!this.started || this.relay !== undefined) return;
      this.startRelay().then(
        () => {
          this.appliedSeq = 0;
          if (this.table !== undefined) void this.enqueue(this.seq);
        },
        (error: unknown) => {
          this.logger.error({ err: error }, 'the native relay did not start again; retrying');
          this.relayTimer = setTimeout(restart, RELAY_RESTART_MS[RELAY_RESTART_MS.length - 1]);
        },
      );
    };
    this.relayTimer = setTimeout(restart, delay);
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
    const relay = this.relay;
    if (relay !== undefined) {
      this.defineServices(relay, table);
      await relay.commit();
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
      else if (this.relay !== undefined) opening.push(this.openNative(this.relay, spec));
      else if (!this.useNative) opening.push(this.openTcp(spec));
      // else: the relay is restarting; the restart applies the newest table
    }
    await Promise.all(opening);
  }

  /** Sends the relay every TCP service port that changed (and forgets those gone), then routes the listeners. */
  private defineServices(relay: NativeRelay, table: ProxyTable): void {
    const maxAttempts = this.options.maxConnectAttempts ?? 3;
    const live = new Set<string>();
    for (const [serviceKey, service] of table.services) {
      if (!serviceKey.endsWith('/TCP')) continue;
      live.add(serviceKey);
      let id = this.serviceIds.get(serviceKey);
      if (id === undefined) {
        id = this.nextId++;
        this.serviceIds.set(serviceKey, id);
      }
      const definition = `${affinitySeconds(service)} ${service.backends.map((b) => b.key).join(' ')}`;
      if (this.sentServices.get(id) === definition) continue;
      this.sentServices.set(id, definition);
      relay.defineService(id, affinitySeconds(service), maxAttempts, service.backends.map((b) => b.key));
    }
    for (const [serviceKey, id] of this.serviceIds) {
      if (live.has(serviceKey)) continue;
      this.serviceIds.delete(serviceKey);
      this.sentServices.delete(id);
      relay.deleteService(id);
    }
    for (const entry of this.entries.values()) {
      if (entry.protocol !== 'TCP' || entry.relayId === undefined || entry.state !== 'listening') continue;
      const id = this.serviceIds.get(entry.spec.serviceKey);
      if (id === undefined || entry.routedTo === id) continue;
      entry.routedTo = id;
      relay.route(entry.relayId, id);
    }
  }

  private async openNative(relay: NativeRelay, spec: ListenerSpec): Promise<void> {
    const entry: TcpListenerEntry = { protocol: 'TCP', spec, state: 'opening', closed: false, relayId: this.nextId++ };
    this.entries.set(spec.key, entry);
    const failure = await relay.listen(entry.relayId as number, spec.host, spec.port);
    if (failure?.code === 'RELAY_EXIT') return; // reported once as RELAY_EXIT; the restart opens it again
    if (failure !== undefined) {
      this.failed(entry, Object.assign(new Error(failure.message), { code: failure.code }));
      return;
    }
    if (entry.closed) relay.close(entry.relayId as number);
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
      if (entry.state === 'listening') this.relay?.close(entry.relayId);
    } else if (entry.state === 'listening') entry.server?.close();
  }

  private report(error: ProxyError): void {
    this.logger.warn({ listener: error.listener, service: error.serviceKey, code: error.code }, error.message);
    this.options.onError?.(error);
  }
}

/** The relay's affinity argument: 0 for round robin, else ClientIP's idle timeout in seconds (Kubernetes' default 10800). */
function affinitySeconds(service: BalancedService): number {
  return service.affinity.type === 'ClientIP' ? service.affinity.timeoutSeconds || DEFAULT_AFFINITY_TIMEOUT_SECONDS : 0;
}

function backendKey(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}
