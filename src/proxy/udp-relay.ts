/*
 * UDP: one flow per client address (ip:port), each with its own socket towards the backend chosen when
 * the flow began; replies go back to the client from the listening socket, so the client sees the
 * address it sent to. Flows end after `idleTimeoutMs` without traffic either way (swept, not one timer
 * per packet); a flow to a backend that left the snapshot lives on until idle (UDP has no drain).
 */
import dgram from 'node:dgram';
import type { RemoteInfo, Socket as DgramSocket } from 'node:dgram';
import net from 'node:net';
import type { Clock } from '../lib/index.js';
import type { Backend } from './proxy-table.js';

export interface UdpRelayHost {
  pick(serviceKey: string, clientAddress: string): Backend | undefined;
}

interface UdpFlow {
  readonly socket: DgramSocket;
  readonly clientAddress: string;
  readonly clientPort: number;
  readonly backend: Backend;
  lastSeen: number;
}

export interface UdpListenerOptions {
  readonly clock: Clock;
  readonly idleTimeoutMs: number;
}

/** One bound UDP address; `serviceKey` is rewritten by sync when the address changes hands. */
export class UdpListener {
  serviceKey: string;
  private readonly socket: DgramSocket;
  private readonly flows = new Map<string, UdpFlow>();
  private sweeper: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly relayHost: UdpRelayHost,
    readonly host: string,
    readonly port: number,
    serviceKey: string,
    private readonly options: UdpListenerOptions,
  ) {
    this.serviceKey = serviceKey;
    this.socket = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4' });
    this.socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
  }

  /** Resolves once bound; rejects with the bind error (EADDRINUSE, EADDRNOTAVAIL…). */
  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => reject(error);
      this.socket.once('error', onError);
      this.socket.bind({ address: this.host, port: this.port, exclusive: true }, () => {
        this.socket.off('error', onError);
        // After bind, a send error (ICMP unreachable) must not crash the process.
        this.socket.on('error', () => {});
        const period = Math.max(50, Math.floor(this.options.idleTimeoutMs / 2));
        this.sweeper = setInterval(() => this.sweep(), period);
        this.sweeper.unref();
        resolve();
      });
    });
  }

  get flowCount(): number {
    return this.flows.size;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    for (const flow of this.flows.values()) closeQuietly(flow.socket);
    this.flows.clear();
    try {
      this.socket.close();
    } catch {
      // never bound (the bind failed): nothing to close
    }
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    const key = `${rinfo.address}:${rinfo.port}`;
    let flow = this.flows.get(key);
    if (flow === undefined) {
      const backend = this.relayHost.pick(this.serviceKey, rinfo.address);
      if (backend === undefined) return; // no backends: dropped, as a closed port would
      flow = this.openFlow(key, rinfo, backend);
    }
    flow.lastSeen = this.options.clock.now();
    flow.socket.send(msg, flow.backend.port, flow.backend.ip);
  }

  private openFlow(key: string, rinfo: RemoteInfo, backend: Backend): UdpFlow {
    const socket = dgram.createSocket({ type: net.isIPv6(backend.ip) ? 'udp6' : 'udp4' });
    const flow: UdpFlow = { socket, clientAddress: rinfo.address, clientPort: rinfo.port, backend, lastSeen: this.options.clock.now() };
    socket.on('message', (reply) => {
      flow.lastSeen = this.options.clock.now();
      if (!this.closed) this.socket.send(reply, flow.clientPort, flow.clientAddress);
    });
    socket.on('error', () => {
      // e.g. ECONNREFUSED from an ICMP port unreachable: end the flow; the client's next datagram starts a new one.
      if (this.flows.get(key) === flow) this.flows.delete(key);
      closeQuietly(socket);
    });
    this.flows.set(key, flow);
    return flow;
  }

  private sweep(): void {
    const now = this.options.clock.now();
    for (const [key, flow] of this.flows) {
      if (now - flow.lastSeen >= this.options.idleTimeoutMs) {
        this.flows.delete(key);
        closeQuietly(flow.socket);
      }
    }
  }
}

function closeQuietly(socket: DgramSocket): void {
  try {
    socket.close();
  } catch {
    // already closed
  }
}
