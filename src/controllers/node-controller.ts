import type { Clock, Logger } from '../lib/index.js';
import { silentLogger, systemClock } from '../lib/index.js';
import type { NewServiceEvent, NodeInfo } from '../model/index.js';
import { VersionConflictError } from '../model/index.js';
import type { NodeLiveness, Store } from '../store/index.js';

/** Swarm's default: a node whose heartbeats stopped is down after this long (`--dispatcher-heartbeat` 5 s × grace). */
export const DEFAULT_NODE_GRACE_MS = 10_000;

export interface NodeControllerOptions {
  readonly store: Store;
  readonly liveness: NodeLiveness;
  /** A node with no heartbeat for this long is marked down (default DEFAULT_NODE_GRACE_MS). */
  readonly graceMs?: number;
  /** How often nodes are looked at (default a quarter of the grace, at most 1 s). */
  readonly checkEveryMs?: number;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

/**
 * The node lifecycle loop (Kubernetes' node lifecycle controller, swarmkit's dispatcher): a ready node
 * whose agent has not sent a heartbeat for `graceMs` is marked down (`ready: false`), with a `node.down`
 * event on every service that has instances there; the service controller then replaces them
 * elsewhere (docs/scheduling.md). The agent's next registration marks it ready again.
 *
 * A controller that has just started gives every node a full grace period (heartbeats sent to a server
 * that was down were not seen, and must not count against the nodes). The write is compare-and-set on
 * the version read, so a registration that lands between the check and the write wins.
 */
export class NodeController {
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly graceMs: number;
  private readonly checkEveryMs: number;
  private startedAtMs = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: NodeControllerOptions) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.graceMs = options.graceMs ?? DEFAULT_NODE_GRACE_MS;
    this.checkEveryMs = options.checkEveryMs ?? Math.min(1000, Math.max(50, Math.floor(this.graceMs / 4)));
  }

  start(): void {
    this.startedAtMs = this.clock.now();
    let due = this.startedAtMs + this.checkEveryMs;
    const tick = (): void => {
      // A check that comes more than a period late found this server stalled (a long pass, a burst of
      // requests): heartbeats that reached it meanwhile are still unread in its sockets, and read only
      // after this timer. It looks again a period later instead of marking their nodes down.
      const late = this.clock.now() - due;
      if (late > this.checkEveryMs) this.logger.debug({ lateMs: late }, 'node check skipped: this server was stalled; heartbeats it has not read yet must not count against the nodes');
      else {
        try {
          this.check();
        } catch (error) {
          this.logger.error({ err: error }, 'checking node heartbeats failed');
        }
      }
      due = this.clock.now() + this.checkEveryMs;
      this.timer = setTimeout(tick, this.checkEveryMs);
      this.timer.unref();
    };
    this.timer = setTimeout(tick, this.checkEveryMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One pass: marks down every ready node whose last heartbeat is older than the grace. Returns their names. */
  check(): string[] {
    const now = this.clock.now();
    const down: string[] = [];
    for (const node of this.options.store.listNodes()) {
      if (!node.ready) continue;
      const heard = this.options.liveness.lastRenewedMs(node.name);
      const last = Math.max(heard ?? 0, this.startedAtMs);
      if (now - last <= this.graceMs) continue;
      if (this.markDown(node, now - last, heard)) down.push(node.name);
    }
    return down;
  }

  /** `heardMs`: the last heartbeat this server heard (undefined: none since it started; the record's stays). */
  private markDown(node: NodeInfo, silentMs: number, heardMs: number | undefined): boolean {
    const { store } = this.options;
    // The record's heartbeatAt is otherwise the last registration or change: `node show` said a node
    // that had just gone down was "Down (since 2m ago)".
    const heartbeatAt = heardMs !== undefined && heardMs > Date.parse(node.heartbeatAt || '1970-01-01T00:00:00Z') ? { heartbeatAt: new Date(heardMs).toISOString() } : {};
    try {
      store.updateNode(node.name, { ready: false, ...heartbeatAt }, { ifVersion: node.version });
    } catch (error) {
      if (error instanceof VersionConflictError) return false; // it registered meanwhile: look again next pass
      throw error;
    }
    const seconds = (silentMs / 1000).toFixed(1);
    this.logger.warn({ node: node.name, silentMs }, `node ${node.name} is down: no heartbeat for ${seconds}s`);
    const services = new Map<string, { grid: string; service: string; count: number }>();
    for (const i of store.listInstances({ node: node.name, active: true })) {
      const key = `${i.grid}/${i.service}`;
      const entry = services.get(key) ?? { grid: i.grid, service: i.service, count: 0 };
      entry.count++;
      services.set(key, entry);
    }
    const events: NewServiceEvent[] = [...services.values()].map((s) => ({
      grid: s.grid,
      service: s.service,
      type: 'node.down',
      severity: 'warning',
      message: `node ${node.name} is down (no heartbeat for ${seconds}s); its ${s.count} instance(s) of this service are replaced elsewhere where the service allows it`,
      data: { node: node.name, instances: s.count },
    }));
    if (events.length > 0) store.appendEvents(events);
    return true;
  }
}
