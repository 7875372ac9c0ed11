import { createHash, randomUUID } from 'node:crypto';
import { chmod, link, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CodedError } from '../lib/index.js';
import type { Logger } from '../lib/index.js';
import { isSameProcess, readProcEntry } from '../drivers/index.js';
import type { AddressRanges, RangeKind, RangeSource } from './address-ranges.js';
import {
  ALTERNATIVES,
  DEFAULT_RANGES,
  RANGE_ENV,
  RANGE_KINDS,
  alternativeRange,
  formatRange,
  persistedRangesFile,
  rangesFromEnv,
  rangesOverlap,
  readPersistedRanges,
} from './address-ranges.js';

/** One server's claim on its ranges, a file in the machine's registry (one per data directory). */
interface RangeClaim {
  readonly dataDir: string;
  /** Its process driver's exit directory: shims of it still running keep the claim alive. */
  readonly exitDir: string;
  readonly pid: number;
  readonly startTicks: number;
  readonly ranges: AddressRanges;
  /**
   * The cluster whose ranges these are (`clusterIdOf`): a server's, and each agent's of that cluster
   * on this machine. Claims of one cluster share its ranges by design and never conflict.
   */
  readonly cluster?: string;
}

export interface RangeClaimOptions {
  readonly env: NodeJS.ProcessEnv;
  /** `ServerConfig.instanceRange`: wins over BERTH_INSTANCE_RANGE. */
  readonly instanceRange?: string;
  /** The registry of every server's claim on this machine (default: BERTH_RANGES_DIR, else /tmp/berth-ranges). */
  readonly registryDir?: string;
  /** This server's process-driver exit directory (`<data>/exits`). */
  readonly exitDir: string;
  /** The exit directories whose containers still run (their shims): their servers' claims hold. */
  readonly exitDirsInUse: () => Promise<ReadonlySet<string>>;
  readonly logger: Logger;
  /** Defaults that replace DEFAULT_RANGES' (the Docker driver's container-reachable service range). */
  readonly defaults?: Partial<AddressRanges>;
  /** The cluster this server's ranges are handed out by (`clusterIdOf`); its agents' claims are its own. */
  readonly cluster?: string;
}

export interface ClaimedRanges {
  readonly ranges: AddressRanges;
  /** What the operator must hear of at start (a range moved because another server holds it). */
  readonly notices: readonly string[];
}

export const DEFAULT_RANGES_DIR = '/tmp/berth-ranges';

/**
 * Chooses this data directory's address ranges and claims them machine-wide, so that two berth
 * servers never hand out the same instance addresses, virtual IPs or node ports.
 *
 * Each range is the environment's (BERTH_INSTANCE_RANGE, BERTH_SERVICE_RANGE, BERTH_NODE_PORT_RANGE),
 * else the one this data directory took before (`<data>/ranges.json`: its store holds addresses from
 * it), else the default. Under a lock, the claims of the other servers in the registry are read; a
 * claim holds while its server runs or while any container it started does (its shims), and is removed
 * otherwise. A default range that overlaps a live claim moves to the first free alternative
 * (`alternativeRange`) with a notice; an asked-for or earlier range that overlaps one is refused.
 * The claim is written, and the ranges are kept in `<data>/ranges.json`.
 *
 * A registry that cannot be used (no permission) is logged and skipped: the server runs unchecked.
 * @throws CodedError `ADDRESS_RANGE_IN_USE` naming the range, the other server's data directory and pid,
 *   and the variable to set (with a free range to set it to).
 */
export async function claimAddressRanges(dataDir: string, options: RangeClaimOptions): Promise<ClaimedRanges> {
  const registry = options.registryDir ?? (options.env.BERTH_RANGES_DIR || DEFAULT_RANGES_DIR);
  const asked = rangesFromEnv(options.env, options.instanceRange);
  const earlier = readPersistedRanges(dataDir);
  const source = {} as Record<RangeKind, RangeSource>;
  const chosen = { ...DEFAULT_RANGES, ...options.defaults } as { -readonly [K in RangeKind]: AddressRanges[K] };
  for (const kind of RANGE_KINDS) {
    const value = asked[kind] ?? earlier[kind];
    source[kind] = asked[kind] !== undefined ? 'env' : earlier[kind] !== undefined ? 'persisted' : 'default';
    if (value !== undefined) (chosen as Record<RangeKind, unknown>)[kind] = value;
  }
  const notices: string[] = [];
  const unlock = await lockRegistry(registry, options.logger);
  try {
    const others = unlock ? await liveClaims(registry, dataDir, options) : [];
    for (const kind of RANGE_KINDS) {
      const holder = others.find((c) => rangesOverlap(kind, chosen[kind], c.ranges[kind]));
      if (!holder) continue;
      const free = firstFreeAlternative(kind, others);
      if (source[kind] !== 'default' || free === undefined) throw rangeInUse(kind, chosen[kind], holder, source[kind], free, dataDir);
      notices.push(
        `another berth server (data directory ${holder.dataDir}, pid ${holder.pid}) uses the ${describe(kind)} ${formatRange(kind, holder.ranges[kind])}; ` +
          `this server takes ${formatRange(kind, free)} instead (set ${RANGE_ENV[kind]} to choose one)`,
      );
      (chosen as Record<RangeKind, unknown>)[kind] = free;
    }
    if (unlock) {
      const claim = { dataDir, exitDir: options.exitDir, pid: process.pid, startTicks: (await readProcEntry(process.pid))?.startTicks ?? 0, ranges: chosen, ...(options.cluster ? { cluster: options.cluster } : {}) };
      await writeClaim(registry, claim).catch((error: unknown) => options.logger.warn({ err: error, registry }, 'cannot write this server\'s range claim; other servers will not see its ranges'));
    }
    await writeAtomically(persistedRangesFile(dataDir), JSON.stringify(chosen));
  } finally {
    await unlock?.();
  }
  return { ranges: chosen, notices };
}

/**
 * What names a cluster in claims: `data-dir:<hash>` for a single-machine server (its data directory),
 * `key:<hash>` for servers on etcd (the cluster's signing key, the same on every server). Not a secret:
 * GET /v1/version shows it.
 */
export function clusterIdOf(source: { readonly dataDir: string } | { readonly signingKey: Buffer }): string {
  if ('dataDir' in source) return `data-dir:${createHash('sha256').update(source.dataDir).digest('hex').slice(0, 24)}`;
  return `key:${createHash('sha256').update('berth cluster id\0').update(source.signingKey).digest('hex').slice(0, 24)}`;
}

/**
 * An agent's claim on the ranges of the cluster it joined (`berth agent`: its instances get addresses
 * of the instance range on this machine, its proxy opens the virtual IPs and node ports). Unlike a
 * server's, these cannot move: the cluster fixed them (its first server). So a live claim of another
 * berth on this machine that overlaps one of them — another single-machine server, an agent of
 * another cluster — stops the agent; claims of its own cluster (its server on this machine, other
 * agents of it) are fine. A registry that cannot be used is logged and skipped, as for servers.
 * @throws CodedError `ADDRESS_RANGE_IN_USE` naming the range, the other berth's data directory and pid, and the fixes.
 */
export async function claimClusterRanges(
  dataDir: string,
  ranges: AddressRanges,
  options: Pick<RangeClaimOptions, 'env' | 'registryDir' | 'exitDir' | 'exitDirsInUse' | 'logger'> & { readonly cluster: string },
): Promise<void> {
  const registry = options.registryDir ?? (options.env.BERTH_RANGES_DIR || DEFAULT_RANGES_DIR);
  const unlock = await lockRegistry(registry, options.logger);
  if (!unlock) return;
  try {
    const others = await liveClaims(registry, dataDir, options);
    for (const kind of RANGE_KINDS) {
      const holder = others.find((c) => rangesOverlap(kind, ranges[kind], c.ranges[kind]));
      if (!holder) continue;
      const free = firstFreeAlternative(kind, [...others, { ...holder, ranges }]);
      throw new CodedError(
        'ADDRESS_RANGE_IN_USE',
        `the cluster's ${describe(kind)} ${formatRange(kind, ranges[kind])} (fixed by its first server) overlaps ${formatRange(kind, holder.ranges[kind])} of another berth on this machine ` +
          `(data directory ${holder.dataDir}, pid ${holder.pid}, or containers it started): this agent's instances and proxy would use the same ${kind === 'nodePortRange' ? 'ports' : 'addresses'}; ` +
          `stop that berth, or restart it with ${RANGE_ENV[kind]}=${free === undefined ? '<a range no other berth uses>' : formatRange(kind, free)}, or run this agent on another machine`,
        { range: formatRange(kind, ranges[kind]), variable: RANGE_ENV[kind], otherDataDir: holder.dataDir, otherPid: holder.pid, ...(free !== undefined ? { free: formatRange(kind, free) } : {}) },
      );
    }
    const claim: RangeClaim = { dataDir, exitDir: options.exitDir, pid: process.pid, startTicks: (await readProcEntry(process.pid))?.startTicks ?? 0, ranges, cluster: options.cluster };
    await writeClaim(registry, claim).catch((error: unknown) => options.logger.warn({ err: error, registry }, 'cannot write this agent\'s range claim; other berths will not see its ranges'));
  } finally {
    await unlock();
  }
}

function describe(kind: RangeKind): string {
  return kind === 'instanceRange' ? 'instance range' : kind === 'serviceRange' ? 'service range' : 'node port range';
}

function firstFreeAlternative<K extends RangeKind>(kind: K, others: readonly RangeClaim[]): AddressRanges[K] | undefined {
  for (let n = 1; n <= ALTERNATIVES; n++) {
    const candidate = alternativeRange(kind, n);
    if (!others.some((c) => rangesOverlap(kind, candidate, c.ranges[kind]))) return candidate;
  }
  return undefined;
}

function rangeInUse<K extends RangeKind>(kind: K, range: AddressRanges[K], holder: RangeClaim, source: RangeSource, free: AddressRanges[K] | undefined, dataDir: string): CodedError {
  const why = source === 'env' ? `(from ${RANGE_ENV[kind]})` : source === 'persisted' ? `(this data directory's since an earlier start, kept in ${persistedRangesFile(dataDir)})` : '(the default)';
  const pick = free !== undefined ? `set ${RANGE_ENV[kind]}=${formatRange(kind, free)} (free)` : `set ${RANGE_ENV[kind]} to a range no other server uses`;
  return new CodedError(
    'ADDRESS_RANGE_IN_USE',
    `the ${describe(kind)} ${formatRange(kind, range)} ${why} overlaps ${formatRange(kind, holder.ranges[kind])} of another berth server ` +
      `(data directory ${holder.dataDir}, pid ${holder.pid}, or containers it started): ${pick}, or stop that server and remove its services`,
    { range: formatRange(kind, range), variable: RANGE_ENV[kind], otherDataDir: holder.dataDir, otherPid: holder.pid, ...(free !== undefined ? { free: formatRange(kind, free) } : {}) },
  );
}

const claimFile = (registry: string, dataDir: string): string => join(registry, `${createHash('sha256').update(dataDir).digest('hex').slice(0, 24)}.json`);

/**
 * Every other data directory's claim that still holds, but those of our own cluster (`options.cluster`);
 * stale ones (server and containers gone) are removed.
 */
async function liveClaims(registry: string, dataDir: string, options: Pick<RangeClaimOptions, 'exitDirsInUse' | 'cluster'>): Promise<RangeClaim[]> {
  const live: RangeClaim[] = [];
  let inUse: Promise<ReadonlySet<string>> | undefined; // one /proc pass, and only if a server is gone
  for (const name of await readdir(registry).catch(() => [] as string[])) {
    if (!name.endsWith('.json')) continue;
    const file = join(registry, name);
    const claim = await readFile(file, 'utf8').then((t) => JSON.parse(t) as RangeClaim, () => undefined);
    if (!claim || typeof claim.dataDir !== 'string' || !claim.ranges || claim.dataDir === dataDir) continue;
    if (options.cluster !== undefined && claim.cluster === options.cluster) continue;
    const serving = Number.isSafeInteger(claim.pid) && claim.pid > 1 && (await isSameProcess(claim.pid, claim.startTicks));
    if (serving || (await (inUse ??= options.exitDirsInUse())).has(claim.exitDir)) live.push(claim);
    else await rm(file, { force: true }).catch(() => undefined); // another user's: left for them
  }
  return live;
}

async function writeClaim(registry: string, claim: RangeClaim): Promise<void> {
  await writeAtomically(claimFile(registry, claim.dataDir), JSON.stringify(claim), 0o644);
}

/** Writes a fresh, unguessable temporary file exclusively (never through a planted link), then renames it. */
async function writeAtomically(file: string, text: string, mode = 0o600): Promise<void> {
  const tmp = `${file}.${randomUUID()}.tmp`;
  await writeFile(tmp, text, { mode, flag: 'wx' });
  await rename(tmp, file).catch(async (error: unknown) => {
    await rm(tmp, { force: true });
    throw error;
  });
}

/**
 * Takes `<registry>/.lock` (linked into place holding the pid and start ticks of its holder; taken
 * over when that process is gone), so that two servers starting at once do not pick the same free range. The registry
 * is made world-writable and sticky, as /tmp is, so that servers of every user meet in it.
 * @returns the release, or undefined when the registry cannot be used (logged).
 */
async function lockRegistry(registry: string, logger: Logger): Promise<(() => Promise<void>) | undefined> {
  try {
    await mkdir(registry, { recursive: true });
    await chmod(registry, 0o1777).catch(() => undefined); // not ours to change: fine
  } catch (error) {
    logger.warn({ err: error, registry }, 'cannot use the range registry; not checking the ranges of other berth servers');
    return undefined;
  }
  const lock = join(registry, '.lock');
  const me = `${process.pid} ${(await readProcEntry(process.pid))?.startTicks ?? 0}`;
  // Written aside, then linked into place: the lock never exists without its holder in it.
  const mine = join(registry, `.lock.${randomUUID()}`);
  try {
    await writeFile(mine, me, { mode: 0o644, flag: 'wx' });
  } catch (error) {
    logger.warn({ err: error, registry }, 'cannot write to the range registry; not checking the ranges of other berth servers');
    return undefined;
  }
  const deadline = Date.now() + 10_000;
  try {
    for (;;) {
      try {
        await link(mine, lock);
        return () => rm(lock, { force: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
          logger.warn({ err: error, registry }, 'cannot lock the range registry; not checking the ranges of other berth servers');
          return undefined;
        }
      }
      const [pid, ticks] = (await readFile(lock, 'utf8').catch(() => '')).split(' ').map(Number);
      const held = pid !== undefined && pid > 1 && ticks !== undefined && (await isSameProcess(pid, ticks));
      if (Date.now() > deadline) {
        logger.warn({ registry, holder: pid }, 'the range registry stayed locked for 10 s; not checking the ranges of other berth servers');
        return undefined;
      }
      if (!held) await rm(lock, { force: true }).catch(() => undefined); // its holder died
      else await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    await rm(mine, { force: true }).catch(() => undefined);
  }
}
