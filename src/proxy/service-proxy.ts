import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { Server, Socket } from 'node:net';
import type { EndpointsSnapshot } from '../model/index.js';
import type { Clock, Logger } from '../lib/index.js';
import { silentLogger, systemClock } from '../lib/index.js';
import { Balancer } from './balancer.js';
import type { Backend, ListenerSpec, ProxyProtocol, ProxyTable } from './proxy-table.js';
import { buildProxyTable } from './proxy-table.js';
import type { RelayHost } from './tcp-relay.js';
import { relayConnection } from './tcp-relay.js';
import { UdpListener } from './udp-relay.js';

export type ListenerState = 'opening' | 'listening' | 'failed';

/** One listener as `status()` reports it. */
export interface ListenerStatus extends ListenerSpec {
  readonly state: ListenerState;
  /** The listen error's code (EADDRINUSE, EADDRNOTAVAIL, EACCES…) when `state` is 'failed'. */
  readonly error?: string;
}

/** A listener that could not open, or an address claimed by two service ports. Reported, never thrown. */
export interface ProxyError {
  readonly listener: string;
  readonly serviceKey: string;
  readonly code: string;
  readonly message: string;
}

export interface ServiceProxyOptions {
  /** Addresses node ports are opened on. Default ['127.0.0.1']. */
  readonly nodeAddresses?: readonly string[];
  /** Which protocols this instance serves (a worker pool may split TCP and UDP). Default both. */
  readonly protocols?: readonly ProxyProtocol[];
  /** Idle time after which a UDP flow is forgotten, ms. Default 30 000. */
  readonly udpIdleTimeoutMs?: number;
  /** Most backends tried for one TCP connection whose connects are refused. Default 3 (capped by the backend count). */
  readonly maxConnectAttempts?: number;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Listen failures and address conflicts; the proxy keeps serving its other listeners. */
  readonly onError?: (error: ProxyError) => void;
}

interface TcpListenerEntry {
  readonly protocol: 'TCP';
  spec: ListenerSpec;
  state: ListenerState;
  error?: string;
  readonly server: Server;
  closed: boolean;
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

const kEntry = Symbol('berth.listener');
type ProxyServer = Server & { [kEntry]?: TcpListenerEntry; [kProxy]?: ServiceProxy };
const kProxy = Symbol('berth.proxy');

/**
 * The L4 data plane: listens on every service port's VIP, external, load-balancer and node-port
 * addresses and relays TCP connections and UDP flows to ready endpoints.
 *
 * Invariants: tables are rebuilt from each whole snapshot; a listener whose address is still wanted keeps
 * its socket and connections; connections to a backend that left are never cut (they drain), new ones
 * go elsewhere. Events: 'drained' (backendKey `ip:port`) when a backend's active TCP connections reach 0.
 */
export class ServiceProxy extends EventEmitter {
  private readonly balancer: Balancer;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly options: ServiceProxyOptions;
  private readonly entries = new Map<string, ListenerEntry>();
  private readonly active = new Map<string, number>();
  /** Relayed client sockets, so that stop() can cut them; each removes itself on close. */
  private readonly clients = new Set<Socket>();
  private table: ProxyTable | undefined;
  private started = false;
  private readonly relayHost: RelayHost;

  constructor(options: ServiceProxyOptions = {}) {
    super();
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.balancer = new Balancer({ clock: this.clock });
    const maxAttempts = options.maxConnectAttempts ?? 3;
    this.relayHost = {
      pick: (serviceKey, client, avoid) => this.balancer.next(serviceKey, client, avoid),
      usesClientAddress: (serviceKey) => this.balancer.usesClientAddress(serviceKey),
      maxAttempts: (serviceKey) => Math.min(maxAttempts, this.balancer.backendCount(serviceKey)),
      connectionOpened: (backend) => this.active.set(backend.key, (this.active.get(backend.key) ?? 0) + 1),
      connectionClosed: (backend) => this.connectionClosed(backend),
      clients: this.clients,
    };
  }

  /** Opens the listeners of the last snapshot given (if any). */
  async start(): Promise<void> {
    this.started = true;
    if (this.table !== undefined) await this.apply(this.table);
  }

  /** Closes every listener and cuts every connection and flow. */
  async stop(): Promise<void> {
    this.started = false;
    const closing = [...this.entries.values()].map((entry) => this.closeEntry(entry));
    this.entries.clear();
    const stopped = new Error('proxy stopped');
    for (const socket of this.clients) socket.destroy(stopped);
    this.clients.clear();
    await Promise.all(closing);
  }

  /**
   * Rebuilds the tables from a whole snapshot: backends change at once, then listeners are opened and
   * closed. Resolves when every listener opening settled (failures go to `onError`, never rejected).
   */
  async sync(snapshot: EndpointsSnapshot): Promise<void> {
    const table = buildProxyTable(snapshot, { nodeAddresses: this.options.nodeAddresses });
    this.table = table;
    this.balancer.update(table.services);
    for (const conflict of table.conflicts) {
      this.report({ listener: conflict.key, serviceKey: conflict.serviceKey, code: 'ADDRESS_CONFLICT', message: `${conflict.key} is already served for ${conflict.heldBy}` });
    }
    if (this.started) await this.apply(table);
  }

  /** Active (connected) TCP connections to one backend. */
  activeConnections(ip: string, port: number): number {
    return this.active.get(backendKey(ip, port)) ?? 0;
  }

  /** Resolves when the backend has no active TCP connections (at once if it has none). */
  whenDrained(ip: string, port: number, signal?: AbortSignal): Promise<void> {
    const key = backendKey(ip, port);
    if ((this.active.get(key) ?? 0) === 0) return Promise.resolve();
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

  private connectionClosed(backend: Backend): void {
    const n = (this.active.get(backend.key) ?? 1) - 1;
    if (n > 0) {
      this.active.set(backend.key, n);
      return;
    }
    this.active.delete(backend.key);
    this.emit('drained', backend.key);
  }

  private async apply(table: ProxyTable): Promise<void> {
    const protocols = this.options.protocols ?? ['TCP', 'UDP'];
    const closing: Promise<void>[] = [];
    for (const [key, entry] of this.entries) {
      const wanted = table.listeners.get(key);
      if (wanted === undefined || entry.state === 'failed') {
        this.entries.delete(key);
        closing.push(this.closeEntry(entry));
      } else {
        entry.spec = wanted;
        if (entry.protocol === 'UDP') entry.udp.serviceKey = wanted.serviceKey;
      }
    }
    await Promise.all(closing);
    const opening: Promise<void>[] = [];
    for (const [key, spec] of table.listeners) {
      if (!protocols.includes(spec.protocol) || this.entries.has(key)) continue;
      opening.push(spec.protocol === 'TCP' ? this.openTcp(spec) : this.openUdp(spec));
    }
    await Promise.all(opening);
  }

  private openTcp(spec: ListenerSpec): Promise<void> {
    const server: ProxyServer = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true });
    const entry: TcpListenerEntry = { protocol: 'TCP', spec, state: 'opening', server, closed: false };
    server[kEntry] = entry;
    server[kProxy] = this;
    this.entries.set(spec.key, entry);
    server.on('connection', onConnection);
    return new Promise((resolve) => {
      const onListenError = (error: NodeJS.ErrnoException): void => {
        this.failed(entry, error);
        resolve();
      };
      server.once('error', onListenError);
      server.listen({ host: spec.host, port: spec.port, exclusive: false }, () => {
        server.off('error', onListenError);
        server.on('error', (error) => this.logger.warn({ listener: spec.key, err: error }, 'proxy listener error'));
        if (entry.closed) server.close();
        else entry.state = 'listening';
        resolve();
      });
    });
  }

  private async openUdp(spec: ListenerSpec): Promise<void> {
    const udp = new UdpListener({ pick: (serviceKey, client) => this.balancer.next(serviceKey, client) }, spec.host, spec.port, spec.serviceKey, {
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

  private closeEntry(entry: ListenerEntry): Promise<void> {
    entry.closed = true;
    if (entry.protocol === 'UDP') {
      entry.udp.close();
      return Promise.resolve();
    }
    // Stop accepting; connections already relayed keep running (they drain on their own).
    if (entry.state !== 'listening') return Promise.resolve();
    return new Promise((resolve) => entry.server.close(() => resolve()));
  }

  private report(error: ProxyError): void {
    this.logger.warn({ listener: error.listener, service: error.serviceKey, code: error.code }, error.message);
    this.options.onError?.(error);
  }

  /** @internal the accept path, kept on the class so the module-level handler needs no closure. */
  accept(client: Socket, serviceKey: string): void {
    relayConnection(this.relayHost, client, serviceKey);
  }
}

function onConnection(this: ProxyServer, client: Socket): void {
  (this[kProxy] as ServiceProxy).accept(client, (this[kEntry] as TcpListenerEntry).spec.serviceKey);
}

function backendKey(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}
