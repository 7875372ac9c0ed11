/*
 * berth's zone, compiled once per endpoints snapshot into a map from wire-form name to prepared replies,
 * so a query costs one map lookup and one copy. Pure: no I/O, no clock.
 *
 * Names (ARCHITECTURE.md, issue 3):
 *   <service>.<grid>.<domain>            A/AAAA → the VIP; headless → every served endpoint, shuffled per query;
 *                                        ExternalName → CNAME to externalName (for every query type)
 *   <service>-<slot>.<grid>.<domain>     A/AAAA → that instance (Kontena's `nginx-1.<grid>`)
 *   _<port>._<tcp|udp>.<service>.<grid>.<domain>
 *                                        SRV → priority 0; VIP services: weight 100, the service port, target
 *                                        the service name; headless: one per served endpoint, weight 100/n
 *                                        (as CoreDNS), its target port, target its per-slot name; A/AAAA of
 *                                        every target in the additional section
 *   <a-b-c-d>.<service>.<grid>.<domain>  A → a headless endpoint without a slot (hand-set endpoints), the
 *                                        target of its SRV record (Kubernetes names these by a hash)
 * "Served" endpoints are the ready ones, plus the not-ready ones when publishNotReadyAddresses (Kubernetes).
 * A headless service with no served endpoint does not exist in DNS (NXDOMAIN), as in Kubernetes. Unnamed
 * ports get no SRV record (as Kubernetes). A service name wins over a per-slot name that spells the same.
 * Every other name under the domain is NXDOMAIN, except names that have records below them (empty
 * non-terminals such as `<grid>.<domain>`), which are NODATA. Negative replies carry the zone's SOA
 * (RFC 2308), whose minimum is the TTL.
 */
import { isIPv6 } from 'node:net';
import dnsPacket from 'dns-packet';
import type { Answer } from 'dns-packet';
import type { EndpointsSnapshot, ServiceEndpoints } from '../model/index.js';
import { QType, Rcode, nameKey } from './dns-query.js';
import { replyTemplate } from './dns-reply.js';
import type { ReplyTemplate } from './dns-reply.js';

export interface ZoneOptions {
  /** The zone apex, e.g. `berth.local`. */
  readonly domain: string;
  /** TTL of every record and the SOA minimum (negative-caching TTL), in seconds. */
  readonly ttlSeconds: number;
}

/** Prepared replies for one name that exists. */
export interface ZoneName {
  /** Reply per query type; a CNAME name answers every type with `cname`. */
  readonly byType: ReadonlyMap<number, ReplyTemplate>;
  readonly cname?: ReplyTemplate;
  /** NOERROR with no answers and the SOA in authority. */
  readonly nodata: ReplyTemplate;
}

export interface ZoneTable {
  readonly revision: number;
  /** Wire-form key of the apex (see `nameKey`). */
  readonly zoneKey: string;
  readonly names: ReadonlyMap<string, ZoneName>;
  readonly nxdomain: ReplyTemplate;
  /** Services left out and why (names too long for DNS, an unencodable externalName). */
  readonly skipped: readonly string[];
}

interface NameDraft {
  addresses: string[];
  shuffle: boolean;
  cname?: string;
  srv?: { target: string; port: number; weight: number; addresses: string[] }[];
}

/** Compiles a snapshot into a zone table; never throws for a bad service (it goes to `skipped`). */
export function buildZoneTable(snapshot: EndpointsSnapshot, options: ZoneOptions): ZoneTable {
  const domain = options.domain.replace(/\.$/, '').toLowerCase();
  const ttl = options.ttlSeconds;
  const drafts = new Map<string, { name: string; draft: NameDraft }>();
  const skipped: string[] = [];

  const add = (name: string, draft: NameDraft, overwrite: boolean): void => {
    const key = nameKey(name);
    if (!overwrite && drafts.has(key)) return;
    drafts.set(key, { name, draft });
  };

  // Service names first so they win over a per-slot name spelled the same way.
  const perService: { svc: ServiceEndpoints; base: string }[] = [];
  for (const svc of snapshot.services) {
    const base = `${svc.service}.${svc.grid}.${domain}`.toLowerCase();
    try {
      nameKey(base);
      if (svc.type === 'ExternalName') {
        if (svc.externalName === undefined || svc.externalName === '') continue;
        encodeRecord({ name: '.', type: 'CNAME', ttl, data: svc.externalName.replace(/\.$/, '') });
        add(base, { addresses: [], shuffle: false, cname: svc.externalName.replace(/\.$/, '') }, true);
        continue;
      }
      const served = servedEndpoints(svc);
      if (svc.headless) {
        if (served.length > 0) add(base, { addresses: served.map((e) => e.ip), shuffle: true }, true);
      } else if (svc.clusterIP !== undefined) {
        add(base, { addresses: [svc.clusterIP], shuffle: false }, true);
      }
      perService.push({ svc, base });
    } catch (err) {
      skipped.push(`${svc.grid}/${svc.service}: ${(err as Error).message}`);
    }
  }

  for (const { svc, base } of perService) {
    try {
      const served = servedEndpoints(svc);
      const bySlot = new Map<string, string[]>();
      for (const ep of served) {
        if (ep.slot === undefined) continue;
        const slotName = `${svc.service}-${ep.slot}.${svc.grid}.${domain}`.toLowerCase();
        const list = bySlot.get(slotName) ?? [];
        list.push(ep.ip);
        bySlot.set(slotName, list);
      }
      for (const [slotName, addresses] of bySlot) add(slotName, { addresses, shuffle: true }, false);

      if (svc.headless && served.length === 0) continue;
      for (const port of svc.ports) {
        if (port.name === '') continue;
        const srvName = `_${port.name}._${port.protocol.toLowerCase()}.${base}`.toLowerCase();
        if (!svc.headless) {
          if (svc.clusterIP === undefined) continue;
          add(srvName, { addresses: [], shuffle: false, srv: [{ target: base, port: port.port, weight: 100, addresses: [svc.clusterIP] }] }, true);
          continue;
        }
        const withPort = served.filter((e) => e.ports[port.name] !== undefined);
        if (withPort.length === 0) continue;
        const weight = Math.max(1, Math.floor(100 / withPort.length));
        const srv = withPort.map((ep) => {
          const target = ep.slot !== undefined ? `${svc.service}-${ep.slot}.${svc.grid}.${domain}` : `${ep.ip.replace(/[.:]/g, '-')}.${base}`;
          return { target: target.toLowerCase(), port: ep.ports[port.name] as number, weight, addresses: [ep.ip] };
        });
        for (const s of srv) if (!drafts.has(nameKey(s.target))) add(s.target, { addresses: s.addresses, shuffle: false }, false);
        add(srvName, { addresses: [], shuffle: true, srv }, true);
      }
    } catch (err) {
      skipped.push(`${svc.grid}/${svc.service}: ${(err as Error).message}`);
    }
  }

  const soa = encodeRecord({
    name: domain,
    type: 'SOA',
    ttl,
    data: soaData(domain, snapshot.revision, ttl),
  });
  const nodata = replyTemplate({ rcode: Rcode.NOERROR, answers: [], authority: [soa] });
  const names = new Map<string, ZoneName>();
  for (const [key, { draft }] of drafts) names.set(key, compileName(draft, ttl, nodata));

  // Empty non-terminals: every ancestor of a name down to the apex exists (NODATA), RFC 8020.
  const zoneKey = nameKey(domain);
  for (const key of [...names.keys()]) {
    let offset = key.charCodeAt(0) + 1;
    while (offset < key.length - zoneKey.length) {
      const ancestor = key.slice(offset);
      if (!names.has(ancestor)) names.set(ancestor, { byType: new Map(), nodata });
      offset += key.charCodeAt(offset) + 1;
    }
  }
  const apexSoa = replyTemplate({ rcode: Rcode.NOERROR, answers: [ownerIsQuestion(encodeRecord({ name: '.', type: 'SOA', ttl, data: soaData(domain, snapshot.revision, ttl) }))] });
  names.set(zoneKey, { byType: new Map([[QType.SOA, apexSoa], [QType.ANY, apexSoa]]), nodata });

  return Object.freeze({
    revision: snapshot.revision,
    zoneKey,
    names,
    nxdomain: replyTemplate({ rcode: Rcode.NXDOMAIN, answers: [], authority: [soa] }),
    skipped,
  });
}

function servedEndpoints(svc: ServiceEndpoints): ServiceEndpoints['endpoints'] {
  return svc.endpoints.filter((e) => e.ready || svc.publishNotReadyAddresses);
}

/** The zone's SOA (RFC 1035 §3.3.13); serial = the snapshot's store revision, minimum = negative TTL (RFC 2308). */
function soaData(domain: string, revision: number, ttl: number) {
  return { mname: `ns.dns.${domain}`, rname: `hostmaster.${domain}`, serial: revision >>> 0, refresh: 7200, retry: 1800, expire: 86400, minimum: ttl };
}

function compileName(draft: NameDraft, ttl: number, nodata: ReplyTemplate): ZoneName {
  if (draft.cname !== undefined) {
    const cname = replyTemplate({ rcode: Rcode.NOERROR, answers: [ownerIsQuestion(encodeRecord({ name: '.', type: 'CNAME', ttl, data: draft.cname }))] });
    return { byType: new Map(), cname, nodata };
  }
  const byType = new Map<number, ReplyTemplate>();
  const v4 = draft.addresses.filter((a) => !isIPv6(a));
  const v6 = draft.addresses.filter((a) => isIPv6(a));
  const addr = (list: string[], type: 'A' | 'AAAA') =>
    replyTemplate({ rcode: Rcode.NOERROR, shuffleAnswers: draft.shuffle, answers: list.map((ip) => ownerIsQuestion(encodeRecord({ name: '.', type, ttl, data: ip }))) });
  if (v4.length > 0) byType.set(QType.A, addr(v4, 'A'));
  if (v6.length > 0) byType.set(QType.AAAA, addr(v6, 'AAAA'));
  if (draft.srv !== undefined) {
    const seen = new Set<string>();
    const additional: Buffer[] = [];
    for (const s of draft.srv) {
      if (seen.has(s.target)) continue;
      seen.add(s.target);
      for (const ip of s.addresses) additional.push(encodeRecord({ name: s.target, type: isIPv6(ip) ? 'AAAA' : 'A', ttl, data: ip }));
    }
    byType.set(
      QType.SRV,
      replyTemplate({
        rcode: Rcode.NOERROR,
        shuffleAnswers: draft.shuffle,
        answers: draft.srv.map((s) => ownerIsQuestion(encodeRecord({ name: '.', type: 'SRV', ttl, data: { priority: 0, weight: s.weight, port: s.port, target: s.target } }))),
        additional,
      }),
    );
  }
  const any = byType.get(QType.A) ?? byType.get(QType.AAAA) ?? byType.get(QType.SRV);
  if (any !== undefined) byType.set(QType.ANY, any);
  return { byType, nodata };
}

/** One resource record in wire form, owner name written in full (no compression). */
function encodeRecord(record: Answer): Buffer {
  const packet = dnsPacket.encode({ type: 'response', id: 0, flags: 0, answers: [record] });
  return Buffer.from(packet.subarray(12));
}

/** Replaces a root owner name (one zero byte) with the pointer 0xC00C to the question name. */
function ownerIsQuestion(record: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0xc0, 0x0c]), record.subarray(1)]);
}
