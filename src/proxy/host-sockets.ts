import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';

/*
 * What the other programs on this host hold, read from /proc/net/{tcp,tcp6,udp,udp6} (Linux): the
 * listening TCP sockets and the bound UDP sockets, with their local address. The automatic node-port
 * choice skips ports held here, so a service is not given a port that can never open. Synchronous (the
 * API allocates inside one request handler). Elsewhere than Linux the files are missing: nothing is
 * known, and a port chosen that turns out taken shows as the service's ListenersOpen condition.
 */

/** TCP_LISTEN in /proc/net/tcp's `st` column. */
const TCP_LISTEN = '0A';

/** One socket from /proc/net: its protocol, local address (IPv4-mapped IPv6 shown as IPv4) and port. */
export interface HostSocket {
  readonly protocol: 'TCP' | 'UDP';
  readonly host: string;
  readonly port: number;
}

/**
 * The TCP sockets listening and UDP sockets bound on this host now.
 * @param procNet  where the tables are (tests give a directory of fixtures). Default /proc/net.
 */
export function readHostSockets(procNet = '/proc/net'): HostSocket[] {
  const out: HostSocket[] = [];
  for (const [file, protocol] of [['tcp', 'TCP'], ['tcp6', 'TCP'], ['udp', 'UDP'], ['udp6', 'UDP']] as const) {
    let text: string;
    try {
      text = readFileSync(`${procNet}/${file}`, 'latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      const state = cols[3];
      if (local === undefined || state === undefined) continue;
      if (protocol === 'TCP' && state !== TCP_LISTEN) continue;
      const [hex, portHex] = local.split(':');
      if (hex === undefined || portHex === undefined) continue;
      const host = hex.length === 8 ? ipv4FromProc(hex) : ipv6FromProc(hex);
      if (host !== undefined) out.push({ protocol, host, port: parseInt(portHex, 16) });
    }
  }
  return out;
}

/**
 * Ports held at one of `hosts` or at a wildcard address (0.0.0.0, ::), for the API's HostPortProbe.
 * A socket on :: counts for every IPv4 address too (dual-stack, unless IPV6_V6ONLY, which /proc does not show).
 */
export function heldPorts(sockets: readonly HostSocket[], protocol: 'TCP' | 'UDP', hosts: readonly string[]): Set<number> {
  const wanted = new Set(hosts);
  const out = new Set<number>();
  for (const s of sockets) if (s.protocol === protocol && (s.host === '0.0.0.0' || s.host === '::' || wanted.has(s.host))) out.add(s.port);
  return out;
}

/** The broadcast address of one of this host's IPv4 subnets. */
export interface SubnetBroadcast {
  /** `127.255.255.255`. */
  readonly address: string;
  /** The interface's address and prefix: `127.0.0.1/8`. */
  readonly cidr: string;
  readonly iface: string;
}

/**
 * The directed broadcast address of every IPv4 subnet of this host (`127.255.255.255` for lo's
 * 127.0.0.0/8): not one host, so never a service's external IP. /31 and /32 have none (RFC 3021).
 * @param interfaces  os.networkInterfaces()' shape (tests pass their own). Default: this host's.
 */
export function subnetBroadcasts(interfaces: NodeJS.Dict<readonly { readonly family: string | number; readonly address: string; readonly netmask: string; readonly cidr: string | null }[]> = networkInterfaces()): SubnetBroadcast[] {
  const out: SubnetBroadcast[] = [];
  for (const [iface, addresses] of Object.entries(interfaces)) {
    for (const a of addresses ?? []) {
      if (a.family !== 'IPv4' && a.family !== 4) continue;
      const ip = toNumber(a.address);
      const mask = toNumber(a.netmask);
      if (ip === undefined || mask === undefined || (~mask >>> 0) <= 1) continue;
      const broadcast = (ip | ~mask) >>> 0;
      out.push({ address: [broadcast >>> 24, (broadcast >>> 16) & 255, (broadcast >>> 8) & 255, broadcast & 255].join('.'), cidr: a.cidr ?? a.address, iface });
    }
  }
  return out;
}

function toNumber(ip: string): number | undefined {
  const p = ip.split('.').map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) return undefined;
  return (((p[0] as number) << 24) | ((p[1] as number) << 16) | ((p[2] as number) << 8) | (p[3] as number)) >>> 0;
}

/** `0100007F` (little-endian) → `127.0.0.1`. */
function ipv4FromProc(hex: string): string | undefined {
  const n = parseInt(hex, 16);
  if (Number.isNaN(n)) return undefined;
  return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].join('.');
}

/** 32 hex digits as four little-endian 32-bit words; `::ffff:a.b.c.d` comes back as `a.b.c.d`, `::` as `::`. */
function ipv6FromProc(hex: string): string | undefined {
  if (hex.length !== 32) return undefined;
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) {
    const word = hex.slice(w * 8, w * 8 + 8);
    for (let b = 3; b >= 0; b--) bytes.push(parseInt(word.slice(b * 2, b * 2 + 2), 16));
  }
  if (bytes.some(Number.isNaN)) return undefined;
  if (bytes.every((b) => b === 0)) return '::';
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return bytes.slice(12).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] as number) << 8) | (bytes[i + 1] as number)).toString(16));
  return groups.join(':');
}
