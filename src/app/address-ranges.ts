import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCidr } from '../lib/index.js';

/*
 * The three address ranges a berth server hands out from, and where each comes from. Two servers on
 * one machine must not share any of them: instances of both would get the same loopback addresses,
 * and both proxies would bind the same virtual IPs and node ports (range-claims.ts keeps them apart).
 */

export interface AddressRanges {
  /** Instance addresses (CIDR), default 127.10.0.0/16. */
  readonly instanceRange: string;
  /** Virtual IPs of services (CIDR), default 127.96.0.0/16. */
  readonly serviceRange: string;
  /** Node ports, inclusive; default 30000–32767 (Kubernetes' node port range). */
  readonly nodePortRange: readonly [number, number];
}

export type RangeKind = keyof AddressRanges;
export const RANGE_KINDS: readonly RangeKind[] = ['instanceRange', 'serviceRange', 'nodePortRange'];

/** Where a range came from: the environment (or a flag), this data directory's earlier start, or the default. */
export type RangeSource = 'env' | 'persisted' | 'default';

export const DEFAULT_RANGES: AddressRanges = { instanceRange: '127.10.0.0/16', serviceRange: '127.96.0.0/16', nodePortRange: [30000, 32767] };

/** The variable that sets each range. */
export const RANGE_ENV: Readonly<Record<RangeKind, string>> = {
  instanceRange: 'BERTH_INSTANCE_RANGE',
  serviceRange: 'BERTH_SERVICE_RANGE',
  nodePortRange: 'BERTH_NODE_PORT_RANGE',
};

/** How many alternatives to the defaults a machine offers (a tenth server needs explicit ranges). */
export const ALTERNATIVES = 9;

/**
 * The n-th alternative to the default of `kind` (n = 1 … ALTERNATIVES), for a second, third … server
 * with default ranges on one machine: instances in 127.(64+n).0.0/16, virtual IPs in
 * 127.(128+n).0.0/16, node ports (30000 − 1000·n)–(30999 − 1000·n) (below the defaults, and below
 * Linux's ephemeral ports, which start at 32768).
 */
export function alternativeRange<K extends RangeKind>(kind: K, n: number): AddressRanges[K] {
  const alt: AddressRanges = {
    instanceRange: `127.${64 + n}.0.0/16`,
    serviceRange: `127.${128 + n}.0.0/16`,
    nodePortRange: [30000 - 1000 * n, 30999 - 1000 * n],
  };
  return alt[kind];
}

/** True when two ranges of one kind share an address (or port). */
export function rangesOverlap<K extends RangeKind>(kind: K, a: AddressRanges[K], b: AddressRanges[K]): boolean {
  if (kind === 'nodePortRange') {
    const [alo, ahi] = a as AddressRanges['nodePortRange'];
    const [blo, bhi] = b as AddressRanges['nodePortRange'];
    return alo <= bhi && blo <= ahi;
  }
  const x = parseCidr(a as string);
  const y = parseCidr(b as string);
  return x.first <= y.last && y.first <= x.last;
}

export function formatRange<K extends RangeKind>(kind: K, range: AddressRanges[K]): string {
  return kind === 'nodePortRange' ? (range as readonly number[]).join('-') : (range as string);
}

/** The ranges the environment (and `--instance-range`) ask for; absent kinds are not asked for. */
export function rangesFromEnv(env: NodeJS.ProcessEnv, instanceRange?: string): Partial<AddressRanges> {
  const out: { -readonly [K in RangeKind]?: AddressRanges[K] } = {};
  const instance = instanceRange ?? env.BERTH_INSTANCE_RANGE;
  if (instance) out.instanceRange = instance;
  if (env.BERTH_SERVICE_RANGE) out.serviceRange = env.BERTH_SERVICE_RANGE;
  // A value that is not LOW-HIGH is ignored (the default applies), as before.
  const ports = /^(\d+)-(\d+)$/.exec(env.BERTH_NODE_PORT_RANGE ?? '');
  if (ports) out.nodePortRange = [Number(ports[1]), Number(ports[2])];
  return out;
}

/** `<dataDir>/ranges.json`: the ranges this data directory took at its last start (its store holds addresses from them). */
export function persistedRangesFile(dataDir: string): string {
  return join(dataDir, 'ranges.json');
}

export function readPersistedRanges(dataDir: string): Partial<AddressRanges> {
  try {
    const raw = JSON.parse(readFileSync(persistedRangesFile(dataDir), 'utf8')) as Partial<AddressRanges>;
    const out: { -readonly [K in RangeKind]?: AddressRanges[K] } = {};
    if (typeof raw.instanceRange === 'string') out.instanceRange = raw.instanceRange;
    if (typeof raw.serviceRange === 'string') out.serviceRange = raw.serviceRange;
    const p = raw.nodePortRange;
    if (Array.isArray(p) && p.length === 2 && p.every((n) => Number.isInteger(n))) out.nodePortRange = [p[0] as number, p[1] as number];
    return out;
  } catch {
    return {};
  }
}
