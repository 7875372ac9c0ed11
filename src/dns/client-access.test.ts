import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { ClientAccessHandler, ClientAllowList, LOOPBACK_CIDRS } from './client-access.js';
import type { DnsNext } from './dns-handler.js';
import { DnsServer } from './dns-server.js';
import { dnsQuery, fixtures as f, queryMessage, summarize, tcpExchange, udpExchange } from './testing/dns-fixtures.js';
import type { FakeUpstream } from './testing/fake-upstream.js';
import { startFakeUpstream } from './testing/fake-upstream.js';

describe('ClientAllowList', () => {
  it('allows loopback (v4, v6 and v4-mapped) by default and nothing else', () => {
    const list = new ClientAllowList(LOOPBACK_CIDRS);
    const cases: [string, boolean][] = [
      ['127.0.0.1', true],
      ['127.10.3.4', true],
      ['::1', true],
      ['::ffff:127.0.0.1', true],
      ['192.0.2.5', false],
      ['::ffff:192.0.2.5', false],
      ['10.0.0.1', false],
      ['fe80::1', false],
      ['', false],
      ['not-an-ip', false],
    ];
    for (const [address, allowed] of cases) assert.equal(list.allows(address), allowed, address);
  });

  it('widens to the CIDRs and single addresses it is given', () => {
    const list = new ClientAllowList([...LOOPBACK_CIDRS, '10.1.0.0/16', '192.0.2.7', 'fd00::/8']);
    assert.equal(list.allows('10.1.200.3'), true);
    assert.equal(list.allows('10.2.0.1'), false);
    assert.equal(list.allows('192.0.2.7'), true);
    assert.equal(list.allows('192.0.2.8'), false);
    assert.equal(list.allows('fd12::5'), true);
  });

  it('refuses an entry that is no address or CIDR, naming it', () => {
    for (const bad of ['10.0.0.0/33', 'fd00::/129', 'example.org', '10.0.0/8', '']) {
      assert.throws(() => new ClientAllowList([bad]), (e: Error) => e instanceof RangeError && e.message.includes(`"${bad}"`), bad);
    }
  });
});

describe('ClientAccessHandler', () => {
  const handler = new ClientAccessHandler(new ClientAllowList([...LOOPBACK_CIDRS, '10.0.0.0/8']));
  let called = 0;
  const next: DnsNext = (q) => {
    called++;
    return Buffer.from(q.raw);
  };

  it('passes allowed clients on and answers REFUSED to the others without calling next', () => {
    const table: [string, 'pass' | 'REFUSED'][] = [
      ['127.0.0.1', 'pass'],
      ['10.3.4.5', 'pass'],
      ['::1', 'pass'],
      ['192.0.2.9', 'REFUSED'],
      ['::ffff:203.0.113.1', 'REFUSED'],
      ['', 'REFUSED'],
    ];
    for (const [client, expected] of table) {
      called = 0;
      const reply = handler.handle(dnsQuery('example.org', 'A', 'udp', 7, client), next) as Buffer;
      if (expected === 'pass') {
        assert.equal(called, 1, client);
      } else {
        assert.equal(called, 0, `${client} must not reach the zone or the forwarder`);
        const s = summarize(reply);
        assert.equal(s.rcode, 'REFUSED', client);
        assert.equal(s.packet.id, 7);
        assert.equal(s.packet.questions[0]?.name, 'example.org', 'the question is echoed');
      }
    }
  });
});

describe('DnsServer refuses clients outside its allow list, over real sockets', { timeout: 30_000 }, () => {
  let upstream: FakeUpstream;
  let server: DnsServer;
  let port: number;

  before(async () => {
    upstream = await startFakeUpstream((q) => ({ type: 'response', flags: 0x8180, answers: [{ name: q.questions?.[0]?.name ?? '', type: 'A', ttl: 60, data: '192.0.2.77' }] }));
    // Only 127.0.0.2 may ask: a client on 127.0.0.3 stands for one on another network.
    server = new DnsServer({ host: '127.0.0.1', port: 0, upstreams: [`127.0.0.1:${upstream.port}`], allow: ['127.0.0.2/32'] });
    server.update(f.snapshot([f.service()]));
    await server.start();
    port = server.address().port;
  });

  after(async () => {
    await server.stop();
    await upstream.close();
  });

  it('answers and forwards for an allowed client over UDP and TCP', async () => {
    assert.deepEqual(summarize((await udpExchange(port, queryMessage('web.default.berth.local', 'A'), 1000, { from: '127.0.0.2' })) as Buffer).answers, ['A 127.96.0.10']);
    assert.deepEqual(summarize((await udpExchange(port, queryMessage('example.org', 'A'), 2000, { from: '127.0.0.2' })) as Buffer).answers, ['A 192.0.2.77']);
    const [tcp] = await tcpExchange(port, [queryMessage('example.org', 'A')], 2000, { from: '127.0.0.2' });
    assert.deepEqual(summarize(tcp as Buffer).answers, ['A 192.0.2.77']);
  });

  it('answers REFUSED to any other client, for its zone and for other names, and forwards nothing', async () => {
    const forwarded = upstream.received.length;
    for (const name of ['web.default.berth.local', 'example.org']) {
      const udp = summarize((await udpExchange(port, queryMessage(name, 'A'), 1000, { from: '127.0.0.3' })) as Buffer);
      assert.equal(udp.rcode, 'REFUSED', `udp ${name}`);
      assert.deepEqual(udp.answers, []);
      const [tcp] = await tcpExchange(port, [queryMessage(name, 'A')], 1000, { from: '127.0.0.3' });
      assert.equal(summarize(tcp as Buffer).rcode, 'REFUSED', `tcp ${name}`);
    }
    assert.equal(upstream.received.length, forwarded, 'a refused query never reaches the upstream');
  });
});

/** The first IPv4 address of this machine that is not loopback, or undefined. */
function nonLoopbackAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address;
}

const outside = nonLoopbackAddress();
describe('DnsServer with the default allow list on a non-loopback address', { timeout: 30_000, skip: outside ? false : 'this machine has no non-loopback IPv4 address' }, () => {
  let server: DnsServer;
  let upstream: FakeUpstream;
  before(async () => {
    upstream = await startFakeUpstream((q) => ({ type: 'response', flags: 0x8180, answers: [{ name: q.questions?.[0]?.name ?? '', type: 'A', ttl: 60, data: '192.0.2.78' }] }));
    server = new DnsServer({ host: outside as string, port: 0, upstreams: [`127.0.0.1:${upstream.port}`] });
    await server.start();
  });
  after(async () => {
    await server.stop();
    await upstream.close();
  });

  it('is no open resolver: a query from that address is REFUSED and not forwarded', async () => {
    const reply = await udpExchange(server.address().port, queryMessage('example.org', 'A'), 1000, { from: outside as string, to: outside as string });
    assert.equal(summarize(reply as Buffer).rcode, 'REFUSED');
    assert.equal(upstream.received.length, 0);
  });
});
