/*
 * The TCP hot path. One `TcpRelay` object per accepted connection is the only allocation beyond what
 * node:net itself makes; socket events are handled by module-level functions that find their relay
 * through a symbol property (no per-connection closures). Bytes are relayed by module-level 'data'
 * handlers rather than `pipe()` (which allocates a dozen closures and listeners per direction): a write
 * that returns false pauses the source until the destination drains (backpressure), and 'end' is
 * forwarded with `end()`, which with `allowHalfOpen` on both sockets gives correct half-close (or with a
 * plain close when the other way has ended already: see `endSocket`). This is the in-process engine
 * (`engine: 'node'`, relay-engine.ts); native/relay/ does the same per connection.
 */
import net from 'node:net';
import type { Socket } from 'node:net';
import type { Backend } from './proxy-table.js';

/** What a relay needs from its owner (a RelayEngine): balancing and connection counting. */
export interface RelayHost {
  /** The backend for a connection, skipping the keys in `tried` (undefined: none left). */
  pick(serviceKey: string, clientAddress: string, tried?: readonly string[]): Backend | undefined;
  /** Whether `pick` looks at the client address (ClientIP affinity); if not, it is not fetched (a getpeername). */
  usesClientAddress(serviceKey: string): boolean;
  /** Most backends tried for one client connection. */
  readonly maxAttempts: number;
  /** A connect not done within this long is given up (and tried on another backend), ms; 0: never. */
  readonly connectTimeoutMs: number;
  connectionOpened(backend: Backend): void;
  connectionClosed(backend: Backend): void;
  /** Client sockets being relayed; a relay adds its client and removes it on close. */
  readonly clients: Set<Socket>;
}

const kRelay = Symbol('berth.relay');
type RelaySocket = Socket & { [kRelay]?: TcpRelay };

/**
 * Client bytes kept until the backend answers, so that a backend that dies before answering (SIGKILL
 * mid-request) can be replaced by another one that gets the same bytes: the client never sees the
 * failure. Past this many bytes nothing is kept and such a failure reaches the client. The replay is
 * safe for requests a client may repeat (HTTP GET, DNS over TCP…); a backend that took a request and
 * died before answering may have acted on it — as with HAProxy's `retry-on empty-response`.
 */
const REPLAY_LIMIT_BYTES = 64 * 1024;

class TcpRelay {
  upstream: RelaySocket | undefined = undefined;
  connected = false;
  /** Keys of the backends tried, the current one last. */
  readonly tried: string[] = [];
  /** The client's bytes since connect, until the first byte from the backend; null when not kept. */
  replay: Buffer[] | null = [];
  replayBytes = 0;
  /** The client ended its side: a replacement backend gets end() after the replay. */
  clientEnded = false;
  /** Client listeners are attached once, on the first successful connect. */
  wired = false;

  constructor(
    readonly host: RelayHost,
    readonly client: RelaySocket,
    readonly serviceKey: string,
    readonly clientAddress: string,
    public backend: Backend,
  ) {}

  connect(): void {
    this.tried.push(this.backend.key);
    const upstream: RelaySocket = net.connect({ host: this.backend.ip, port: this.backend.port, allowHalfOpen: true, noDelay: true });
    upstream[kRelay] = this;
    this.upstream = upstream;
    upstream.on('connect', onUpstreamConnect);
    upstream.on('error', onUpstreamError);
    upstream.on('close', onUpstreamClose);
    if (this.host.connectTimeoutMs > 0) {
      upstream.setTimeout(this.host.connectTimeoutMs);
      upstream.once('timeout', onConnectTimeout);
    }
  }
}

/**
 * Takes over an accepted client socket (accepted paused, so nothing is read before a backend answers).
 * No backend → the client is reset at once.
 */
export function relayConnection(host: RelayHost, client: Socket, serviceKey: string): void {
  const socket = client as RelaySocket;
  socket.on('error', onClientError);
  const clientAddress = host.usesClientAddress(serviceKey) ? (socket.remoteAddress ?? '') : '';
  const backend = host.pick(serviceKey, clientAddress);
  if (backend === undefined) {
    socket.resetAndDestroy();
    return;
  }
  const relay = new TcpRelay(host, socket, serviceKey, clientAddress, backend);
  socket[kRelay] = relay;
  host.clients.add(socket);
  socket.on('close', onClientClose);
  relay.connect();
}

/** A connect that did not complete in time: fails like a refused one (so another backend is tried). */
function onConnectTimeout(this: RelaySocket): void {
  const relay = this[kRelay] as TcpRelay | undefined;
  if (relay !== undefined && !relay.connected && relay.upstream === this) this.destroy(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' }));
}

function onUpstreamConnect(this: RelaySocket): void {
  const relay = this[kRelay] as TcpRelay;
  if (relay.host.connectTimeoutMs > 0) this.setTimeout(0);
  if (relay.client.destroyed) {
    this.destroy();
    return;
  }
  relay.connected = true;
  relay.host.connectionOpened(relay.backend);
  const client = relay.client;
  this.on('data', onUpstreamData);
  this.on('end', onUpstreamEnd);
  this.on('drain', onUpstreamDrain);
  if (relay.wired) {
    // A replacement backend: send it what the dead one got, then the client's end if it came.
    for (const chunk of relay.replay ?? []) this.write(chunk);
    if (relay.clientEnded) this.end();
    else client.resume(); // it may have been paused by the dead backend's backpressure
    return;
  }
  relay.wired = true;
  // The client has noDelay from the listener (createServer({ noDelay: true })); the upstream from connect().
  client.on('data', onClientData);
  client.on('end', onClientEnd);
  client.on('drain', onClientDrain);
  // A socket handed over by another process reads from the start: its 'end' (a client that sent its
  // request and FIN at once, nothing left buffered) may have been emitted before anyone listened.
  if (client.readableEnded) onClientEnd.call(client);
  else client.resume();
}

function onClientData(this: RelaySocket, chunk: Buffer): void {
  const relay = this[kRelay] as TcpRelay;
  if (relay.replay !== null) {
    relay.replayBytes += chunk.length;
    if (relay.replayBytes <= REPLAY_LIMIT_BYTES) relay.replay.push(chunk);
    else relay.replay = null;
  }
  const upstream = relay.upstream as RelaySocket;
  if (!upstream.write(chunk) && !upstream.destroyed) this.pause();
}

function onUpstreamData(this: RelaySocket, chunk: Buffer): void {
  const relay = this[kRelay] as TcpRelay;
  relay.replay = null; // the backend answered: from here on its failure is the client's to see
  const client = relay.client;
  if (!client.write(chunk) && !client.destroyed) this.pause();
}

/**
 * The backend failed after the connect but before a byte of answer: move the client to another one
 * and replay its bytes. False when that is not possible (nothing kept, no other backend, attempts used).
 */
function failOver(relay: TcpRelay, dead: RelaySocket): boolean {
  if (relay.replay === null || relay.client.destroyed || relay.tried.length >= relay.host.maxAttempts) return false;
  const next = relay.host.pick(relay.serviceKey, relay.clientAddress, relay.tried);
  if (next === undefined) return false;
  relay.host.connectionClosed(relay.backend);
  relay.connected = false;
  dead.removeListener('data', onUpstreamData);
  dead.removeListener('end', onUpstreamEnd);
  dead[kRelay] = undefined;
  dead.destroy();
  relay.upstream = undefined;
  relay.backend = next;
  relay.connect();
  return true;
}

/** The client drained: let the upstream flow again. */
function onClientDrain(this: RelaySocket): void {
  const upstream = (this[kRelay] as TcpRelay).upstream as RelaySocket;
  if (!upstream.destroyed) upstream.resume();
}

function onUpstreamDrain(this: RelaySocket): void {
  const client = (this[kRelay] as TcpRelay).client;
  if (!client.destroyed) client.resume();
}

/** Half-close: the client finished sending, so does the upstream (it may still answer). */
function onClientEnd(this: RelaySocket): void {
  const relay = this[kRelay] as TcpRelay;
  relay.clientEnded = true;
  const upstream = relay.upstream;
  if (upstream !== undefined && !upstream.destroyed && relay.connected) endSocket(upstream);
}

function onUpstreamEnd(this: RelaySocket): void {
  const relay = this[kRelay] as TcpRelay;
  // A backend that closes before a byte of answer died (or refused the request): try another one.
  if (relay.replay !== null && relay.replayBytes > 0 && failOver(relay, this)) return;
  const client = relay.client;
  if (!client.destroyed) endSocket(client);
}

/**
 * Forwards an end (FIN). When the socket's peer has ended too (nothing more can be read) and every byte
 * was handed to the kernel, closing it sends the same FIN as shutdown-then-close: one syscall and one
 * libuv request fewer per connection (close mode: 2 shutdowns → 1, measured with strace).
 */
function endSocket(socket: RelaySocket): void {
  if (socket.readableEnded && socket.writableLength === 0) socket.destroy();
  else socket.end();
}

function onUpstreamError(this: RelaySocket): void {
  const relay = this[kRelay] as TcpRelay | undefined;
  if (relay === undefined || relay.upstream !== this) return;
  const client = relay.client;
  if (!relay.connected) {
    // Nothing has reached the client yet: try another backend (the refused-connect retry of issue 3).
    if (!client.destroyed && relay.tried.length < relay.host.maxAttempts) {
      const next = relay.host.pick(relay.serviceKey, relay.clientAddress, relay.tried);
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
  if (failOver(relay, this)) return;
  client.destroy();
}

function onUpstreamClose(this: RelaySocket): void {
  const relay = this[kRelay] as TcpRelay | undefined;
  if (relay !== undefined && relay.connected && relay.upstream === this) relay.host.connectionClosed(relay.backend);
}

function onClientError(this: RelaySocket): void {
  // A reset client: the 'close' handler tears the upstream down.
}

function onClientClose(this: RelaySocket, hadError: boolean): void {
  const relay = this[kRelay] as TcpRelay;
  relay.host.clients.delete(this);
  const upstream = relay.upstream;
  if (upstream === undefined || upstream.destroyed) return;
  // A clean close means both directions ended and were forwarded; the upstream ends on its own.
  if (hadError || !relay.connected) upstream.destroy();
  else if (!relay.clientEnded) endSocket(upstream); // an end that was never seen: do not leave the upstream half-open
}
