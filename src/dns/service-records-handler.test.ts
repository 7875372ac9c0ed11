import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RecordType } from 'dns-packet';
import type { EndpointsSnapshot } from '../model/index.js';
import type { DnsNext } from './dns-handler.js';
import { ServiceRecordsHandler } from './service-records-handler.js';
import { buildZoneTable } from './zone-table.js';
import { dnsQuery, fixtures, summarize } from './testing/dns-fixtures.js';

const f = fixtures;
const snapshot = f.snapshot([
  f.service(),
  f.service({
    service: 'db',
    clusterIP: undefined,
    headless: true,
    ports: [{ name: 'pg', protocol: 'TCP', port: 5432 }],
    endpoints: [
      f.endpoint({ ip: '127.0.20.1', slot: 1, ports: { pg: 15432 } }),
      f.endpoint({ ip: '127.0.20.2', slot: 2, ports: { pg: 15433 } }),
      f.endpoint({ ip: '127.0.20.3', slot: 3, ports: { pg: 15434 }, ready: false }),
    ],
  }),
  f.service({ service: 'cache', clusterIP: undefined, headless: true, publishNotReadyAddresses: true, endpoints: [f.endpoint({ ip: '127.0.30.1', ready: false, slot: 1 })] }),
  f.service({ service: 'empty', clusterIP: undefined, headless: true, endpoints: [f.endpoint({ ready: false })] }),
  f.service({ service: 'manual', clusterIP: undefined, headless: true, endpoints: [f.endpoint({ ip: '127.0.40.1', slot: undefined, instance: undefined })] }),
  f.service({ service: 'ext', type: 'ExternalName', clusterIP: undefined, externalName: 'db.example.org', endpoints: [] }),
  f.service({ service: 'dns', ports: [{ name: 'dns', protocol: 'UDP', port: 53 }, { name: 'dns-tcp', protocol: 'TCP', port: 53 }] }),
  f.service({ grid: 'other', service: 'web', clusterIP: '127.96.0.99' }),
]);

function handlerFor(s: EndpointsSnapshot, random: () => number = () => 0.5): ServiceRecordsHandler {
  return new ServiceRecordsHandler(buildZoneTable(s, { domain: 'berth.local', ttlSeconds: 5 }), { random });
}

const soa = ['SOA berth.local'];
const passed: DnsNext = () => Buffer.from('next');

const cases: { name: string; q: [string, RecordType]; rcode: string; answers?: string[]; sorted?: boolean; authority?: string[]; additional?: string[] }[] = [
  { name: 'answers a ClusterIP service with its VIP', q: ['web.default.berth.local', 'A'], rcode: 'NOERROR', answers: ['A 127.96.0.10'] },
  { name: 'matches names case-insensitively', q: ['WeB.DeFault.BERTH.local', 'A'], rcode: 'NOERROR', answers: ['A 127.96.0.10'] },
  { name: 'keeps grids apart', q: ['web.other.berth.local', 'A'], rcode: 'NOERROR', answers: ['A 127.96.0.99'] },
  { name: 'answers a per-slot name with that instance (Kontena)', q: ['web-2.default.berth.local', 'A'], rcode: 'NOERROR', answers: ['A 127.0.10.2'] },
  { name: 'answers a headless service with its ready endpoints only', q: ['db.default.berth.local', 'A'], rcode: 'NOERROR', answers: ['A 127.0.20.1', 'A 127.0.20.2'], sorted: true },
  { name: 'serves not-ready endpoints with publishNotReadyAddresses', q: ['cache.default.berth.local', 'A'], rcode: 'NOERROR', answers: ['A 127.0.30.1'] },
  { name: 'gives NXDOMAIN for a headless service with no ready endpoint (Kubernetes)', q: ['empty.default.berth.local', 'A'], rcode: 'NXDOMAIN', answers: [], authority: soa },
  { name: 'does not name a not-ready instance by slot', q: ['db-3.default.berth.local', 'A'], rcode: 'NXDOMAIN', answers: [] },
  { name: 'answers SRV of a VIP service with the service port', q: ['_http._tcp.web.default.berth.local', 'SRV'], rcode: 'NOERROR', answers: ['SRV 0 100 80 web.default.berth.local'], additional: ['web.default.berth.local A 127.96.0.10'] },
  {
    name: 'answers SRV of a headless service with one record per ready endpoint and its target port',
    q: ['_pg._tcp.db.default.berth.local', 'SRV'],
    rcode: 'NOERROR',
    answers: ['SRV 0 50 15432 db-1.default.berth.local', 'SRV 0 50 15433 db-2.default.berth.local'],
    sorted: true,
    additional: ['db-1.default.berth.local A 127.0.20.1', 'db-2.default.berth.local A 127.0.20.2'],
  },
  { name: 'names a hand-set headless endpoint after its address for SRV', q: ['_http._tcp.manual.default.berth.local', 'SRV'], rcode: 'NOERROR', answers: ['SRV 0 100 8080 127-0-40-1.manual.default.berth.local'] },
  { name: 'resolves the SRV target of a hand-set endpoint', q: ['127-0-40-1.manual.default.berth.local', 'A'], rcode: 'NOERROR', answers: ['A 127.0.40.1'] },
  { name: 'keeps the protocol apart in SRV names', q: ['_dns._udp.dns.default.berth.local', 'SRV'], rcode: 'NOERROR', answers: ['SRV 0 100 53 dns.default.berth.local'] },
  { name: 'gives NXDOMAIN for a port under the wrong protocol', q: ['_dns._tcp.dns.default.berth.local', 'SRV'], rcode: 'NXDOMAIN' },
  { name: 'answers an ExternalName service with a CNAME', q: ['ext.default.berth.local', 'A'], rcode: 'NOERROR', answers: ['CNAME db.example.org'] },
  { name: 'answers every type of an ExternalName with the CNAME', q: ['ext.default.berth.local', 'AAAA'], rcode: 'NOERROR', answers: ['CNAME db.example.org'] },
  { name: 'gives NODATA with the SOA for another type of a known name', q: ['web.default.berth.local', 'AAAA'], rcode: 'NOERROR', answers: [], authority: soa },
  { name: 'gives NODATA for an SRV name asked for A', q: ['_http._tcp.web.default.berth.local', 'A'], rcode: 'NOERROR', answers: [], authority: soa },
  { name: 'gives NODATA for a grid name (an empty non-terminal)', q: ['default.berth.local', 'A'], rcode: 'NOERROR', answers: [], authority: soa },
  { name: 'gives NXDOMAIN with the SOA for an unknown name in the zone', q: ['nope.default.berth.local', 'A'], rcode: 'NXDOMAIN', answers: [], authority: soa },
  { name: 'gives NXDOMAIN for an unknown grid', q: ['web.nogrid.berth.local', 'A'], rcode: 'NXDOMAIN', authority: soa },
  { name: 'answers the SOA at the apex', q: ['berth.local', 'SOA'], rcode: 'NOERROR', answers: ['SOA berth.local'] },
];

describe('ServiceRecordsHandler', { timeout: 30_000 }, () => {
  const handler = handlerFor(snapshot);
  for (const c of cases) {
    it(c.name, () => {
      const reply = handler.handle(dnsQuery(c.q[0], c.q[1]), passed);
      assert.ok(Buffer.isBuffer(reply));
      const s = summarize(reply);
      assert.equal(s.rcode, c.rcode);
      assert.equal(s.packet.id, 4242);
      assert.ok((s.packet.flags ?? 0) & 0x0400, 'authoritative');
      if (c.answers !== undefined) assert.deepEqual(c.sorted === true ? [...s.answers].sort() : s.answers, c.answers);
      if (c.authority !== undefined) assert.deepEqual(s.authority, c.authority);
      if (c.additional !== undefined) assert.deepEqual([...s.additional].sort(), c.additional);
    });
  }

  it('passes names outside the zone to the next handler', () => {
    const reply = handler.handle(dnsQuery('example.org', 'A'), passed);
    assert.equal(String(reply), 'next');
  });

  it('does not take a name that only ends like the zone', () => {
    const reply = handler.handle(dnsQuery('notberth.local', 'A'), passed);
    assert.equal(String(reply), 'next');
  });

  it('copies the question as the client spelled it (0x20 casing)', () => {
    const s = summarize(handler.handle(dnsQuery('WEB.default.Berth.Local', 'A'), passed) as Buffer);
    assert.equal(s.packet.questions[0]?.name, 'WEB.default.Berth.Local');
    assert.equal(s.packet.answers[0]?.name, 'WEB.default.Berth.Local');
  });

  it('gives records the configured TTL and negative answers an SOA minimum of the same', () => {
    const h = new ServiceRecordsHandler(buildZoneTable(snapshot, { domain: 'berth.local', ttlSeconds: 30 }));
    const pos = summarize(h.handle(dnsQuery('web.default.berth.local', 'A'), passed) as Buffer);
    assert.equal((pos.packet.answers[0] as { ttl?: number } | undefined)?.ttl, 30);
    const neg = summarize(h.handle(dnsQuery('x.default.berth.local', 'A'), passed) as Buffer);
    const soaRecord = neg.packet.authorities?.[0];
    assert.ok(soaRecord?.type === 'SOA');
    assert.equal(soaRecord.data.minimum, 30);
    assert.equal(soaRecord.data.serial, 7);
  });

  it('orders headless answers by the injected randomness', () => {
    const many = f.snapshot([f.service({ service: 'h', clusterIP: undefined, headless: true, endpoints: [1, 2, 3, 4].map((i) => f.endpoint({ ip: `127.0.50.${i}`, slot: i })) })]);
    const orderWith = (r: () => number) => summarize(handlerFor(many, r).handle(dnsQuery('h.default.berth.local', 'A'), passed) as Buffer).answers.join(',');
    assert.notEqual(orderWith(() => 0), orderWith(() => 0.99));
    assert.equal(orderWith(() => 0.3), orderWith(() => 0.3));
  });

  it('serves a custom domain and ignores the default one', () => {
    const h = new ServiceRecordsHandler(buildZoneTable(snapshot, { domain: 'Cluster.Test.', ttlSeconds: 5 }));
    assert.deepEqual(summarize(h.handle(dnsQuery('web.default.cluster.test', 'A'), passed) as Buffer).answers, ['A 127.96.0.10']);
    assert.equal(String(h.handle(dnsQuery('web.default.berth.local', 'A'), passed)), 'next');
  });

  it('answers the new snapshot after setTable', () => {
    const h = handlerFor(snapshot);
    h.setTable(buildZoneTable(f.snapshot([f.service({ clusterIP: '127.96.0.11' })], 8), { domain: 'berth.local', ttlSeconds: 5 }));
    assert.deepEqual(summarize(h.handle(dnsQuery('web.default.berth.local', 'A'), passed) as Buffer).answers, ['A 127.96.0.11']);
    assert.equal(summarize(h.handle(dnsQuery('db.default.berth.local', 'A'), passed) as Buffer).rcode, 'NXDOMAIN');
  });

  it('answers AAAA for IPv6 endpoints', () => {
    const v6 = f.snapshot([f.service({ service: 'six', clusterIP: undefined, headless: true, endpoints: [f.endpoint({ ip: 'fd00::1' })] })]);
    const h = handlerFor(v6);
    assert.deepEqual(summarize(h.handle(dnsQuery('six.default.berth.local', 'AAAA'), passed) as Buffer).answers, ['AAAA fd00::1']);
    assert.equal(summarize(h.handle(dnsQuery('six.default.berth.local', 'A'), passed) as Buffer).answers.length, 0);
  });

  it('leaves out a service whose name is too long for DNS and keeps the rest', () => {
    const table = buildZoneTable(f.snapshot([f.service({ service: 'x'.repeat(70) }), f.service()]), { domain: 'berth.local', ttlSeconds: 5 });
    assert.equal(table.skipped.length, 1);
    const h = new ServiceRecordsHandler(table);
    assert.deepEqual(summarize(h.handle(dnsQuery('web.default.berth.local', 'A'), passed) as Buffer).answers, ['A 127.96.0.10']);
  });
});
