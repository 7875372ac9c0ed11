/** Valid-by-default factories and small clients for the dns/ tests. */
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import type { Answer, Question, RecordType } from 'dns-packet';
import type { Endpoint, EndpointsSnapshot, ServiceEndpoints } from '../../model/index.js';
import type { DnsQuery, DnsTransport } from '../dns-query.js';
import { parseQuery } from '../dns-query.js';

export const fixtures = {
  endpoint(overrides: Partial<Endpoint> = {}): Endpoint {
    return { ip: '127.0.10.1', ports: { http: 8080 }, ready: true, slot: 1, instance: 'web-1', ...overrides };
  },
  service(overrides: Partial<ServiceEndpoints> = {}): ServiceEndpoints {
    return {
      grid: 'default',
      service: 'web',
      type: 'ClusterIP',
      clusterIP: '127.96.0.10',
      headless: false,
      externalIPs: [],
      loadBalancerIPs: [],
      ports: [{ name: 'http', protocol: 'TCP', port: 80 }],
      endpoints: [fixtures.endpoint(), fixtures.endpoint({ ip: '127.0.10.2', slot: 2, instance: 'web-2' })],
      sessionAffinity: { type: 'None' },
      publishNotReadyAddresses: false,
      ...overrides,
    };
  },
  snapshot(services: readonly ServiceEndpoints[], revision = 7): EndpointsSnapshot {
    return { revision, services };
  },
};

/** A standard query message (RD set), as a stub resolver sends it. */
export function queryMessage(name: string, type: RecordType, id = 4242): Buffer {
  return dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type, class: 'IN' }] });
}

/** The parsed query the handlers see (from a loopback client unless `client` says otherwise). */
export function dnsQuery(name: string, type: RecordType, transport: DnsTransport = 'udp', id = 4242, client = '127.0.0.1'): DnsQuery {
  const parsed = parseQuery(queryMessage(name, type, id), transport, client);
  if (parsed.kind !== 'query') throw new Error(`fixture query did not parse: ${parsed.kind}`);
  return parsed.query;
}

/** `A 1.2.3.4`, `SRV 0 100 80 web.default.berth.local`, `CNAME db.example.org`, `SOA berth.local` */
export function describeRecord(a: Answer): string {
  switch (a.type) {
    case 'A':
    case 'AAAA':
    case 'CNAME':
      return `${a.type} ${a.data}`;
    case 'SRV':
      return `SRV ${a.data.priority ?? 0} ${a.data.weight ?? 0} ${a.data.port} ${a.data.target}`;
    case 'SOA':
      return `SOA ${a.name}`;
    default:
      return a.type;
  }
}

/** A decoded reply with every section present (dns-packet's types leave them optional). */
export interface DecodedReply {
  readonly id: number;
  readonly flags: number;
  readonly questions: Question[];
  readonly answers: Answer[];
  readonly authorities: Answer[];
  readonly additionals: Answer[];
}

export function summarize(reply: Buffer): { rcode: string; answers: string[]; authority: string[]; additional: string[]; packet: DecodedReply } {
  const decoded = dnsPacket.decode(reply) as ReturnType<typeof dnsPacket.decode> & { rcode?: string };
  const packet: DecodedReply = {
    id: decoded.id ?? 0,
    flags: decoded.flags ?? 0,
    questions: decoded.questions ?? [],
    answers: decoded.answers ?? [],
    authorities: decoded.authorities ?? [],
    additionals: decoded.additionals ?? [],
  };
  return {
    rcode: decoded.rcode ?? 'NOERROR',
    answers: packet.answers.map(describeRecord),
    authority: packet.authorities.map(describeRecord),
    additional: packet.additionals.map((a) => `${a.name} ${describeRecord(a)}`),
    packet,
  };
}

/**
 * Sends one UDP message and resolves with the first reply, or undefined after `timeoutMs`. `from`
 * binds the client socket to that address first; `to` is the server's (default 127.0.0.1).
 */
export function udpExchange(port: number, message: Buffer, timeoutMs = 1000, options: { from?: string; to?: string } = {}): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      resolve(undefined);
    }, timeoutMs);
    socket.on('message', (msg) => {
      clearTimeout(timer);
      socket.close();
      resolve(msg);
    });
    const send = () => socket.send(message, port, options.to ?? '127.0.0.1');
    if (options.from) socket.bind(0, options.from, send);
    else send();
  });
}

/** Sends framed messages over one TCP connection and resolves with the replies (or what came before close/timeout). */
export function tcpExchange(port: number, messages: readonly Buffer[], timeoutMs = 1000, options: { from?: string; to?: string } = {}): Promise<Buffer[]> {
  return new Promise((resolve) => {
    const replies: Buffer[] = [];
    let buffered = Buffer.alloc(0);
    const socket = net.connect({ host: options.to ?? '127.0.0.1', port, ...(options.from ? { localAddress: options.from } : {}) });
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(replies);
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on('connect', () => {
      for (const m of messages) {
        const frame = Buffer.alloc(2 + m.length);
        frame.writeUInt16BE(m.length, 0);
        m.copy(frame, 2);
        socket.write(frame);
      }
    });
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const len = buffered.readUInt16BE(0);
        replies.push(buffered.subarray(2, 2 + len));
        buffered = buffered.subarray(2 + len);
      }
      if (replies.length >= messages.length) finish();
    });
    socket.on('error', finish);
    socket.on('close', finish);
  });
}
