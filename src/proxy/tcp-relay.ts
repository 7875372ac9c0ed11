/*
 * The TCP hot path. One `TcpRelay` object per accepted connection is the only allocation beyond what
 * node:net itself makes; socket events are handled by module-level functions that find their relay
 * through a symbol property (no per-connection closures). Bytes flow through `pipe()` both ways, which
 * gives backpressure and, with `allowHalfOpen` on both sockets, correct half-close.
 */
import net from 'node:net';
import type { Socket } from 'node:net';
import type { Backend } from './proxy-table.js';

/** What a relay needs from its owner (ServiceProxy): balancing and connection counting. */
export interface RelayHost {
  pick(serviceKey: string, clientAddress: string, avoid?: Backend): Backend | undefined;
  /** Upper bound on connect attempts for one client connection. */
  maxAttempts(serviceKey: string): number;
  connectionOpened(backend: Backend): void;
  connectionClosed(backend: Backend): void;
  /** Client sockets being relayed; a relay adds its client and removes it on close. */
  readonly clients: Set<Socket>;
}

const kRelay = Symbol('berth.relay');
type RelaySocket = Socket & { [kRelay]?: TcpRelay };

class TcpRelay {
  upstream: RelaySocket | undefined = undefined;
  connected = false;
  attempts = 0;

  constructor(
    readonly host: RelayHost,
    readonly client: RelaySocket,
    readonly serviceKey: string,
    readonly clientAddress: string,
    public backend: Backend,
  ) {}

  connect(): void {
    this.attempts++;
    const upstream: RelaySocket = net.connect({ host: this.backend.ip, port: this.backend.port, allowHalfOpen: true, noDelay: true });
    upstream[kRelay] = this;
    this.upstream = upstream;
    upstream.once('connect', onUpstreamConnect);
    upstream.on('error', onUpstreamError);
    upstream.once('close', onUpstreamClose);
  }
}

/**
 * Takes over an accepted client socket (accepted paused, so nothing is read before a backend answers).
 * No backend → the client is reset at once.
 */
export function relayConnection(host: RelayHost, client: Socket, serviceKey: string): void {
  const socket = client as RelaySocket;
  socket.on('error', onClientError);
  const clientAddress = socket.remoteAddress ?? '';
  const backend = host.pick(serviceKey, clientAddress);
  if (backend === undefined) {
    socket.resetAndDestroy();
    return;
  }
  const relay = new TcpRelay(host, socket, serviceKey, clientAddress, backend);
  socket[kRelay] = relay;
  host.clients.add(socket);
  socket.once('close', onClientClose);
  relay.connect();
}

function onUpstreamConnect(this: RelaySocket): void {
  const relay = this[kRelay] as TcpRelay;
  if (relay.client.destroyed) {
    this.destroy();
    return;
  }
  relay.connected = true;
  relay.host.connectionOpened(relay.backend);
  relay.client.setNoDelay(true);
  relay.client.pipe(this);
  this.pipe(relay.client);
}

function onUpstreamError(this: RelaySocket): void {
  const relay = this[kRelay] as TcpRelay;
  if (relay.upstream !== this) return;
  const client = relay.client;
  if (!relay.connected) {
    // Nothing has reached the client yet: try another backend (the refused-connect retry of issue 3).
    if (!client.destroyed && relay.attempts < relay.host.maxAttempts(relay.serviceKey)) {
      const next = relay.host.pick(relay.serviceKey, relay.clientAddress, relay.backend);
      if (next !== undefined) {
        relay.upstream = undefined;
        relay.backend = next;
        relay.connect();
        return;
      }
    }
    if (!client.destroyed) client.resetAndDestroy();
    return;
  }
  client.destroy();
}

function onUpstreamClose(this: RelaySocket): void {
  const relay = this[kRelay] as TcpRelay;
  if (relay.connected && relay.upstream === this) relay.host.connectionClosed(relay.backend);
}

function onClientError(this: RelaySocket): void {
  // A reset client: the 'close' handler tears the upstream down.
}

function onClientClose(this: RelaySocket, hadError: boolean): void {
  const relay = this[kRelay] as TcpRelay;
  relay.host.clients.delete(this);
  const upstream = relay.upstream;
  // A clean close means both directions ended and were forwarded; the upstream ends on its own.
  if (upstream !== undefined && !upstream.destroyed && (hadError || !relay.connected)) upstream.destroy();
}
