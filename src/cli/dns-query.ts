import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Answer, DecodedPacket, RecordType } from 'dns-packet';
import * as dnsPacket from 'dns-packet';

/** What one UDP question got back. */
export interface DnsReply {
  /** `NOERROR`, `NXDOMAIN`, `SERVFAIL`, … (dns-packet's names). */
  readonly rcode: string;
  readonly answers: readonly Answer[];
  readonly authorities: readonly Answer[];
  /** The TC bit: the answer did not fit in a UDP datagram. */
  readonly truncated: boolean;
}

export class DnsTimeoutError extends Error {
  constructor(server: string, timeoutMs: number) {
    super(`no answer from the DNS server at ${server} within ${timeoutMs / 1000} s`);
    this.name = 'DnsTimeoutError';
  }
}

/**
 * Asks one question over UDP (recursion desired) and resolves with the reply whose id matches;
 * datagrams that do not decode or carry another id are ignored, as resolvers do.
 * @param server  `{ host, port }` of the DNS server
 * @throws DnsTimeoutError after `timeoutMs` without a matching reply
 */
export function queryDns(
  server: { readonly host: string; readonly port: number },
  question: { readonly name: string; readonly type: RecordType },
  options: { readonly timeoutMs: number },
): Promise<DnsReply> {
  const id = randomInt(0, 65_536);
  const query = dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name: question.name, type: question.type, class: 'IN' }] });
  const socket = createSocket(isIPv6(server.host) ? 'udp6' : 'udp4');
  return new Promise<DnsReply>((resolve, reject) => {
    const timer = setTimeout(() => finish(() => reject(new DnsTimeoutError(`${server.host}:${server.port}`, options.timeoutMs))), options.timeoutMs);
    const finish = (settle: () => void): void => {
      clearTimeout(timer);
      socket.close();
      settle();
    };
    socket.on('error', (e) => finish(() => reject(e)));
    socket.on('message', (message: Buffer) => {
      let reply: DecodedPacket;
      try {
        reply = dnsPacket.decode(message);
      } catch {
        return;
      }
      if (reply.id !== id || reply.type !== 'response') return;
      finish(() =>
        resolve({
          rcode: (reply as DecodedPacket & { rcode?: string }).rcode ?? 'NOERROR',
          answers: reply.answers ?? [],
          authorities: reply.authorities ?? [],
          truncated: reply.flag_tc,
        }),
      );
    });
    socket.send(query, server.port, server.host);
  });
}

/** One answer as dig prints it: `web.default.berth.local.  5  IN  A  127.96.0.1`. */
export function formatAnswer(answer: Answer): string {
  const ttl = 'ttl' in answer && answer.ttl !== undefined ? answer.ttl : 0;
  return [absolute(answer.name), String(ttl), 'IN', answer.type, answerData(answer)].join('  ');
}

function answerData(answer: Answer): string {
  switch (answer.type) {
    case 'A':
    case 'AAAA':
      return answer.data;
    case 'CNAME':
    case 'NS':
    case 'PTR':
    case 'DNAME':
      return absolute(answer.data);
    case 'SRV':
      return `${answer.data.priority ?? 0} ${answer.data.weight ?? 0} ${answer.data.port} ${absolute(answer.data.target)}`;
    case 'MX':
      return `${answer.data.preference ?? 0} ${absolute(answer.data.exchange)}`;
    case 'TXT': {
      const parts = Array.isArray(answer.data) ? answer.data : [answer.data];
      return parts.map((p) => JSON.stringify(String(p))).join(' ');
    }
    case 'SOA':
      return `${absolute(answer.data.mname)} ${absolute(answer.data.rname)} ${answer.data.serial ?? 0} ${answer.data.refresh ?? 0} ${answer.data.retry ?? 0} ${answer.data.expire ?? 0} ${answer.data.minimum ?? 0}`;
    default:
      return JSON.stringify('data' in answer ? answer.data : null);
  }
}

function absolute(name: string): string {
  return name.endsWith('.') ? name : `${name}.`;
}
