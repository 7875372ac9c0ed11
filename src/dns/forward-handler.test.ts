import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import type { DnsNext } from './dns-handler.js';
import { ForwardHandler } from './forward-handler.js';
import { dnsQuery, summarize } from './testing/dns-fixtures.js';
import type { FakeUpstream } from './testing/fake-upstream.js';
import { deadPort, startFakeUpstream } from './testing/fake-upstream.js';

const unreachable: DnsNext = () => {
  throw new Error('forward must not call next when it has upstreams');
};

describe('ForwardHandler', { timeout: 30_000 }, () => {
  let upstream: FakeUpstream;
  let truncating: FakeUpstream;
  let silent: dgram.Socket;
  let silentPort: number;
  const handlers: ForwardHandler[] = [];
  const forwardTo = (ports: number[], timeoutMs = 2000) => {
    const h = new ForwardHandler({ upstreams: ports.map((port) => ({ host: '127.0.0.1', port })), timeoutMs, randomId: () => 777 });
    handlers.push(h);
    return h;
  };

  before(async () => {
    upstream = await startFakeUpstream((q) => ({ type: 'response', flags: 0x8180, answers: [{ name: q.questions?.[0]?.name ?? '', type: 'A', ttl: 60, data: '192.0.2.1' }] }));
    truncating = await startFakeUpstream((q, transport) =>
      transport === 'udp'
        ? { type: 'response', flags: 0x8180 | 0x0200 }
        : { type: 'response', flags: 0x8180, answers: [{ name: q.questions?.[0]?.name ?? '', type: 'A', ttl: 60, data: '192.0.2.2' }] },
    );
    silent = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    silentPort = silent.address().port;
  });

  after(async () => {
    for (const h of handlers) h.dispose();
    await upstream.close();
    await truncating.close();
    silent.close();
  });

  it('forwards over UDP and gives the reply back under the client id', async () => {
    const reply = await forwardTo([upstream.port]).handle(dnsQuery('example.org', 'A', 'udp', 31337), unreachable);
    const s = summarize(reply as Buffer);
    assert.equal(s.packet.id, 31337);
    assert.deepEqual(s.answers, ['A 192.0.2.1']);
    assert.equal(upstream.received.at(-1)?.id, 777);
    assert.equal(upstream.received.at(-1)?.transport, 'udp');
  });

  it('forwards TCP queries over TCP', async () => {
    const reply = await forwardTo([upstream.port]).handle(dnsQuery('tcp.example.org', 'A', 'tcp', 9), unreachable);
    assert.deepEqual(summarize(reply as Buffer).answers, ['A 192.0.2.1']);
    assert.equal(upstream.received.at(-1)?.transport, 'tcp');
  });

  it('asks again over TCP when the UDP answer is truncated', async () => {
    const reply = await forwardTo([truncating.port]).handle(dnsQuery('big.example.org', 'A'), unreachable);
    assert.deepEqual(summarize(reply as Buffer).answers, ['A 192.0.2.2']);
    assert.deepEqual(truncating.received.map((r) => r.transport), ['udp', 'tcp']);
  });

  it('tries the next upstream when one does not answer in time', async () => {
    const started = Date.now();
    const reply = await forwardTo([silentPort, upstream.port], 150).handle(dnsQuery('next.example.org', 'A'), unreachable);
    assert.deepEqual(summarize(reply as Buffer).answers, ['A 192.0.2.1']);
    assert.ok(Date.now() - started >= 100);
  });

  it('answers SERVFAIL when every upstream fails', async () => {
    const reply = await forwardTo([await deadPort(), silentPort], 150).handle(dnsQuery('dead.example.org', 'A', 'udp', 55), unreachable);
    const s = summarize(reply as Buffer);
    assert.equal(s.rcode, 'SERVFAIL');
    assert.equal(s.packet.id, 55);
    assert.equal(s.packet.questions[0]?.name, 'dead.example.org');
  });

  it('answers SERVFAIL over TCP when the upstream refuses the connection', async () => {
    const reply = await forwardTo([await deadPort()], 500).handle(dnsQuery('dead.example.org', 'A', 'tcp'), unreachable);
    assert.equal(summarize(reply as Buffer).rcode, 'SERVFAIL');
  });

  it('keeps concurrent queries with the same client id apart', async () => {
    const h = new ForwardHandler({ upstreams: [{ host: '127.0.0.1', port: upstream.port }] });
    handlers.push(h);
    const [a, b] = await Promise.all([h.handle(dnsQuery('a.example.org', 'A', 'udp', 1), unreachable), h.handle(dnsQuery('b.example.org', 'A', 'udp', 1), unreachable)]);
    assert.equal(summarize(a as Buffer).packet.questions[0]?.name, 'a.example.org');
    assert.equal(summarize(b as Buffer).packet.questions[0]?.name, 'b.example.org');
  });

  it('passes the query on when it has no upstreams', () => {
    const h = new ForwardHandler({ upstreams: [] });
    assert.equal(String(h.handle(dnsQuery('example.org', 'A'), () => Buffer.from('next'))), 'next');
  });

  it('settles queries in flight with SERVFAIL on dispose', async () => {
    const h = new ForwardHandler({ upstreams: [{ host: '127.0.0.1', port: silentPort }], timeoutMs: 10_000 });
    const pending = h.handle(dnsQuery('slow.example.org', 'A'), unreachable);
    h.dispose();
    assert.equal(summarize((await pending) as Buffer).rcode, 'SERVFAIL');
  });
});
