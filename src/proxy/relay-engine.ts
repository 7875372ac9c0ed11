/*
 * The in-process TCP engine (`engine: 'node'`): the balancer, the per-backend connection counts and the
 * accept path. `ServiceProxy` has one; its balancer also picks for UDP flows. Counts go to the owner
 * through `onCount`.
 */
import type { Server, Socket } from 'node:net';
import type { Clock } from '../lib/index.js';
import { Balancer } from './balancer.js';
import type { Backend, BalancedService, ListenerSpec } from './proxy-table.js';
import type { RelayHost } from './tcp-relay.js';
import { relayConnection } from './tcp-relay.js';

export interface RelayEngineOptions {
  readonly clock: Clock;
  /** Most backends tried for one connection whose connects are refused (each at most once). */
  readonly maxConnectAttempts: number;
  /** A connect not done within this long is given up and tried on another backend, ms; 0: never. */
  readonly connectTimeoutMs: number;
  /** Called on every change of a backend's active connection count in this process (`before` → `after`). */
  readonly onCount: (backendKey: string, before: number, after: number) => void;
}

/** A listener as the accept path sees it: `spec` is replaced by each sync (a repointed address keeps its socket). */
export interface ServedListener {
  spec: ListenerSpec;
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
      pick: (serviceKey, client, tried) => balancer.next(serviceKey, client, tried),
      usesClientAddress: (serviceKey) => balancer.usesClientAddress(serviceKey),
      maxAttempts: max,
      connectTimeoutMs: options.connectTimeoutMs,
      connectionOpened: (backend) => this.opened(backend),
      connectionClosed: (backend) => this.closed(backend),
      clients: this.clients,
    };
  }

  /** Replaces every service's backends (a whole table). */
  update(services: ReadonlyMap<string, BalancedService>): void {
    this.balancer.update(services);
  }

  /**
   * Relays every connection `server` accepts to the service `listener.spec` names at accept time.
   * Sets what the relay needs on the server: half-open, accepted paused, no Nagle.
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

  /** @internal the accept path, a method so that the module-level handler needs no closure. */
  accept(client: Socket, listener: ServedListener): void {
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
