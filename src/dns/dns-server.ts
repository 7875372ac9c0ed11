import dgram from 'node:dgram';
import net from 'node:net';
import type { Logger } from '../lib/index.js';
import { silentLogger } from '../lib/index.js';
import type { EndpointsSnapshot } from '../model/index.js';
import { ClientAllowList, LOOPBACK_CIDRS } from './client-access.js';
import type { DnsHandler, DnsNext, DnsReply } from './dns-handler.js';
import type { DnsTransport } from './dns-query.js';
import { Rcode, parseQuery } from './dns-query.js';
import { fitUdp, rcodeReply } from './dns-reply.js';
import { buildHandlerChain, composeChain } from './handler-chain.js';
import type { ServiceRecordsHandler } from './service-records-handler.js';
import { emptyZoneTable } from './service-records-handler.js';
import type { Upstream } from './upstream.js';
import { hostUpstreams, parseUpstream } from './upstream.js';
import { buildZoneTable } from './zone-table.js';
import { TcpFrameReader, frameTcp } from './tcp-framing.js';

export interface DnsServerOptions {
  /** Listen address for both UDP and TCP, e.g. `127.0.0.1`. */
  readonly host: string;
  /** Listen port; 0 picks a free one (read it back with `address()`). */
  readonly port: number;
  /** berth's zone. Default `berth.local` (ARCHITECTURE.md). */
  readonly domain?: string;
  /** TTL of every record and of negative answers, in seconds. Default 5 (issue 3: "short TTL"). */
  readonly ttlSeconds?: number;
  /** `IP[:PORT]` upstream resolvers, tried in order. Default: /etc/resolv.conf's nameservers minus this server. */
  readonly upstreams?: readonly string[];
  /** Uniform in [0, 1); orders headless answers. Default Math.random. */
  readonly random?: () => number;
  /** Per upstream attempt, in ms. Default 2000. */
  readonly forwardTimeoutMs?: number;
  /**
   * A TCP connection with no query in flight and no complete query received for this long is closed,
   * in ms. Default 5000 (RFC 7766 §6.2.3: servers close idle connections after seconds, not minutes).
   */
  readonly tcpIdleTimeoutMs?: number;
  /**
   * Concurrent TCP connections. A new one beyond it evicts the connection idle the longest (none in
   * flight); only when every connection has a query in flight is the new one closed. Default 1000.
   */
  readonly maxTcpConnections?: number;
  readonly logger?: Logger;
  /** Where to read the host's resolvers. Default /etc/resolv.conf. */
  readonly resolvConfPath?: string;
  /**
   * Clients (addresses or CIDRs) the server answers and forwards for; others get REFUSED. Default
   * LOOPBACK_CIDRS (127.0.0.0/8, ::1); app/ adds the instance range and `--dns-allow`.
   */
  readonly allow?: readonly string[];
}

/** The options with every default applied (compiled once). */
export interface ResolvedDnsServerOptions {
  readonly host: string;
  readonly port: number;
  readonly domain: string;
  readonly ttlSeconds: number;
  /** undefined: read from resolv.conf at start(), once the port is known. */
  readonly upstreams: readonly Upstream[] | undefined;
  readonly random: () => number;
  readonly forwardTimeoutMs: number;
  readonly tcpIdleTimeoutMs: number;
  readonly maxTcpConnections: number;
  readonly logger: Logger;
  readonly resolvConfPath: string;
  readonly allow: ClientAllowList;
}

/** Applies defaults and validates; throws RangeError on a bad upstream, TTL, domain or client range. */
export function resolveDnsServerOptions(options: DnsServerOptions): ResolvedDnsServerOptions {
  const ttlSeconds = options.ttlSeconds ?? 5;
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 0 || ttlSeconds > 2_147_483_647) throw new RangeError(`invalid DNS TTL ${ttlSeconds}: expected whole seconds ≥ 0`);
  const domain = (options.domain ?? 'berth.local').replace(/\.$/, '').toLowerCase();
  if (domain === '') throw new RangeError('DNS domain must not be empty');
  return {
    host: options.host,
    port: options.port,
    domain,
    ttlSeconds,
    upstreams: options.upstreams?.map(parseUpstream),
    random: options.random ?? Math.random,
    forwardTimeoutMs: options.forwardTimeoutMs ?? 2000,
    tcpIdleTimeoutMs: options.tcpIdleTimeoutMs ?? 5000,
    maxTcpConnections: options.maxTcpConnections ?? 1000,
    logger: options.logger ?? silentLogger,
    resolvConfPath: options.resolvConfPath ?? '/etc/resolv.conf',
    allow: new ClientAllowList(options.allow ?? LOOPBACK_CIDRS),
  };
}

/** Queries one TCP connection may have in flight before we stop reading from it. */
const TCP_PIPELINE = 64;

/** One TCP client: its queries in flight and when it last sent a whole query or got a reply. */
interface TcpClient {
  readonly socket: net.Socket;
  inFlight: number;
  lastActiveAt: number;
}

/**
 * berth's DNS server: UDP and TCP on one host:port, answering through the handler chain
 * (handler-chain.ts). Fed whole endpoints snapshots through `update()`; never reads the store.
 * Malformed input never throws out of a socket callback: requests whose header is readable get FORMERR
 * (or NOTIMP for other opcodes), the rest are dropped; a TCP frame shorter than a header closes the
 * connection.
 */
export class DnsServer {
  private readonly options: ResolvedDnsServerOptions;
  private readonly logger: Logger;
  private udp: dgram.Socket | undefined;
  private tcp: net.Server | undefined;
  /** Least recently active first (an active client is moved to the end): eviction takes the first idle one. */
  private readonly connections = new Map<net.Socket, TcpClient>();
  private handlers: readonly DnsHandler[] = [];
  private records: ServiceRecordsHandler | undefined;
  private chain: DnsNext | undefined;
  private pendingSnapshot: EndpointsSnapshot | undefined;
  private boundPort = 0;

  constructor(options: DnsServerOptions) {
    this.options = resolveDnsServerOptions(options);
    this.logger = this.options.logger.child({ component: 'dns' });
  }

  /** Binds UDP then TCP on the same port; rejects when either cannot bind. */
  async start(): Promise<void> {
    if (this.udp !== undefined) throw new Error('DnsServer already started');
    const { host } = this.options;
    for (let attempt = 0; ; attempt++) {
      const udp = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4' });
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(this.options.port, host, () => {
          udp.off('error', reject);
          resolve();
        });
      });
      const port = udp.address().port;
      const tcp = net.createServer((socket) => this.onTcpConnection(socket));
      try {
        await new Promise<void>((resolve, reject) => {
          tcp.once('error', reject);
          tcp.listen(port, host, () => {
            tcp.off('error', reject);
            resolve();
          });
        });
      } catch (err) {
        udp.close();
        // Port 0 gave a UDP port whose TCP twin is taken: try another.
        if (this.options.port === 0 && attempt < 10 && (err as NodeJS.ErrnoException).code === 'EADDRINUSE') continue;
        throw err;
      }
      udp.on('message', (msg, rinfo) => this.onUdpMessage(msg, rinfo));
      udp.on('error', (err) => this.logger.warn({ err: err.message }, 'dns udp socket error'));
      tcp.on('error', (err) => this.logger.warn({ err: err.message }, 'dns tcp server error'));
      this.udp = udp;
      this.tcp = tcp;
      this.boundPort = port;
      break;
    }
    const upstreams = this.options.upstreams ?? hostUpstreams({ host, port: this.boundPort }, this.options.resolvConfPath);
    const table = this.pendingSnapshot !== undefined ? this.compile(this.pendingSnapshot) : emptyZoneTable(this.options.domain, this.options.ttlSeconds);
    const built = buildHandlerChain({ table, random: this.options.random, upstreams, forwardTimeoutMs: this.options.forwardTimeoutMs, logger: this.logger, allow: this.options.allow });
    this.handlers = built.handlers;
    this.records = built.records;
    this.chain = composeChain(built.handlers);
    this.logger.info({ host, port: this.boundPort, domain: this.options.domain, upstreams: upstreams.map((u) => `${u.host}:${u.port}`), allow: this.options.allow.cidrs }, 'dns server listening');
  }

  /** The bound address (after start()). */
  address(): { readonly host: string; readonly port: number } {
    return { host: this.options.host, port: this.boundPort };
  }

  /** Live counters (for metrics and leak tests). */
  stats(): { readonly tcpConnections: number } {
    return { tcpConnections: this.connections.size };
  }

  /** Swaps in the records of a whole snapshot; the tables are compiled here, once, not per query. */
  update(snapshot: EndpointsSnapshot): void {
    if (this.records === undefined) {
      this.pendingSnapshot = snapshot;
      return;
    }
    this.records.setTable(this.compile(snapshot));
  }

  /** Closes both listeners and every TCP connection, and releases the handlers (pending forwards get nothing). */
  async stop(): Promise<void> {
    const udp = this.udp;
    const tcp = this.tcp;
    this.udp = undefined;
    this.tcp = undefined;
    this.chain = undefined;
    for (const socket of this.connections.keys()) socket.destroy();
    this.connections.clear();
    if (udp !== undefined) await new Promise<void>((resolve) => udp.close(() => resolve()));
    if (tcp !== undefined) await new Promise<void>((resolve) => tcp.close(() => resolve()));
    for (const handler of [...this.handlers].reverse()) await handler.dispose?.();
    this.handlers = [];
    this.records = undefined;
  }

  private compile(snapshot: EndpointsSnapshot) {
    const table = buildZoneTable(snapshot, { domain: this.options.domain, ttlSeconds: this.options.ttlSeconds });
    if (table.skipped.length > 0) this.logger.warn({ revision: snapshot.revision, skipped: table.skipped }, 'dns left out services it cannot name');
    return table;
  }

  /** One request → its reply (sync when the zone answers), never throwing. */
  private answer(raw: Buffer, transport: DnsTransport, client: string): DnsReply | Promise<DnsReply> {
    const chain = this.chain;
    if (chain === undefined) return undefined;
    const parsed = parseQuery(raw, transport, client);
    if (parsed.kind === 'drop') return undefined;
    if (parsed.kind === 'error') return rcodeReply(raw, parsed.rcode);
    const query = parsed.query;
    const servfail = (err: unknown): Buffer => {
      this.logger.error({ err: (err as Error)?.message }, 'dns handler failed');
      return rcodeReply(raw, Rcode.SERVFAIL, query.questionEnd);
    };
    let reply: DnsReply | Promise<DnsReply>;
    try {
      reply = chain(query);
    } catch (err) {
      return servfail(err);
    }
    if (transport === 'tcp') return reply instanceof Promise ? reply.catch(servfail) : reply;
    if (reply instanceof Promise) return reply.then((r) => (r === undefined ? r : fitUdp(query, r)), servfail);
    return reply === undefined ? reply : fitUdp(query, reply);
  }

  private onUdpMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const reply = this.answer(msg, 'udp', rinfo.address);
    if (reply instanceof Promise) {
      void reply.then((r) => this.sendUdp(r, rinfo));
    } else {
      this.sendUdp(reply, rinfo);
    }
  }

  private sendUdp(reply: DnsReply, rinfo: dgram.RemoteInfo): void {
    const udp = this.udp;
    if (reply === undefined || udp === undefined) return;
    udp.send(reply, rinfo.port, rinfo.address, (err) => {
      if (err) this.logger.debug({ err: err.message }, 'dns udp send failed');
    });
  }

  /**
   * A TCP client (RFC 7766): length-framed queries, pipelined up to TCP_PIPELINE in flight. Idle (no
   * query in flight, none completed for tcpIdleTimeoutMs) → closed, also while it trickles bytes of a
   * frame that never completes. At the connection cap, the client idle the longest makes room.
   */
  private onTcpConnection(socket: net.Socket): void {
    if (this.chain === undefined || (this.connections.size >= this.options.maxTcpConnections && !this.evictIdle())) {
      socket.destroy();
      return;
    }
    const client: TcpClient = { socket, inFlight: 0, lastActiveAt: Date.now() };
    this.connections.set(socket, client);
    const idle = this.options.tcpIdleTimeoutMs;
    const touch = (): void => {
      client.lastActiveAt = Date.now();
      if (this.connections.delete(socket)) this.connections.set(socket, client);
    };
    socket.setNoDelay(true);
    // No byte for `idle` ms: close, unless a forwarded answer is still to come (its reply touches).
    socket.setTimeout(idle, () => {
      if (client.inFlight === 0) socket.destroy();
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.connections.delete(socket));
    const reader = new TcpFrameReader();
    const peer = socket.remoteAddress ?? '';
    const send = (reply: DnsReply): void => {
      if (reply === undefined || socket.destroyed) return;
      socket.write(frameTcp(reply));
    };
    socket.on('data', (chunk) => {
      // At most one partial frame (< 2 + 65535 bytes) stays buffered between chunks.
      const messages = reader.push(chunk);
      if (messages.length === 0 && client.inFlight === 0 && Date.now() - client.lastActiveAt > idle) {
        socket.destroy(); // bytes, but no whole query for `idle` ms: a trickle, not a client
        return;
      }
      for (const message of messages) {
        if (message.length < 12) {
          socket.destroy();
          return;
        }
        touch();
        const reply = this.answer(message, 'tcp', peer);
        if (!(reply instanceof Promise)) {
          send(reply);
          continue;
        }
        client.inFlight++;
        if (client.inFlight >= TCP_PIPELINE) socket.pause();
        void reply.then((r) => {
          client.inFlight--;
          touch();
          send(r);
          if (client.inFlight < TCP_PIPELINE && !socket.destroyed) socket.resume();
        });
      }
    });
  }

  /** Closes the client idle the longest (no query in flight); false when every client has one in flight. */
  private evictIdle(): boolean {
    for (const [socket, client] of this.connections) {
      if (client.inFlight > 0) continue;
      this.connections.delete(socket);
      socket.destroy();
      return true;
    }
    return false;
  }
}
