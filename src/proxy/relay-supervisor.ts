/*
 * Keeps one berth-relay running for `ServiceProxy`: starts it, starts another after a back-off when it
 * dies, and turns the proxy's tables into the relay's service definitions and routes, sending only
 * what changed since the last table.
 */
import type { Clock, Logger } from '../lib/index.js';
import { DEFAULT_AFFINITY_TIMEOUT_SECONDS } from './balancer.js';
import { NativeRelay } from './native-relay.js';
import type { ListenFailure, RelayExit } from './native-relay.js';
import type { BalancedService, ProxyTable } from './proxy-table.js';

/** The native relay as `ServiceProxy.relayStatus()` reports it. */
export interface RelayStatus {
  readonly pid: number;
  readonly threads: number;
  /** How many times a relay died and another was started, since the proxy started. */
  readonly restarts: number;
}

/** A listening socket held by the relay, as the proxy's listener entry has it. */
export interface RelayRoute {
  readonly relayId: number;
  /** Where its connections go now (a repointed listener is routed anew). */
  readonly spec: { readonly serviceKey: string };
  /** The service id this listener was last routed to (written by `publish`). */
  routedTo?: number;
}

export interface RelaySupervisorOptions {
  /** Relay threads, 1–64. */
  readonly threads: number;
  /** The relay binary; default `defaultRelayPath()`. */
  readonly binary?: string;
  /** Most backends tried for one connection. */
  readonly maxConnectAttempts: number;
  /** A connect not done within this long is tried on another backend, ms; 0: never. */
  readonly connectTimeoutMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /** A backend's count of held connections changed (`before` → `after`). */
  readonly onCount: (backendKey: string, before: number, after: number) => void;
  /** The relay died: its listeners and connections went with it; another is starting. */
  readonly onExit: (exit: RelayExit) => void;
  /** A replacement relay is ready: every listener must be opened again and the newest table published. */
  readonly onRestarted: () => void;
}

/** A relay that died is started again after this back-off (doubling up to 5 s, reset after 10 s of life). */
const RESTART_MS = [100, 200, 400, 800, 1600, 3200, 5000];

export class RelaySupervisor {
  private relay: NativeRelay | undefined;
  private stopped = false;
  private restarts = 0;
  /** Consecutive quick deaths: the index into RESTART_MS. */
  private backoff = 0;
  private startedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private nextId = 1;
  /** The relay's id of each TCP service port, and the definition last sent for it. */
  private readonly serviceIds = new Map<string, number>();
  private readonly sent = new Map<number, string>();

  constructor(private readonly options: RelaySupervisorOptions) {}

  /** Whether a relay runs now (false while one is being replaced). */
  get running(): boolean {
    return this.relay !== undefined;
  }

  /** Starts the relay. Resolves false when it cannot run (no binary: run `npm run build`). */
  async start(): Promise<boolean> {
    this.stopped = false;
    try {
      await this.spawn();
      return true;
    } catch (error) {
      this.options.logger.warn({ err: error }, 'the native relay cannot start');
      return false;
    }
  }

  /** Ends the relay (its listeners close and its connections are cut) and any pending restart. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    const relay = this.relay;
    this.relay = undefined;
    this.forget();
    await relay?.stop();
  }

  /** An id for a new listener (unique for the life of the supervisor). */
  newId(): number {
    return this.nextId++;
  }

  /** Opens a listener in the relay; resolves with the failure, if any (`RELAY_EXIT` when the relay is gone). */
  listen(id: number, host: string, port: number): Promise<ListenFailure | undefined> {
    return this.relay?.listen(id, host, port) ?? Promise.resolve({ code: 'RELAY_EXIT', message: 'berth-relay is not running' });
  }

  /** Stops accepting on a listener (its socket closes with the next `publish`). */
  close(id: number): void {
    this.relay?.close(id);
  }

  /**
   * Sends every TCP service port of `table` whose backends or affinity changed (and forgets those
   * gone), routes each listener to its service port, and resolves when every relay thread uses that.
   */
  async publish(table: ProxyTable, routes: Iterable<RelayRoute>): Promise<void> {
    const relay = this.relay;
    if (relay === undefined) return;
    const live = new Set<string>();
    for (const [serviceKey, service] of table.services) {
      if (!serviceKey.endsWith('/TCP')) continue;
      live.add(serviceKey);
      let id = this.serviceIds.get(serviceKey);
      if (id === undefined) {
        id = this.nextId++;
        this.serviceIds.set(serviceKey, id);
      }
      const backends = service.backends.map((b) => b.key);
      const definition = `${affinitySeconds(service)} ${backends.join(' ')}`;
      if (this.sent.get(id) === definition) continue;
      this.sent.set(id, definition);
      relay.defineService(id, affinitySeconds(service), this.options.maxConnectAttempts, backends);
    }
    for (const [serviceKey, id] of this.serviceIds) {
      if (live.has(serviceKey)) continue;
      this.serviceIds.delete(serviceKey);
      this.sent.delete(id);
      relay.deleteService(id);
    }
    for (const route of routes) {
      const id = this.serviceIds.get(route.spec.serviceKey);
      if (id === undefined || route.routedTo === id) continue;
      route.routedTo = id;
      relay.route(route.relayId, id);
    }
    await relay.commit();
  }

  status(): RelayStatus | undefined {
    const pid = this.relay?.pid;
    return pid === undefined ? undefined : { pid, threads: this.options.threads, restarts: this.restarts };
  }

  /** Connections each relay thread holds now (empty without a relay). */
  threadLoads(): Promise<number[]> {
    return this.relay?.threadLoads() ?? Promise.resolve([]);
  }

  private async spawn(): Promise<void> {
    const relay = new NativeRelay({ threads: this.options.threads, connectTimeoutMs: this.options.connectTimeoutMs, logger: this.options.logger, ...(this.options.binary !== undefined ? { binary: this.options.binary } : {}) });
    relay.on('count', (key: string, before: number, after: number) => this.options.onCount(key, before, after));
    relay.on('exit', (exit: RelayExit) => this.exited(relay, exit));
    await relay.start();
    if (this.stopped) {
      await relay.stop(); // stop() came while it started
      return;
    }
    this.relay = relay;
    this.startedAt = this.options.clock.now();
  }

  /** The relay died: what it knew is gone; report, and start another after the back-off. */
  private exited(relay: NativeRelay, exit: RelayExit): void {
    if (this.relay !== relay) return;
    this.relay = undefined;
    this.forget();
    this.options.onExit(exit);
    if (this.options.clock.now() - this.startedAt > 10_000) this.backoff = 0;
    const delay = RESTART_MS[Math.min(this.backoff, RESTART_MS.length - 1)] as number;
    this.backoff++;
    const restart = (): void => {
      this.timer = undefined;
      if (this.stopped || this.relay !== undefined) return;
      this.spawn().then(
        () => {
          if (this.relay === undefined) return;
          this.restarts++;
          this.options.onRestarted();
        },
        (error: unknown) => {
          if (this.stopped) return;
          this.options.logger.error({ err: error }, 'the native relay did not start again; retrying');
          this.timer = setTimeout(restart, RESTART_MS[RESTART_MS.length - 1]);
        },
      );
    };
    this.timer = setTimeout(restart, delay);
  }

  private forget(): void {
    this.serviceIds.clear();
    this.sent.clear();
  }
}

/** The relay's affinity argument: 0 for round robin, else ClientIP's idle timeout in seconds (Kubernetes' default 10800). */
function affinitySeconds(service: BalancedService): number {
  return service.affinity.type === 'ClientIP' ? service.affinity.timeoutSeconds || DEFAULT_AFFINITY_TIMEOUT_SECONDS : 0;
}
