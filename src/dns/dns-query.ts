/*
 * The parsed view of one request that every handler sees. Parsing is deliberately minimal (header and the
 * one question, plus the EDNS payload size) so the hot path never decodes a whole packet; the raw bytes are
 * kept for the forwarder and for copying the question into the reply unchanged (the client's 0x20 casing).
 */

export type DnsTransport = 'udp' | 'tcp';

export interface DnsQuery {
  /** The whole request message as received (without the TCP length prefix). */
  readonly raw: Buffer;
  readonly id: number;
  /** Header bytes 2–3 as received (QR/opcode/AA/TC/RD, RA/Z/rcode). */
  readonly flags: number;
  /** Question name in wire form (length-prefixed labels, ending in 0), ASCII-lowercased, as a latin1 string: the table key. */
  readonly key: string;
  /** Numeric QTYPE (1 = A, 28 = AAAA, 33 = SRV, 5 = CNAME, 6 = SOA, 255 = ANY). */
  readonly type: number;
  readonly qclass: number;
  /** Offset just past the question (header + QNAME + QTYPE + QCLASS). */
  readonly questionEnd: number;
  readonly transport: DnsTransport;
  /** The client's address as the socket saw it (`127.0.0.1`, `::ffff:192.0.2.5`); '' when unknown. */
  readonly client: string;
  /** Largest reply the client accepts over UDP in bytes: 512, or its EDNS payload size (capped at 4096). */
  readonly maxUdpSize: number;
}

export type ParseResult =
  | { readonly kind: 'query'; readonly query: DnsQuery }
  /** The header is readable but the message is not a well-formed query: answer with this rcode. */
  | { readonly kind: 'error'; readonly rcode: number }
  /** Not even a header, or a response (never answer responses: no reflection loops). */
  | { readonly kind: 'drop' };

export const Rcode = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
export const QType = { A: 1, NS: 2, CNAME: 5, SOA: 6, AAAA: 28, SRV: 33, OPT: 41, ANY: 255 } as const;

const HEADER_BYTES = 12;
const DROP: ParseResult = { kind: 'drop' };
const FORMERR: ParseResult = { kind: 'error', rcode: Rcode.FORMERR };
const NOTIMP: ParseResult = { kind: 'error', rcode: Rcode.NOTIMP };

/** Parses a request from `client` (its address); never throws, whatever the bytes. */
export function parseQuery(raw: Buffer, transport: DnsTransport, client = ''): ParseResult {
  if (raw.length < HEADER_BYTES) return DROP;
  const flags = raw.readUInt16BE(2);
  if ((flags & 0x8000) !== 0) return DROP;
  if (((flags >> 11) & 0xf) !== 0) return NOTIMP;
  if (raw.readUInt16BE(4) !== 1) return FORMERR;
  // QNAME: uncompressed labels (a pointer in the first name of a message can only point at itself).
  let offset = HEADER_BYTES;
  for (;;) {
    if (offset >= raw.length) return FORMERR;
    const len = raw[offset] as number;
    if (len === 0) break;
    if (len > 63) return FORMERR;
    offset += len + 1;
  }
  const nameEnd = offset + 1;
  if (nameEnd - HEADER_BYTES > 255 || nameEnd + 4 > raw.length) return FORMERR;
  const questionEnd = nameEnd + 4;
  let maxUdpSize = 512;
  // EDNS: an OPT record (root owner, type 41) as the only additional record right after the question.
  if (raw.readUInt16BE(6) === 0 && raw.readUInt16BE(8) === 0 && raw.readUInt16BE(10) === 1 && questionEnd + 11 <= raw.length) {
    if (raw[questionEnd] === 0 && raw.readUInt16BE(questionEnd + 1) === QType.OPT) {
      maxUdpSize = Math.min(4096, Math.max(512, raw.readUInt16BE(questionEnd + 3)));
    }
  }
  return {
    kind: 'query',
    query: {
      raw,
      id: raw.readUInt16BE(0),
      flags,
      key: asciiLower(raw.toString('latin1', HEADER_BYTES, nameEnd)),
      type: raw.readUInt16BE(nameEnd),
      qclass: raw.readUInt16BE(nameEnd + 2),
      questionEnd,
      transport,
      client,
      maxUdpSize,
    },
  };
}

/** The wire-form key of a dotted name (`Web.Default.berth.local` → `\x03web\x07default\x05berth\x05local\x00`); throws on a label over 63 bytes or a name over 255. */
export function nameKey(name: string): string {
  const labels = name.replace(/\.$/, '').split('.').filter((l) => l.length > 0);
  let key = '';
  for (const label of labels) {
    if (label.length > 63) throw new RangeError(`DNS label longer than 63 bytes: ${label}`);
    key += String.fromCharCode(label.length) + label;
  }
  key += '\0';
  if (key.length > 255) throw new RangeError(`DNS name longer than 255 bytes: ${name}`);
  return asciiLower(key);
}

/** The dotted form of a wire-form key (for logs and tests). */
export function keyToName(key: string): string {
  const labels: string[] = [];
  let offset = 0;
  while (offset < key.length) {
    const len = key.charCodeAt(offset);
    if (len === 0) break;
    labels.push(key.slice(offset + 1, offset + 1 + len));
    offset += len + 1;
  }
  return labels.join('.');
}

/** True when `key` is `suffix` or ends in it on a label boundary. */
export function keyIsUnder(key: string, suffix: string): boolean {
  if (key.length < suffix.length || !key.endsWith(suffix)) return false;
  const boundary = key.length - suffix.length;
  let offset = 0;
  while (offset < boundary) offset += key.charCodeAt(offset) + 1;
  return offset === boundary;
}

// DNS names compare case-insensitively in ASCII only (RFC 4343); String#toLowerCase would also fold latin1.
function asciiLower(s: string): string {
  return /[A-Z]/.test(s) ? s.replace(/[A-Z]+/g, (m) => m.toLowerCase()) : s;
}
