import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import { Rcode, keyIsUnder, keyToName, nameKey, parseQuery } from './dns-query.js';
import { fitUdp, rcodeReply } from './dns-reply.js';
import { dnsQuery, queryMessage } from './testing/dns-fixtures.js';

const header = (qd: number, flags = 0x0100) => {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(0xabcd, 0);
  b.writeUInt16BE(flags, 2);
  b.writeUInt16BE(qd, 4);
  return b;
};

describe('parseQuery', { timeout: 30_000 }, () => {
  const cases: { name: string; raw: Buffer; expect: string }[] = [
    { name: 'drops fewer bytes than a header', raw: Buffer.from([1, 2, 3]), expect: 'drop' },
    { name: 'drops responses (no reflection loops)', raw: queryMessage('a.b', 'A').fill(0x81, 2, 3), expect: 'drop' },
    { name: 'answers FORMERR to a header without a question', raw: header(0), expect: 'error:1' },
    { name: 'answers FORMERR to two questions', raw: Buffer.concat([header(2), Buffer.from([1, 97, 0, 0, 1, 0, 1])]), expect: 'error:1' },
    { name: 'answers FORMERR to a truncated name', raw: Buffer.concat([header(1), Buffer.from([5, 97, 98])]), expect: 'error:1' },
    { name: 'answers FORMERR to a compressed question name', raw: Buffer.concat([header(1), Buffer.from([0xc0, 12, 0, 1, 0, 1])]), expect: 'error:1' },
    { name: 'answers FORMERR to a question without type and class', raw: Buffer.concat([header(1), Buffer.from([1, 97, 0, 0])]), expect: 'error:1' },
    { name: 'answers NOTIMP to another opcode', raw: header(1, 0x2800), expect: 'error:4' },
    { name: 'parses a standard query', raw: queryMessage('Web.Default.berth.local', 'SRV'), expect: 'query' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = parseQuery(c.raw, 'udp');
      assert.equal(r.kind === 'error' ? `error:${r.rcode}` : r.kind, c.expect);
    });
  }

  it('lowercases the key and reads type, id and the question end', () => {
    const q = dnsQuery('Web.Default.berth.local', 'SRV', 'tcp', 99);
    assert.equal(q.key, nameKey('web.default.berth.local'));
    assert.equal(keyToName(q.key), 'web.default.berth.local');
    assert.equal(q.type, 33);
    assert.equal(q.id, 99);
    assert.equal(q.questionEnd, q.raw.length);
    assert.equal(q.maxUdpSize, 512);
  });

  it('reads the EDNS payload size', () => {
    const raw = dnsPacket.encode({ type: 'query', id: 1, questions: [{ name: 'a.b', type: 'A' }], additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] });
    const r = parseQuery(raw, 'udp');
    assert.ok(r.kind === 'query');
    assert.equal(r.query.maxUdpSize, 1232);
  });

  it('matches zone suffixes on label boundaries only', () => {
    assert.ok(keyIsUnder(nameKey('a.berth.local'), nameKey('berth.local')));
    assert.ok(keyIsUnder(nameKey('berth.local'), nameKey('berth.local')));
    assert.ok(!keyIsUnder(nameKey('xberth.local'), nameKey('berth.local')));
    assert.ok(!keyIsUnder(nameKey('local'), nameKey('berth.local')));
  });
});

describe('replies', { timeout: 30_000 }, () => {
  it('FORMERR keeps the id and RD and sets QR', () => {
    const r = rcodeReply(header(0), Rcode.FORMERR);
    assert.equal(r.readUInt16BE(0), 0xabcd);
    assert.equal(r.readUInt16BE(2), 0x8181);
    assert.equal(r.length, 12);
  });

  it('truncates a UDP reply over the client limit to header and question with TC', () => {
    const q = dnsQuery('a.b', 'A');
    const big = Buffer.concat([q.raw, Buffer.alloc(600)]);
    const out = fitUdp(q, big);
    assert.equal(out.length, q.questionEnd);
    assert.ok(((out[2] as number) & 0x02) !== 0);
    assert.equal(fitUdp(q, q.raw), q.raw);
  });
});
