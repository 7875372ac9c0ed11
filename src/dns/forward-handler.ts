import dgram from 'node:dgram';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import type { Logger } from '../lib/index.js';
import { silentLogger } from '../lib/index.js';
import type { DnsHandler, DnsNext, DnsReply } from './dns-handler.js';
import type { DnsQuery } from './dns-query.js';
import { Rcode } from './dns-query.js';
import { rcodeReply } from './dns-reply.js';
import type { Upstream } from './upstream.js';
import { TcpFrameReader, frameTcp } from './tcp-framing.js';

export interface ForwardHandlerOptions {
  readonly upstreams: readonly Upstream[];
  /** Per upstream attempt, in ms. Default 2000 (as CoreDNS's forward plugin read timeout). */
  readonly timeoutMs?: number;
  readonly logger?: Logger;
  /** Outgoing query ids; default crypto.randomInt (ids guard against spoofed answers, so not Math.random). */
  readonly randomId?: () => number;
}

interface Pending {
  readonly upstream: Upstream;
  readonly resolve: (reply: Buffer | undefined) => void;
  readonly timer: NodeJS.Timeout;
}

/** Most queries in flight at once over UDP (one 16-bit id space for the shared socket). */
const MAX_IN_FLIGHT = 32_768;

/**
 * Forwards every query it gets to the upstreams in order: UDP for UDP clients (TCP when the UDP answer
 * comes back truncated), TCP for TCP clients; each attempt times out after `timeoutMs` and the next
 * upstream is tried; SERVFAIL when all fail. The query goes out under a fresh id and the reply comes back
 * under the client's, so concurrent clients that chose the same id never get each other's answers.
 * With no upstreams it passes the query on.
 */
export class ForwardHandler implements DnsHandler {
  readonly name = 'forward';
  private readonly upstreams: readonly Upstream[];
  private readonly timeoutMs: number;
  private readonly logger: Logger;
  private readonly randomId: () => number;
  private readonly pending = new Map<number, Pending>();
  private readonly sockets = new Map<'udp4' | 'udp6', dgram.Socket>();
  private readonly tcpSockets = new Set<net.Socket>();
  private disposed = false;

  constructor(options: ForwardHandlerOptions) {
    this.upstreams = options.upstreams;
    this.timeoutMs = options.timeoutMs ?? 2000;
    this.logger = options.logger ?? silentLogger;
    this.randomId = options.randomId ?? (() => randomInt(65536));
  }

  handle(query: DnsQuery, next: DnsNext): DnsReply | Promise<DnsReply> {
    if (this.upstreams.length === 0) return next(query);
    return this.forward(query);
  }

  private async forward(query: DnsQuery): Promise<DnsReply> {
    for (const upstream of this.upstreams) {
      if (this.disposed) break;
      let reply = query.transport === 'tcp' ? await this.exchangeTcp(upstream, query.raw) : await this.exchangeUdp(upstream, query.raw);
      if (reply !== undefined && query.transport === 'udp' && ((reply[2] as number) & 0x02) !== 0) {
        reply = (await this.exchangeTcp(upstream, query.raw)) ?? reply;
      }
      if (reply === undefined) {
        this.logger.debug({ upstream: `${upstream.host}:${upstream.port}` }, 'dns upstream failed');
        continue;
      }
      const out = Buffer.from(reply);
      out.writeUInt16BE(query.id, 0);
      return out;
    }
    return rcodeReply(query.raw, Rcode.SERVFAIL, query.questionEnd);
  }

  private exchangeUdp(upstream: Upstream, raw: Buffer): Promise<Buffer | undefined> {
    if (this.pending.size >= MAX_IN_FLIGHT) return Promise.resolve(undefined);
    let id = this.randomId() & 0xffff;
    while (this.pending.has(id)) id = (id + 1) & 0xffff;
    const message = Buffer.from(raw);
    message.writeUInt16BE(id, 0);
    const socket = this.udpSocket(net.isIPv6(upstream.host) ? 'udp6' : 'udp4');
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(undefined);
      }, this.timeoutMs);
      this.pending.set(id, { upstream, resolve, timer });
      socket.send(message, upstream.port, upstream.host, (err) => {
        if (err === null || err === undefined) return;
        this.settle(id, undefined);
      });
    });
  }

  private settle(id: number, reply: Buffer | undefined): void {
    const p = this.pending.get(id);
    if (p === undefined) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.resolve(reply);
  }

  private udpSocket(type: 'udp4' | 'udp6'): dgram.Socket {
    const existing = this.sockets.get(type);
    if (existing !== undefined) return existing;
    const socket = dgram.createSocket(type);
    socket.on('message', (msg, rinfo) => {
      if (msg.length < 12 || ((msg[2] as number) & 0x80) === 0) return;
      const id = msg.readUInt16BE(0);
      const p = this.pending.get(id);
      // Only the upstream we asked may answer (a cheap guard against off-path spoofing).
      if (p === undefined || p.upstream.port !== rinfo.port || p.upstream.host !== rinfo.address) return;
      this.settle(id, msg);
    });
    socket.on('error', (err) => this.logger.warn({ err: err.message }, 'dns forward socket error'));
    socket.unref();
    this.sockets.set(type, socket);
    return socket;
  }

  private exchangeTcp(upstream: Upstream, raw: Buffer): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const socket = net.connect({ host: upstream.host, port: upstream.port });
      this.tcpSockets.add(socket);
      const reader = new TcpFrameReader();
      let done = false;
      const finish = (reply: Buffer | undefined) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.tcpSockets.delete(socket);
        socket.destroy();
        resolve(reply);
      };
      const timer = setTimeout(() => finish(undefined), this.timeoutMs);
      socket.on('connect', () => socket.write(frameTcp(raw)));
      socket.on('data', (chunk: Buffer) => {
        const [reply] = reader.push(chunk);
        if (reply === undefined) return;
        finish(reply.length >= 12 && reply.readUInt16BE(0) === raw.readUInt16BE(0) ? reply : undefined);
      });
      socket.on('error', () => finish(undefined));
      socket.on('close', () => finish(undefined));
    });
  }

  dispose(): void {
    this.disposed = true;
    for (const id of [...this.pending.keys()]) this.settle(id, undefined);
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
    for (const s of this.tcpSockets) s.destroy();
    this.tcpSockets.clear();
  }
}
