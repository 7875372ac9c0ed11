import type { Clock, Logger } from '../lib/index.js';
import { silentLogger, systemClock } from '../lib/index.js';
import type { NodeRegistration } from '../model/index.js';

/** How often an agent says it is alive: three chances within the server's default 10 s grace. */
export const DEFAULT_HEARTBEAT_MS = 3000;

export interface NodeHeartbeatOptions {
  /**
   * Sends one heartbeat (the registration with its facts); rejects when the control plane did not take
   * it. May resolve to the period the control plane asks for (ms), as swarmkit's dispatcher answers each
   * heartbeat with the next period: it follows the server's grace.
   */
  readonly send: (registration: NodeRegistration) => Promise<number | void> | number | void;
  /** The node's facts now (heartbeatAt is set per beat). */
  readonly registration: () => Omit<NodeRegistration, 'heartbeatAt'>;
  /** Default DEFAULT_HEARTBEAT_MS. */
  readonly intervalMs?: number;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

/**
 * The agent's heartbeat: registers the node at start (start() resolves once the control plane took it,
 * or rejects with why), then beats every `intervalMs` until stopped. A failed beat is logged once per
 * outage and retried at the next tick; the control plane marks the node down when beats stop for its
 * grace period (controllers/node-controller.ts).
 */
export class NodeHeartbeat {
  private readonly clock: Clock;
  private readonly logger: Logger;
  private timer: NodeJS.Timeout | undefined;
  private failing = false;
  private stopped = false;
  private periodMs: number;

  constructor(private readonly options: NodeHeartbeatOptions) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.periodMs = options.intervalMs ?? DEFAULT_HEARTBEAT_MS;
  }

  async start(): Promise<void> {
    await this.beat();
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.beat()
        .then(() => {
          if (this.failing) this.logger.info({}, 'heartbeats reach the control plane again');
          this.failing = false;
        })
        .catch((error: unknown) => {
          if (!this.failing) this.logger.warn({ err: error }, 'a heartbeat did not reach the control plane; retrying');
          this.failing = true;
        })
        .finally(() => this.schedule());
    }, this.periodMs);
    this.timer.unref();
  }

  private async beat(): Promise<void> {
    const asked = await this.options.send({ ...this.options.registration(), heartbeatAt: new Date(this.clock.now()).toISOString() });
    // An explicit intervalMs wins; else the control plane's period, kept within sane bounds.
    if (typeof asked === 'number' && this.options.intervalMs === undefined && Number.isFinite(asked)) this.periodMs = Math.min(60_000, Math.max(100, asked));
  }
}
