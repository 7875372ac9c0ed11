/*
 * Builds reply messages from a request and position-independent record sections. A section's records may
 * name their owner with the pointer 0xC00C (the question name, always at offset 12), so a reply is only
 * header + the client's question bytes + prepared sections: no encoding per query.
 */
import type { DnsQuery } from './dns-query.js';

const HEADER_BYTES = 12;

/** A prepared answer: rcode, counts and sections already in wire form. */
export interface ReplyTemplate {
  readonly rcode: number;
  /** Authoritative answers get AA; forwarded ones never come through here. */
  readonly authoritative: boolean;
  /** Answer records, one buffer each (shuffled per query when `shuffleAnswers`). */
  readonly answers: readonly Buffer[];
  readonly shuffleAnswers: boolean;
  /** Authority then additional records, concatenated. */
  readonly authority: Buffer;
  readonly authorityCount: number;
  readonly additional: Buffer;
  readonly additionalCount: number;
  /** `answers` concatenated, for the unshuffled path. */
  readonly answerBytes: Buffer;
}

export function replyTemplate(
  parts: Pick<ReplyTemplate, 'rcode' | 'answers'> & Partial<Pick<ReplyTemplate, 'shuffleAnswers' | 'authoritative'>> & {
    readonly authority?: readonly Buffer[];
    readonly additional?: readonly Buffer[];
  },
): ReplyTemplate {
  const authority = parts.authority ?? [];
  const additional = parts.additional ?? [];
  return Object.freeze({
    rcode: parts.rcode,
    authoritative: parts.authoritative ?? true,
    answers: parts.answers,
    shuffleAnswers: (parts.shuffleAnswers ?? false) && parts.answers.length > 1,
    authority: Buffer.concat(authority),
    authorityCount: authority.length,
    additional: Buffer.concat(additional),
    additionalCount: additional.length,
    answerBytes: Buffer.concat(parts.answers),
  });
}

/** Writes the reply for `query` from `template`; `random` in [0, 1) orders shuffled answers (Fisher–Yates). */
export function renderReply(query: DnsQuery, template: ReplyTemplate, random: () => number): Buffer {
  const qEnd = query.questionEnd;
  const size = qEnd + template.answerBytes.length + template.authority.length + template.additional.length;
  const out = Buffer.allocUnsafe(size);
  out.writeUInt16BE(query.id, 0);
  out[2] = 0x80 | (template.authoritative ? 0x04 : 0) | (query.flags >> 8 & 0x01);
  out[3] = 0x80 | template.rcode;
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(template.answers.length, 6);
  out.writeUInt16BE(template.authorityCount, 8);
  out.writeUInt16BE(template.additionalCount, 10);
  query.raw.copy(out, HEADER_BYTES, HEADER_BYTES, qEnd);
  let offset = qEnd;
  if (template.shuffleAnswers) {
    const order = template.answers.slice();
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      const t = order[i] as Buffer;
      order[i] = order[j] as Buffer;
      order[j] = t;
    }
    for (const a of order) offset += a.copy(out, offset);
  } else {
    offset += template.answerBytes.copy(out, offset);
  }
  offset += template.authority.copy(out, offset);
  template.additional.copy(out, offset);
  return out;
}

/**
 * A reply with only a header (and the question when the request has a parsable one): FORMERR, NOTIMP,
 * SERVFAIL, REFUSED. `raw` must be at least 12 bytes.
 */
export function rcodeReply(raw: Buffer, rcode: number, questionEnd = HEADER_BYTES): Buffer {
  const out = Buffer.alloc(questionEnd);
  raw.copy(out, 0, 0, questionEnd);
  out[2] = 0x80 | ((raw[2] as number) & 0x79); // keep opcode and RD; set QR; clear AA, TC
  out[3] = 0x80 | (rcode & 0xf);
  out.writeUInt16BE(questionEnd > HEADER_BYTES ? 1 : 0, 4);
  out.writeUInt16BE(0, 6);
  out.writeUInt16BE(0, 8);
  out.writeUInt16BE(0, 10);
  return out;
}

/** Fits a reply into the client's UDP limit: unchanged when it fits, else header + question with TC set (RFC 2181 §9). */
export function fitUdp(query: DnsQuery, reply: Buffer): Buffer {
  if (reply.length <= query.maxUdpSize) return reply;
  const out = Buffer.from(reply.subarray(0, query.questionEnd));
  out[2] = (out[2] as number) | 0x02;
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(0, 6);
  out.writeUInt16BE(0, 8);
  out.writeUInt16BE(0, 10);
  return out;
}
