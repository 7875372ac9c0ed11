import type Database from 'better-sqlite3';
import type { HostListener, HostListenerClaim, Service, ServiceSpec } from '../model/index.js';
import { HostPortAllocatedError, hostListenerConflicts, hostListenersOf, listenerAddress } from '../model/index.js';

export const HOST_PORTS_DDL = `
CREATE TABLE IF NOT EXISTS host_ports (
  protocol     TEXT NOT NULL,
  host         TEXT NOT NULL,
  port         INTEGER NOT NULL,
  grid         TEXT NOT NULL,
  service      TEXT NOT NULL,
  service_port TEXT NOT NULL,
  kind         TEXT NOT NULL,
  field        TEXT NOT NULL,
  PRIMARY KEY (protocol, host, port, grid, service, service_port)
);
CREATE INDEX IF NOT EXISTS host_ports_by_port ON host_ports (protocol, port);
CREATE INDEX IF NOT EXISTS host_ports_by_service ON host_ports (grid, service);
`;

interface Row {
  protocol: 'TCP' | 'UDP';
  host: string;
  port: number;
  grid: string;
  service: string;
  service_port: string;
  kind: HostListener['kind'];
  field: string;
}

/** A listener two stored services ask for (found when the table is rebuilt from an older store). */
export interface RebuildConflict {
  readonly listener: string;
  readonly service: string;
  readonly heldBy: string;
}

/**
 * The host-listener allocation table: every address:port that berth listens on for a service (virtual
 * IP, external IPs, load-balancer, node and published ports; model/host-listeners.ts), with its owner. Written in
 * the same transaction as the spec that asks for it, so two services never hold one listener
 * (Kubernetes' allocators, with a wildcard address overlapping every address of its port). Derived
 * data: rebuilt from the stored specs when the store opens, so it always matches them. Callers run
 * inside the store's write.
 */
export class HostPortTable {
  private readonly insert: Database.Statement;
  private readonly samePort: Database.Statement;
  private readonly drop: Database.Statement;
  private readonly all: Database.Statement;
  private readonly clear: Database.Statement;

  constructor(
    db: Database.Database,
    private readonly nodeAddresses: readonly string[],
  ) {
    db.exec(HOST_PORTS_DDL);
    this.insert = db.prepare(`INSERT OR IGNORE INTO host_ports (protocol, host, port, grid, service, service_port, kind, field) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
    this.samePort = db.prepare(`SELECT * FROM host_ports WHERE protocol = ? AND port = ? AND NOT (grid = ? AND service = ?)`);
    this.drop = db.prepare(`DELETE FROM host_ports WHERE grid = ? AND service = ?`);
    this.all = db.prepare(`SELECT * FROM host_ports ORDER BY protocol, port, host, grid, service`);
    this.clear = db.prepare(`DELETE FROM host_ports`);
  }

  /**
   * Makes `spec`'s listeners the service's claims. A listener that another service holds is refused,
   * unless `previous` (the stored spec) asked for it already: such a pre-existing conflict (a store
   * written before this table) is left unclaimed rather than blocking every update of the service; the
   * proxy serves the first claimant and reports the other.
   * @throws HostPortAllocatedError (422 PORT_ALLOCATED) naming each refused field and who holds it.
   */
  claim(grid: string, service: string, spec: ServiceSpec, previous?: ServiceSpec): void {
    const wanted = hostListenersOf(spec, this.nodeAddresses);
    const held = this.heldByOthers(grid, service, wanted);
    const before = new Set(previous ? hostListenersOf(previous, this.nodeAddresses).map(identity) : []);
    const conflicts = hostListenerConflicts(wanted, held);
    const refused = conflicts.filter((c) => !before.has(identity(c.wanted)));
    if (refused.length > 0) throw new HostPortAllocatedError(spec.name, refused);
    const unclaimed = new Set(conflicts.map((c) => c.wanted));
    this.drop.run(grid, service);
    for (const l of wanted) if (!unclaimed.has(l)) this.insert.run(l.protocol, l.host, l.port, grid, service, l.servicePort, l.kind, l.field);
  }

  /** Frees every listener of a service (it was deleted). */
  release(grid: string, service: string): void {
    this.drop.run(grid, service);
  }

  /** Every claim, ordered by protocol, port and address. */
  list(): HostListenerClaim[] {
    return (this.all.all() as Row[]).map(toClaim);
  }

  /**
   * Refills the table from the stored services, oldest first: where two ask for one listener (a store
   * written before the table existed), the older keeps it and the conflict is returned.
   */
  rebuild(services: readonly Service[]): RebuildConflict[] {
    this.clear.run();
    const conflicts: RebuildConflict[] = [];
    const ordered = [...services].sort((a, b) => (a.createdAt === b.createdAt ? a.name.localeCompare(b.name) : a.createdAt < b.createdAt ? -1 : 1));
    for (const s of ordered) {
      const wanted = hostListenersOf(s.spec, this.nodeAddresses);
      const found = hostListenerConflicts(wanted, this.heldByOthers(s.grid, s.name, wanted));
      for (const c of found) {
        conflicts.push({ listener: listenerAddress(c.wanted), service: `${s.grid}/${s.name}`, heldBy: c.heldBy === 'itself' ? `${s.grid}/${s.name}` : `${c.heldBy.grid}/${c.heldBy.service}` });
      }
      const skipped = new Set(found.map((c) => c.wanted));
      for (const l of wanted) if (!skipped.has(l)) this.insert.run(l.protocol, l.host, l.port, s.grid, s.name, l.servicePort, l.kind, l.field);
    }
    return conflicts;
  }

  private heldByOthers(grid: string, service: string, wanted: readonly HostListener[]): HostListenerClaim[] {
    const ports = new Set(wanted.map((l) => `${l.protocol} ${l.port}`));
    return [...ports].flatMap((key) => {
      const [protocol, port] = key.split(' ');
      return (this.samePort.all(protocol, Number(port), grid, service) as Row[]).map(toClaim);
    });
  }
}

function identity(l: HostListener): string {
  return `${listenerAddress(l)} ${l.servicePort}`;
}

function toClaim(r: Row): HostListenerClaim {
  return { protocol: r.protocol, host: r.host, port: r.port, grid: r.grid, service: r.service, servicePort: r.service_port, kind: r.kind, field: r.field };
}
