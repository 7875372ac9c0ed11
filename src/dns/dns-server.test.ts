import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { DnsServer } from './dns-server.js';
import { fixtures as f, queryMessage, summarize, tcpExchange, udpExchange } from './testing/dns-fixtures.js';
import type { FakeUpstream } from './testing/fake-upstream.js';
import { deadPort, startFakeUpstream } from './testing/fake-upstream.js';

const snapshot = f.snapshot([
  f.service({ endpoints: [1, 2, 3].map((i) => f.endpoint({ ip: `127.0.10.${i}`, slot: i })) }),
  f.service({
    service: 'db',
    clusterIP: undefined,
    headless: true,
    ports: [{ name: 'pg', protocol: 'TCP', port: 5432 }],
    endpoints: [1, 2, 3, 4, 5].map((i) => f.endpoint({ ip: `127.0.20.${i}`, slot: i, ports: { pg: 15430 + i } })),
  }),
  f.service({ service: 'ext', type: 'ExternalName', clusterIP: undefined, externalName: 'db.example.org', endpoints: [] }),
  f.service({ service: 'wide', clusterIP: undefined, headless: true, endpoints: Array.from({ length: 40 }, (_, i) => f.endpoint({ ip: `127.0.30.${i + 1}`, slot: i + 1 })) }),
]);

describe('DnsServer over real sockets', { timeout: 30_000 }, () => {
  let upstream: FakeUpstream;
  let server: DnsServer;
  let port: number;

  before(async () => {
    upstream = await startFakeUpstream((q) => ({ type: 'response', flags: 0x8180, answers: [{ name: q.questions?.[0]?.name ?? '', type: 'A', ttl: 60, data: '192.0.2.7' }] }));
    server = new DnsServer({ host: '127.0.0.1', port: 0, upstreams: [`127.0.0.1:${upstream.port}`], tcpIdleTimeoutMs: 300 });
    server.update(snapshot); // before start: kept and applied on start
    await server.start();
    port = server.address().port;
  });

  after(async () => {
    await server.stop();
    await upstream.close();
  });

  const udp = async (name: string, type: Parameters<typeof queryMessage>[1]) => summarize((await udpExchange(port, queryMessage(name, type))) as Buffer);
  const tcp = async (name: string, type: Parameters<typeof queryMessage>[1]) => {
    const [reply] = await tcpExchange(port, [queryMessage(name, type)]);
    return summarize(reply as Buffer);
  };

  it('binds a real port when asked for port 0', () => {
    assert.ok(port > 0);
  });

  it('answers A for a VIP service over UDP and TCP', async () => {
    assert.deepEqual((await udp('web.default.berth.local', 'A')).answers, ['A 127.96.0.10']);
    assert.deepEqual((await tcp('web.default.berth.local', 'A')).answers, ['A 127.96.0.10']);
  });

  it('answers a per-slot name with that instance', async () => {
    assert.deepEqual((await udp('web-2.default.berth.local', 'A')).answers, ['A 127.0.10.2']);
  });

  it('answers a headless service with all ready addresses in varying order over 20 queries', async () => {
    const orders = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const s = await udp('db.default.berth.local', 'A');
      assert.deepEqual([...s.answers].sort(), [1, 2, 3, 4, 5].map((n) => `A 127.0.20.${n}`));
      orders.add(s.answers.join(','));
    }
    assert.ok(orders.size > 1, 'the order varies');
  });

  it('answers SRV with the port', async () => {
    const s = await tcp('_http._tcp.web.default.berth.local', 'SRV');
    assert.deepEqual(s.answers, ['SRV 0 100 80 web.default.berth.local']);
    const h = await udp('_pg._tcp.db.default.berth.local', 'SRV');
    assert.deepEqual([...h.answers].sort()[0], 'SRV 0 20 15431 db-1.default.berth.local');
  });

  it('answers an ExternalName service with a CNAME', async () => {
    assert.deepEqual((await udp('ext.default.berth.local', 'A')).answers, ['CNAME db.example.org']);
  });

  it('answers NXDOMAIN for an unknown name in the zone', async () => {
    const s = await udp('nope.default.berth.local', 'A');
    assert.equal(s.rcode, 'NXDOMAIN');
    assert.deepEqual(s.authority, ['SOA berth.local']);
  });

  it('forwards names outside the zone to the upstream over UDP and TCP', async () => {
    assert.deepEqual((await udp('example.org', 'A')).answers, ['A 192.0.2.7']);
    assert.deepEqual((await tcp('example.org', 'A')).answers, ['A 192.0.2.7']);
    assert.deepEqual(upstream.received.slice(-2).map((r) => `${r.transport} ${r.name}`), ['udp example.org', 'tcp example.org']);
  });

  it('sets TC on a UDP answer too big for 512 bytes and answers it whole over TCP', async () => {
    const u = await udp('wide.default.berth.local', 'A');
    assert.ok((u.packet.flags ?? 0) & 0x0200);
    assert.equal(u.answers.length, 0);
    assert.equal((await tcp('wide.default.berth.local', 'A')).answers.length, 40);
  });

  it('answers several queries pipelined on one TCP connection', async () => {
    const replies = await tcpExchange(port, [queryMessage('web.default.berth.local', 'A', 1), queryMessage('web-1.default.berth.local', 'A', 2), queryMessage('example.org', 'A', 3)]);
    assert.deepEqual(replies.map((r) => summarize(r).packet.id).sort(), [1, 2, 3]);
  });

  it('answers FORMERR when the header is readable and the question is not', async () => {
    const bad = Buffer.alloc(12);
    bad.writeUInt16BE(0x1234, 0);
    const reply = await udpExchange(port, bad);
    assert.ok(reply !== undefined);
    assert.equal(reply.readUInt16BE(0), 0x1234);
    assert.equal((reply[3] as number) & 0x0f, 1);
  });

  it('closes a TCP client that never sends', async () => {
    const socket = net.connect({ host: '127.0.0.1', port });
    await once(socket, 'connect');
    const started = Date.now();
    await once(socket, 'close');
    assert.ok(Date.now() - started < 5000);
  });

  it('serves the records of a new snapshot after update()', async () => {
    server.update(f.snapshot([f.service({ clusterIP: '127.96.0.42' })], 9));
    assert.deepEqual((await udp('web.default.berth.local', 'A')).answers, ['A 127.96.0.42']);
    assert.equal((await udp('db.default.berth.local', 'A')).rcode, 'NXDOMAIN');
    server.update(snapshot);
  });
});

describe('DnsServer with a dead upstream', { timeout: 30_000 }, () => {
  it('answers SERVFAIL for names outside the zone', async () => {
    const server = new DnsServer({ host: '127.0.0.1', port: 0, upstreams: [`127.0.0.1:${await deadPort()}`], forwardTimeoutMs: 200 });
    await server.start();
    try {
      const s = summarize((await udpExchange(server.address().port, queryMessage('example.org', 'A'))) as Buffer);
      assert.equal(s.rcode, 'SERVFAIL');
      const [t] = await tcpExchange(server.address().port, [queryMessage('example.org', 'A')]);
      assert.equal(summarize(t as Buffer).rcode, 'SERVFAIL');
    } finally {
      await server.stop();
    }
  });

  it('reads upstreams from resolv.conf when none are given and still answers its zone', async () => {
    const server = new DnsServer({ host: '127.0.0.1', port: 0, resolvConfPath: '/nonexistent/resolv.conf' });
    server.update(snapshot);
    await server.start();
    try {
      assert.deepEqual(summarize((await udpExchange(server.address().port, queryMessage('web.default.berth.local', 'A'))) as Buffer).answers, ['A 127.96.0.10']);
      // No upstreams at all: out-of-zone names are refused rather than hung.
      assert.equal(summarize((await udpExchange(server.address().port, queryMessage('example.org', 'A'))) as Buffer).rcode, 'REFUSED');
    } finally {
      await server.stop();
    }
  });

  it('refuses to start twice and stops cleanly', async () => {
    const server = new DnsServer({ host: '127.0.0.1', port: 0, upstreams: [] });
    await server.start();
    await assert.rejects(server.start());
    await server.stop();
    await server.stop();
  });
});
