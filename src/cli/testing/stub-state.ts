import type { ServerResponse } from 'node:http';
import type { Instance, InstanceStats, LogLine, Service, ServiceEndpoints, ServiceEvent, ServiceExplanation, SlotVolume, SpecRevision } from '../../model/index.js';
import type { StubSteps } from './stub-rollout.js';

/*
 * What the stub API (stub-api.ts) holds: its services, instances and what its read routes answer, the
 * knobs a test turns, and the write primitives its simulated writes use (stub-writes.ts). Every write
 * bumps the store revision and is sent on the watch stream, as the real store's writes are.
 */

/** A service's key in the stub's maps: `grid/name`. */
export function serviceKey(grid: string, name: string): string {
  return `${grid}/${name}`;
}

/** The stub API's state and knobs (public, for tests to seed and read), with its write primitives. */
export class StubState implements StubSteps {
  readonly services = new Map<string, Service>();
  readonly instances = new Map<string, Instance[]>();
  readonly logs = new Map<string, LogLine[]>();
  readonly events = new Map<string, ServiceEvent[]>();
  readonly stats = new Map<string, InstanceStats[]>();
  /** Endpoints the GET route answers; a service without an entry has none (derived from its spec). */
  readonly endpoints = new Map<string, ServiceEndpoints>();
  /** When false, the endpoints route is missing, as on a server older than the networking part. */
  endpointsRoute = true;
  /** `GET /v1/version`'s `dns` (host:port), when set. */
  dns: string | undefined;
  /** Milliseconds between the steps of a simulated rollout or removal. */
  stepMs = 5;
  /** When false, deploys never converge (for timeout tests). */
  converges = true;
  /**
   * How simulated rollouts end in the update status: `none` writes no update status (a server without
   * rollouts), `completes`, `pauses` (slot 1's new instance fails its readiness probe), `rolls-back`
   * (failureAction rollback: a new deployment with cause auto-rollback, then rollback_completed),
   * `completes-with-failures` (failureAction continue: slot 1 crashes, the update completes anyway).
   */
  rollouts: 'none' | 'completes' | 'pauses' | 'rolls-back' | 'completes-with-failures' = 'none';
  /** Spec history per service (`grid/name`); GET …/history answers it, rollback deploys from it. */
  readonly histories = new Map<string, SpecRevision[]>();
  /** Data directories GET /v1/grids/:grid/volumes lists (all grids); a removal with volumes=true drops the service's. */
  readonly volumes: SlotVolume[] = [];
  /** What GET …/why answers per service. */
  readonly explanations = new Map<string, ServiceExplanation>();
  #revision = 10;
  readonly #watchers = new Set<ServerResponse>();
  readonly #timers = new Set<NodeJS.Timeout>();

  /** Back to an empty state with every default; simulated steps not taken yet are dropped. */
  reset(): void {
    this.clearTimers();
    for (const map of [this.services, this.instances, this.logs, this.events, this.stats, this.endpoints, this.histories, this.explanations]) map.clear();
    this.volumes.length = 0;
    this.endpointsRoute = true;
    this.dns = undefined;
    this.stepMs = 5;
    this.converges = true;
    this.rollouts = 'none';
  }

  /** Adds a service as if created (and, with `deployedGeneration`, deployed) earlier. */
  seed(service: Service, instances: readonly Instance[] = []): void {
    this.services.set(serviceKey(service.grid, service.name), service);
    this.instances.set(serviceKey(service.grid, service.name), [...instances]);
  }

  service(name: string, grid = 'default'): Service | undefined {
    return this.services.get(serviceKey(grid, name));
  }

  // ── write primitives (StubSteps) ────────────────────────────────────────────────────────────

  /** Changes every instance of `s`, each write sent on the watch stream; the service as it is now. */
  setInstances(s: Service, change: (i: Instance) => Instance): Service {
    const k = serviceKey(s.grid, s.name);
    const next = (this.instances.get(k) ?? []).map(change);
    this.instances.set(k, next);
    for (const i of next) this.notify({ revision: this.bump(), kind: 'instance', op: 'put', key: i.id, object: i });
    return this.services.get(k) ?? s;
  }

  /** Writes a service and sends it on the watch stream. */
  put(s: Service): Service {
    this.services.set(serviceKey(s.grid, s.name), s);
    this.notify({ revision: this.bump(), kind: 'service', op: 'put', key: serviceKey(s.grid, s.name), object: s });
    return s;
  }

  bump(): number {
    this.#revision += 1;
    return this.#revision;
  }

  later(fn: () => void): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, this.stepMs);
    this.#timers.add(t);
  }

  /** Drops the simulated steps not taken yet. */
  clearTimers(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  // ── the watch stream ────────────────────────────────────────────────────────────────────────

  /** Sends `res` every watch event from now until it closes (its stream is open already). */
  watch(res: ServerResponse): void {
    this.#watchers.add(res);
    res.once('close', () => this.#watchers.delete(res));
  }

  /** Sends one watch event (`{revision, kind, op, key, object}`) to every watcher, as an NDJSON line. */
  notify(event: unknown): void {
    for (const res of this.#watchers) res.write(`${JSON.stringify(event)}\n`);
  }
}
