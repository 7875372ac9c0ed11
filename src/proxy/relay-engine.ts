/*
 * What one process needs to relay TCP connections: the balancer, the per-backend connection counts and
 * the accept path. The parent `ServiceProxy` has one, and so does every proxy worker process; each
 * balances on its own (round robin per process) and reports its counts to its owner through `onCount`.
 */
import type { Server, Socket } from 'node:net';
import type { Clock } from '../lib/index.js';
import { Balancer } from './balancer.js';
import type { Backend, BalancedService, ListenerSpec } from './proxy-table.js';
import type { RelayHost } from './tcp-relay.js';
import { relayConnection } from './tcp-relay.js';

export interface RelayEngineOptions {
  readonly clock: Clock;
  /** Most backends tried for one connection whose connects are refused (capped by the backend count). */
  readonly maxConnectAttempts: number;
  /** Called on every change of a backend's active connection count in this process (`before` → `after`). */
  readonly onCount: (backendKey: string, before: number, after: number) => void;
  /**
   * Offered each connection accepted on a shared listener before it is relayed here: true when it took
   * the socket (handed it to a less loaded process). Absent: every connection is relayed here.
   */
  readonly handOff?: (client: Socket, listener: ServedListener) => boolean;
}

/** A listener as the accept path sees it: `spec` is replaced by each sync (a repointed address keeps its socket). */
export interface ServedListener {
  spec: ListenerSpec;
  /** Other processes accept on this socket too, so a connection may be handed to one of them. */
  shared?: boolean;
}

/**
 * Whether a process relaying `local` client connections hands a new one to a peer relaying `peer`:
 * above twice the peer's plus 8. The kernel spreads accepts over the processes sharing a socket
 * unevenly (a burst of 50 keep-alive connections measured anywhere from 1/49 to 50/0); this caps a
 * burst at about 2:1 while the load fluctuations of short connections rarely cross it (a hand-off costs
 * about as much as a relay: measured ~4 % of connections in close mode). See docs/proxy.md.
 */
export function overloaded(local: number, peer: number): boolean {
  return local > 2 * peer + 8;
}

const kEngine = Symbol('berth.engine');
const kListener = Symbol('berth.listener');
type ServingServer = Server & { [kEngine]?: RelayEngine; [kListener]?: ServedListener };

export class RelayEngine {
  readonly balancer: Balancer;
  /** Relayed client sockets, so that `cutAll()` can cut them; each removes itself on close. */
  readonly clients = new Set<Socket>();
  private readonly active = new Map<string, number>();
  private readonly host: RelayHost;

  constructor(private readonly options: RelayEngineOptions) {
    this.balancer = new Balancer({ clock: options.clock });
    const balancer = this.balancer;
    const max = options.maxConnectAttempts;
    this.host = {
      pick: (serviceKey, client, avoid) => balancer.next(serviceKey, client, avoid),
      usesClientAddress: (serviceKey) => balancer.usesClientAddress(serviceKey),
      maxAttempts: (serviceKey) => Math.min(max, balancer.backendCount(serviceKey)),
      connectionOpened: (backend) => this.opened(backend),
      connectionClosed: (backend) => this.closed(backend),
      clients: this.clients,
    };
  }

  /** Replaces every service's backends (a whole table). */
  update(services: ReadonlyMap<string, BalancedService>): void {
    this.balancer.update(services);
  }

  /** Active (connected) relays to `backendKey` (`ip:port`) in this process. */
  count(backendKey: string): number {
    return this.active.get(backendKey) ?? 0;
  }

  /** Every backend with active relays in this process, and how many. */
  counts(): ReadonlyMap<string, number> {
    return this.active;
  }

  /**
   * Relays every connection `server` accepts to the service `listener.spec` names at accept time.
   * Sets what the relay needs on the server (half-open, accepted paused, no Nagle): a server received
   * from another process comes with node's defaults.
   */
  serve(server: Server, listener: ServedListener): void {
    const s = server as ServingServer & { allowHalfOpen: boolean; pauseOnConnect: boolean; noDelay: boolean };
    s.allowHalfOpen = true;
    s.pauseOnConnect = true;
    s.noDelay = true;
    s[kEngine] = this;
    s[kListener] = listener;
    s.on('connection', onConnection);
  }

  /** Destroys every relayed client socket (their upstreams follow). */
  cutAll(reason: Error): void {
    for (const socket of this.clients) socket.destroy(reason);
    this.clients.clear();
  }

  /** Client connections this process relays now (its load, for hand-off decisions). */
  get load(): number {
    return this.clients.size;
  }

  /** Relays a connection another process accepted and handed over (node delivers it with its defaults). */
  adopt(client: Socket, serviceKey: string): void {
    (client as Socket & { allowHalfOpen: boolean }).allowHalfOpen = true;
    relayConnection(this.host, client, serviceKey);
  }

  /** @internal the accept path, a method so that the module-level handler needs no closure. */
  accept(client: Socket, listener: ServedListener): void {
    if (listener.shared === true && this.options.handOff?.(client, listener) === true) return;
    relayConnection(this.host, client, listener.spec.serviceKey);
  }

  private opened(backend: Backend): void {
    const n = (this.active.get(backend.key) ?? 0) + 1;
    this.active.set(backend.key, n);
    this.options.onCount(backend.key, n - 1, n);
  }

  private closed(backend: Backend): void {
    const before = this.active.get(backend.key) ?? 1;
    const n = before - 1;
    if (n > 0) this.active.set(backend.key, n);
    else this.active.delete(backend.key);
    this.options.onCount(backend.key, before, n);
  }
}

function onConnection(this: ServingServer, client: Socket): void {
  (this[kEngine] as RelayEngine).accept(client, this[kListener] as ServedListener);
}
