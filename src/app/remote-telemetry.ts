import type { NodeTelemetryReader, Telemetry } from '../api/index.js';
import { NODE_TELEMETRY_MAX_IDS, telemetryToken } from '../api/index.js';
import type { Store } from '../store/index.js';
import { toNanoIso } from '../agent/index.js';
import { CodedError } from '../lib/index.js';
import type { Instance, InstanceStats, LogLine, UnreachableNode } from '../model/index.js';
import type { FeedQuery, FeedTimeouts, TelemetryTarget } from './log-feed.js';
import { LogFeed, describeFailure } from './log-feed.js';
import { tlsFetch } from '../cli/index.js';

export type { TelemetryTarget } from './log-feed.js';

export interface RemoteTelemetryOptions {
  /** The node this process reads in-process, and its reader (the all-in-one server's own node); absent: every node is remote (control-plane servers). */
  readonly local?: { readonly node: string; readonly reader: NodeTelemetryReader };
  /** Where node `node`'s telemetry listener is, or why it has none (not registered, no telemetry port…). */
  readonly target: (node: string) => TelemetryTarget | { readonly problem: string };
  /**
   * While following, the instances to read given the ones asked for: re-read so that restarts and
   * scale-ups show up (default: the ones asked for).
   */
  readonly liveSource?: (instances: readonly Instance[]) => () => readonly Instance[];
  /** For plain-HTTP listeners (agents that reported no certificate); default the global fetch. */
  readonly fetch?: typeof fetch;
  /** For HTTPS listeners: a fetch that accepts only the certificate with `fingerprint`; default pinnedFetch. */
  readonly pinnedFetch?: (fingerprint: string) => typeof fetch;
  /** Default 5 s to answer, 10 s of silence (agents send a heartbeat line every 2 s). */
  readonly timeouts?: Partial<FeedTimeouts> & { readonly statsMs?: number };
  /** While following: how often new instances are looked for (default 1 s), and how long before a node that failed is asked again (default 5 s). */
  readonly rescanMs?: number;
  readonly retryMs?: number;
}

/**
 * The servers' Telemetry for instances on any node (kube-apiserver → kubelet): it groups the instances
 * by node, reads each node's agent at its telemetry listener (node address + telemetry port, with the
 * token derived for that node), and this process's own node in-process; and merges the nodes' lines in
 * time order (docs/node-telemetry.md).
 *
 * - tail: each node sends the last N of its instances' lines; the merged stream's last N are among them.
 * - follow: lines are released in order up to the smallest watermark of the nodes still streaming,
 *   which is also the merged stream's watermark (`onWatermark`, for `logs --events`); new instances
 *   are found within `rescanMs`, and a node whose stream broke is asked again after `retryMs`, from
 *   where it broke.
 * - a node that does not answer (or whose stream breaks) is passed to `onUnreachable`; when no node of
 *   the instances could be read at all, the call fails with LOGS_UNAVAILABLE (503) naming them.
 * - `signal` ends every request to the nodes.
 */
export class RemoteTelemetry implements Telemetry {
  private readonly timeouts: FeedTimeouts;
  private readonly statsMs: number;
  private readonly fetchFn: typeof fetch;
  /** One pinned fetch (and its keep-alive connections) per fingerprint. */
  private readonly pinned = new Map<string, typeof fetch>();

  constructor(private readonly options: RemoteTelemetryOptions) {
    this.timeouts = { headersMs: options.timeouts?.headersMs ?? 5000, idleMs: options.timeouts?.idleMs ?? 10_000 };
    this.statsMs = options.timeouts?.statsMs ?? 5000;
    this.fetchFn = options.fetch ?? ((input, init) => fetch(input, init));
  }

  /** The fetch for a listener: pinned to its certificate when the agent reported one (kubelet serving certificate, without a CA). */
  private fetchFor(target: TelemetryTarget): typeof fetch {
    const { fingerprint } = target;
    if (fingerprint === undefined) return this.fetchFn;
    let f = this.pinned.get(fingerprint);
    if (!f) {
      f = (this.options.pinnedFetch ?? pinnedFetch)(fingerprint);
      this.pinned.set(fingerprint, f);
    }
    return f;
  }

  async *logs(instances: readonly Instance[], options: Parameters<Telemetry['logs']>[1]): AsyncIterable<LogLine> {
    const follow = options.follow === true;
    // An instance still `new` has not run (no lines), and its agent may not have heard of it yet
    // (it would answer 404): it is read once it moved on (a rescan finds it while following).
    const placed = (list: readonly Instance[]): Instance[] => list.filter((i) => i.node !== '' && i.status.state !== 'new');
    const source = follow && this.options.liveSource ? this.options.liveSource(instances) : () => instances;
    const local = this.options.local;
    const startedAt = toNanoIso(Date.now());
    const feeds: LogFeed[] = [];
    let waiter: (() => void) | undefined;
    const wake = (): void => {
      const w = waiter;
      waiter = undefined;
      w?.();
    };
    const sleep = (): Promise<void> => new Promise<void>((resolve) => (waiter = resolve));
    const onAbort = (): void => wake();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const open = (node: string, ids: readonly string[], query: FeedQuery, history: boolean, after?: LogFeed): void => {
      if (local && node === local.node) {
        const feed = new LogFeed(node, ids, history, wake);
        feeds.push(feed);
        // The in-process reader follows the node's instances itself (restarts included).
        void feed.readLocal(local.reader, () => placed(source()).filter((i) => i.node === node), query);
        return;
      }
      const target = this.options.target(node);
      for (const part of chunks(ids, NODE_TELEMETRY_MAX_IDS)) {
        const resume = after?.resumePoint();
        const feed = new LogFeed(node, part, history, wake, resume?.skipUpTo, resume?.since);
        feed.warned = after?.warned ?? false;
        feeds.push(feed);
        if ('problem' in target) feed.refuse(target.problem);
        else void feed.readRemote(target, query, this.timeouts, this.fetchFor(target));
      }
    };
    /** One warning per node for its feeds that failed and were not reported yet. */
    const report = (): void => {
      const fresh = feeds.filter((f) => f.state === 'failed' && !f.warned);
      for (const f of fresh) f.warned = true;
      for (const [node, failed] of groupBy(fresh, (f) => f.node)) {
        options.onUnreachable?.({ node, reason: (failed[0] as LogFeed).reason, instances: [...new Set(failed.flatMap((f) => f.ids))] });
      }
    };
    const query: FeedQuery = { ...(options.tail === undefined ? {} : { tail: options.tail }), ...(options.since === undefined ? {} : { since: options.since }), follow };
    const byNode = groupByNode(placed(source()));
    if (follow && local && !byNode.has(local.node)) byNode.set(local.node, []);
    for (const [node, ids] of byNode) open(node, ids, query, true);
    try {
      // The history: every feed's lines before its first watermark (all of them, without follow).
      while (!feeds.every((f) => f.historyDone) && !options.signal?.aborted) await sleep();
      if (options.signal?.aborted) return;
      const failed = feeds.filter((f) => f.state === 'failed');
      if (failed.length > 0 && !feeds.some((f) => f.state !== 'failed' && f.ids.length > 0)) {
        throw unavailable(failed.map((f) => ({ node: f.node, reason: f.reason, instances: f.ids })));
      }
      report();
      const history = feeds.flatMap((f) => f.history.splice(0)).sort(byTime);
      const start = options.tail !== undefined ? Math.max(0, history.length - options.tail) : 0;
      for (let k = start; k < history.length; k++) yield history[k] as LogLine;
      if (!follow) return;

      // Following: lines are released up to the smallest watermark of the feeds still streaming.
      let released: string | undefined;
      let lastScan = Date.now();
      const rescanMs = this.options.rescanMs ?? 1000;
      const retryMs = this.options.retryMs ?? 5000;
      const ticker = setInterval(wake, Math.min(rescanMs, retryMs));
      try {
        while (!options.signal?.aborted) {
          if (Date.now() - lastScan >= rescanMs) {
            lastScan = Date.now();
            this.rescan(feeds, placed(source()), { startedAt, retryMs, open });
          }
          for (const f of feeds) if (f.state === 'open' && f.watermark !== undefined) f.warned = false;
          report();
          const streaming = feeds.filter((f) => f.state === 'open' && f.watermark !== undefined);
          const mark = streaming.length > 0 ? streaming.map((f) => f.watermark as string).reduce((a, b) => (b < a ? b : a)) : undefined;
          const ready: LogLine[] = [];
          for (const f of feeds) {
            if (f.buffer.length === 0) continue;
            ready.push(...(mark === undefined ? f.buffer : f.buffer.filter((l) => l.time <= mark)));
            f.buffer = mark === undefined ? [] : f.buffer.filter((l) => l.time > mark);
          }
          ready.sort(byTime);
          for (const line of ready) yield line;
          if (mark !== undefined && (released === undefined || mark > released)) {
            released = mark;
            options.onWatermark?.(mark);
          }
          for (let k = feeds.length - 1; k >= 0; k--) {
            const f = feeds[k] as LogFeed;
            if (f.retired && f.buffer.length === 0) feeds.splice(k, 1);
          }
          if (options.signal?.aborted) break;
          await sleep();
        }
      } finally {
        clearInterval(ticker);
      }
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      for (const f of feeds) f.close();
    }
  }

  /**
   * While following: asks a node whose feed failed `retryMs` ago again (from its watermark; the lines
   * it had sent are not sent twice), and opens feeds for instances no feed covers — a restart, a
   * scale-up, an instance moved to another node — with their lines since the follow started.
   */
  private rescan(feeds: LogFeed[], current: readonly Instance[], context: { readonly startedAt: string; readonly retryMs: number; readonly open: (node: string, ids: readonly string[], query: FeedQuery, history: boolean, after?: LogFeed) => void }): void {
    const now = Date.now();
    const wanted = new Set(current.map((i) => i.id));
    for (const f of [...feeds]) {
      if (f.state !== 'failed' || f.retired || now - f.failedAt < context.retryMs) continue;
      f.retired = true;
      // Instances gone meanwhile are not asked for (their node would refuse the whole request).
      const ids = f.node === this.options.local?.node ? f.ids : f.ids.filter((id) => wanted.has(id));
      if (ids.length > 0 || f.node === this.options.local?.node) context.open(f.node, ids, { since: f.resumePoint().since ?? context.startedAt, follow: true }, false, f);
    }
    const covered = new Set(feeds.filter((f) => !f.retired).flatMap((f) => f.ids));
    const local = this.options.local?.node;
    const fresh = current.filter((i) => i.node !== local && !covered.has(i.id));
    for (const [node, ids] of groupByNode(fresh)) context.open(node, ids, { since: context.startedAt, follow: true }, false);
  }

  async stats(instances: readonly Instance[], options: { readonly onUnreachable?: (node: UnreachableNode) => void } = {}): Promise<InstanceStats[]> {
    const local = this.options.local;
    const groups = [...groupByNode(instances.filter((i) => i.node !== ''))];
    const results = await Promise.all(
      groups.map(async ([node, ids]): Promise<InstanceStats[] | UnreachableNode> => {
        const mine = instances.filter((i) => i.node === node);
        try {
          if (local && node === local.node) return await local.reader.stats(mine);
          const target = this.options.target(node);
          if ('problem' in target) return { node, reason: target.problem, instances: ids };
          const parts = await Promise.all(chunks(ids, NODE_TELEMETRY_MAX_IDS).map((part) => this.remoteStats(target, part)));
          return parts.flat();
        } catch (error) {
          return { node, reason: describeFailure(error), instances: ids };
        }
      }),
    );
    const missing = results.filter((r): r is UnreachableNode => !Array.isArray(r));
    if (missing.length > 0 && missing.length === results.length) throw unavailable(missing);
    for (const m of missing) options.onUnreachable?.(m);
    return results.filter((r): r is InstanceStats[] => Array.isArray(r)).flat();
  }

  private async remoteStats(target: TelemetryTarget, ids: readonly string[]): Promise<InstanceStats[]> {
    const params = new URLSearchParams();
    for (const id of ids) params.append('id', id);
    const ms = target.down ? Math.min(this.statsMs, 1000) : this.statsMs;
    const response = await this.fetchFor(target)(`${target.url}/v1/node/instances/stats?${params.toString()}`, { headers: { authorization: `Bearer ${target.token}` }, signal: AbortSignal.timeout(ms) }).catch((error: unknown) => {
      throw new Error((error as { name?: string }).name === 'TimeoutError' ? `no answer within ${ms} ms${target.down ? ' (the node is down)' : ''}` : describeFailure(error));
    });
    const body = (await response.json().catch(() => ({}))) as { items?: InstanceStats[]; code?: string; message?: string };
    if (!response.ok || !Array.isArray(body.items)) throw new Error(`its listener answered ${response.status} ${String(body.code)}: ${String(body.message)}`);
    return body.items;
  }
}

/** LOGS_UNAVAILABLE (503): not one node of the instances could be read. */
function unavailable(missing: readonly UnreachableNode[]): CodedError {
  const byNode = new Map<string, UnreachableNode>();
  for (const m of missing) byNode.set(m.node, { node: m.node, reason: m.reason, instances: [...(byNode.get(m.node)?.instances ?? []), ...m.instances] });
  const list = [...byNode.values()];
  return new CodedError('LOGS_UNAVAILABLE', `the agents of the instances' nodes did not answer: ${list.map((u) => `node ${u.node} (${u.reason})`).join('; ')}`, { nodes: list.map((u) => u.node).join(', '), unreachable: list });
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) out.set(key(item), [...(out.get(key(item)) ?? []), item]);
  return out;
}

/** Instance ids by node, in the order of first appearance. */
function groupByNode(instances: readonly Instance[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const i of instances) {
    const ids = out.get(i.node) ?? [];
    ids.push(i.id);
    out.set(i.node, ids);
  }
  return out;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let k = 0; k < items.length; k += size) out.push(items.slice(k, k + size));
  return out;
}

function byTime(a: LogLine, b: LogLine): number {
  return a.time < b.time ? -1 : a.time > b.time ? 1 : 0;
}

/**
 * Where each node's telemetry listener is, from its record in `store` (address and telemetryPort, as
 * its agent registered them), with the token derived for it from the cluster's `key`.
 */
export function storeTelemetryTargets(store: Pick<Store, 'getNode'>, key: Buffer): RemoteTelemetryOptions['target'] {
  return (name) => {
    const node = store.getNode(name);
    if (!node) return { problem: 'the node is not registered any more' };
    if (node.telemetryPort === undefined) return { problem: 'its agent serves no telemetry (berth agent --telemetry-port 0, or an agent older than this server)' };
    if (node.joinedAt === undefined) return { problem: 'it has no join time to derive its telemetry token from' };
    const host = node.address.includes(':') ? `[${node.address}]` : node.address;
    // An agent that reported its certificate is read over HTTPS, pinned to it; an older one (or one without openssl) over plain HTTP.
    const fingerprint = node.telemetryFingerprint;
    return {
      url: `${fingerprint ? 'https' : 'http'}://${host}:${node.telemetryPort}`,
      token: telemetryToken(node.name, node.joinedAt, key),
      ...(fingerprint ? { fingerprint } : {}),
      ...(node.ready ? {} : { down: true }),
    };
  };
}

/**
 * While following logs, re-read the service's instances so that restarts and scale-ups show up
 * (Kontena's `logs -f` follows the service, not a fixed set of instances): the instances asked for,
 * and — when that was the whole service — every later one, else later ones of the same slots.
 */
export function liveSource(store: Pick<Store, 'listInstances'>, initial: readonly Instance[]): () => readonly Instance[] {
  const first = initial[0];
  if (!first) return () => initial;
  const all = (): Instance[] => store.listInstances({ grid: first.grid, service: first.service });
  const ids = new Set(initial.map((i) => i.id));
  const wholeService = all().every((i) => ids.has(i.id));
  const slots = new Set(initial.map((i) => i.slot));
  return () => all().filter((i) => ids.has(i.id) || wholeService || slots.has(i.slot));
}

/**
 * A fetch that speaks HTTPS only to a listener whose certificate has SHA-256 `fingerprint` (the one its
 * agent reported over its authenticated channel): the connection is handed to HTTP only after the
 * certificate matched, so a man in the middle never sees the telemetry token.
 */
export function pinnedFetch(fingerprint: string): typeof fetch {
  const f = tlsFetch({ fingerprint }, { pinnedBy: 'the one the node reported (telemetryFingerprint)' });
  return ((input: string | URL | Request, init?: RequestInit) => f(String(input instanceof Request ? input.url : input), init ?? {})) as typeof fetch;
}
