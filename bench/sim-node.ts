/**
 * A simulated node for bench/control-plane-scale.bench.ts (the fake driver: nothing runs). It goes
 * through the API as `berth agent --join` does: joins with a join token, beats at the period the server
 * answers (the next beat a period after the answer, as agent/node-heartbeat.ts), and reports each new
 * instance of its own as starting, then running with an `instance.started` event, one report in flight
 * (as app/remote-agent-ports.ts sends them), retried until the server takes it.
 */
import { NodeAgentClient } from '../src/client/index.js';
import type { NodeFacts } from '../src/client/index.js';
import type { Instance, InstanceStatus, NewServiceEvent } from '../src/model/index.js';

/** How often a node polls its instances with BENCH_FOLLOW=poll. */
export const POLL_MS = 500;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One simulated node: joins, beats, and reports its new instances as starting → running, one report in flight. */
export class SimNode {
  client!: NodeAgentClient;
  private readonly handled = new Set<string>();
  private readonly queue: Instance[] = [];
  private sending = false;
  private beating: NodeJS.Timeout | undefined;
  private polling: NodeJS.Timeout | undefined;
  private stopped = false;
  private pid = 1000;

  constructor(
    readonly name: string,
    private readonly facts: NodeFacts,
    private readonly onRunning: (n: number) => void,
    private readonly onSeen: (i: Instance) => void,
  ) {}

  async join(url: string, joinToken: string): Promise<void> {
    const joined = await new NodeAgentClient({ baseUrl: url, token: joinToken }).join(this.name, this.facts);
    this.client = new NodeAgentClient({ baseUrl: url, token: joined.token });
    this.beat(joined.heartbeatPeriodMs);
  }

  /** Every beat's round trip, ms. */
  readonly beats: number[] = [];

  /** The next beat goes a period after the answer, as agent/node-heartbeat.ts sends them. */
  private beat(periodMs: number): void {
    this.beating = setTimeout(() => {
      if (this.stopped) return;
      const t = performance.now();
      this.client.heartbeat(this.name, this.facts).then(
        (a) => {
          this.beats.push(performance.now() - t);
          this.beat(a.heartbeatPeriodMs);
        },
        () => this.beat(1000),
      );
    }, periodMs);
  }

  /** BENCH_FOLLOW=poll: lists its instances every POLL_MS. */
  poll(): void {
    this.polling = setTimeout(async () => {
      if (this.stopped) return;
      try {
        for (const i of (await this.client.instances(this.name)).items) {
          this.onSeen(i);
          this.offer(i);
        }
      } catch {}
      this.poll();
    }, POLL_MS);
  }

  /** An instance of this node as last seen: a new one is reported starting, then running. */
  offer(i: Instance): void {
    if (i.node !== this.name || i.desiredState !== 'running' || this.handled.has(i.id)) return;
    if (i.status.state !== 'new' && i.status.state !== 'pending') return;
    this.handled.add(i.id);
    this.queue.push(i);
    if (!this.sending) void this.send();
  }

  private async send(): Promise<void> {
    this.sending = true;
    try {
      // What arrived during the last report goes in the next one (an agent's tick batches likewise).
      while (this.queue.length > 0 && !this.stopped) {
        const batch = this.queue.splice(0, 2500);
        const at = new Date().toISOString();
        await this.report(batch.map((i) => ({ id: i.id, status: { state: 'starting', timestamp: at, message: 'starting containers' } })), []);
        const startedAt = new Date().toISOString();
        const events: NewServiceEvent[] = [];
        const running = batch.map((i) => {
          const pid = this.pid++;
          events.push({ grid: i.grid, service: i.service, type: 'instance.started', severity: 'info', instance: i.id, slot: i.slot, message: `${i.service}-${i.slot} started at ${i.spec.address} (pid ${pid})` });
          const status: InstanceStatus = {
            state: 'running',
            timestamp: startedAt,
            message: 'running',
            startedAt,
            handles: [{ pid, startTime: pid * 7 }],
            containers: [{ name: i.service, state: 'running', startedAt, pid }],
          };
          return { id: i.id, status };
        });
        await this.report(running, events);
        this.onRunning(batch.length);
      }
    } finally {
      this.sending = false;
    }
  }

  /** Retried until the server takes it, as RemoteAgentPorts does. */
  private async report(updates: { id: string; status: InstanceStatus }[], events: NewServiceEvent[]): Promise<void> {
    for (let delay = 100; ; delay = Math.min(delay * 2, 2000)) {
      try {
        const r = await this.client.reportStatuses(this.name, updates, events);
        if (r.accepted !== updates.length) throw new Error(`${this.name}: ${r.accepted} of ${updates.length} statuses accepted`);
        return;
      } catch (error) {
        if (this.stopped) return;
        if (error instanceof Error && error.message.includes('statuses accepted')) throw error;
        await sleep(delay);
      }
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.beating);
    clearTimeout(this.polling);
  }
}

