import { once } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Instance, InstanceStats, LogLine, Service, ServiceEndpoints, ServiceEvent, ServiceExplanation, SlotVolume, SpecRevision } from '../../model/index.js';
import { instance as instanceFixture } from './fixtures.js';
import { degradeRollout, failRollout, rolloutStatus } from './stub-rollout.js';
import type { StubSteps } from './stub-rollout.js';
import { dryRunAnswer } from './stub-dry-run.js';
import { endpointsOf, normalize } from './stub-spec.js';

/*
 * A small in-memory berth API on a loopback port for CLI flow tests: the routes of docs/api.md with
 * just enough behaviour — versions and 409s, generations, create vs deploy, a deploy that converges a
 * few milliseconds later (through the watch stream), removal that turns into 404. It does not validate
 * specs beyond "a container needs a command or an image"; the real server's validation has its own tests.
 */

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly body: unknown;
}

interface ApiError {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly details?: Record<string, unknown>;
}

export class StubApi {
  readonly requests: RecordedRequest[] = [];
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
  readonly #open = new Set<ServerResponse>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #server: Server = createServer((req, res) => {
    this.#handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) this.#json(res, 500, { code: 'INTERNAL', message: String(e) });
    });
  });
  url = '';

  /** Back to an empty server with every default (call it before each test; the server keeps listening). */
  reset(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.requests.length = 0;
    for (const map of [this.services, this.instances, this.logs, this.events, this.stats, this.endpoints, this.histories, this.explanations]) map.clear();
    this.volumes.length = 0;
    this.endpointsRoute = true;
    this.dns = undefined;
    this.stepMs = 5;
    this.converges = true;
    this.rollouts = 'none';
  }

  async start(): Promise<string> {
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t);
    for (const res of this.#open) res.destroy();
    this.#server.closeAllConnections();
    this.#server.close();
    await once(this.#server, 'close');
  }

  /** Requests that change something: neither reads nor dry runs. */
  get writes(): RecordedRequest[] {
    return this.requests.filter((r) => r.method !== 'GET' && !r.query.has('dryRun'));
  }

  /** Adds a service as if created (and, with `deployedGeneration`, deployed) earlier. */
  seed(service: Service, instances: readonly Instance[] = []): void {
    this.services.set(key(service.grid, service.name), service);
    this.instances.set(key(service.grid, service.name), [...instances]);
  }

  service(name: string, grid = 'default'): Service | undefined {
    return this.services.get(key(grid, name));
  }

  // ── routing ─────────────────────────────────────────────────────────────────────────────────

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://stub');
    let text = '';
    for await (const chunk of req) text += String(chunk);
    const body = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
    this.requests.push({ method: req.method ?? '', path: url.pathname, query: url.searchParams, body });
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    try {
      const answer = this.#route(req.method ?? 'GET', parts, url.searchParams, body ?? {}, res);
      if (answer !== STREAMING) this.#json(res, answer.status, answer.body);
    } catch (e) {
      const error = e as ApiError;
      this.#json(res, error.status ?? 500, { code: error.code ?? 'INTERNAL', message: error.message, details: error.details ?? {} });
    }
  }

  #route(method: string, parts: string[], query: URLSearchParams, body: Record<string, unknown>, res: ServerResponse): { status: number; body: unknown } | typeof STREAMING {
    const [v1, a, grid, b, name, action, sub] = parts;
    if (v1 !== 'v1') throw notFound('route');
    if (a === 'version') return ok({ version: '0.0.0-stub', apiVersion: 'v1', node: 'node-1', ...(this.dns ? { dns: this.dns } : {}) });
    if (a === 'watch') {
      this.#openStream(res);
      this.#watchers.add(res);
      res.once('close', () => this.#watchers.delete(res));
      return STREAMING;
    }
    if (a === 'grids' && grid && b === 'volumes' && !name && method === 'GET') {
      const service = query.get('service');
      return ok({ items: this.volumes.filter((v) => v.grid === grid && (service === null || v.service === service)) });
    }
    if (a !== 'grids' || !grid || b !== 'services') throw notFound('route');
    if (query.has('dryRun')) {
      const answer = dryRunAnswer(this.services, { method, grid, ...(name ? { name } : {}), ...(action ? { action } : {}), body });
      if (answer) return answer;
    }
    if (!name) {
      if (method === 'GET') {
        const labels = query.getAll('label').map((l) => l.split('='));
        const items = [...this.services.values()]
          .filter((s) => s.grid === grid && labels.every(([k, v]) => s.spec.labels[k ?? ''] === v))
          .sort((x, y) => x.name.localeCompare(y.name));
        return ok({ items });
      }
      return { status: 201, body: this.#create(grid, body) };
    }
    const k = key(grid, name);
    const current = (): Service => {
      const s = this.services.get(k);
      if (!s) throw { status: 404, code: 'SERVICE_NOT_FOUND', message: `service "${name}" not found in grid "${grid}"` } satisfies ApiError;
      return s;
    };
    const checkVersion = (version: unknown): void => {
      const s = current();
      if (typeof version === 'number' && version !== s.version) {
        throw {
          status: 409,
          code: 'VERSION_CONFLICT',
          message: `Operation cannot be fulfilled on service "${name}": the object has been modified (you sent version ${version}, it is now at version ${s.version}); read it again and apply your changes to the latest version`,
          details: { expectedVersion: version, currentVersion: s.version },
        } satisfies ApiError;
      }
    };
    if (!action) {
      if (method === 'GET') return ok(current());
      if (method === 'PUT') {
        checkVersion(body['version']);
        const s = current();
        const spec = normalize(body['spec'], 'spec');
        const changed = JSON.stringify(spec) !== JSON.stringify(s.spec);
        let next: Service = { ...s, spec, generation: changed ? s.generation + 1 : s.generation, version: changed ? this.#bump() : s.version };
        if (body['deploy'] === true) next = this.#deploy(next, false);
        this.#put(next);
        return ok(next);
      }
      if (method === 'DELETE') {
        checkVersion(query.has('version') ? Number(query.get('version')) : undefined);
        const s: Service = { ...current(), desired: 'removing', version: this.#bump(), status: { ...current().status, phase: 'removing' } };
        this.#put(s);
        this.#later(() => {
          this.#setInstances(s, (i) => ({ ...i, desiredState: 'shutdown', status: { ...i.status, state: 'shutdown' } }));
          this.#later(() => {
            this.services.delete(k);
            this.instances.delete(k);
            if (query.get('volumes') === 'true') this.volumes.splice(0, this.volumes.length, ...this.volumes.filter((v) => v.grid !== grid || v.service !== name));
            this.#notify({ revision: this.#bump(), kind: 'service', op: 'delete', key: k, object: s });
          });
        });
        return { status: 202, body: s };
      }
    }
    switch (action) {
      case 'deploy':
        checkVersion(body['version']);
        return ok(this.#put(this.#deploy(current(), body['force'] === true)));
      case 'scale': {
        checkVersion(body['version']);
        const s = current();
        const spec = { ...s.spec, replicas: Number(body['replicas']) };
        return ok(this.#put(this.#deploy({ ...s, spec, generation: s.generation + 1, version: this.#bump() }, false)));
      }
      case 'start':
      case 'restart':
        checkVersion(body['version']);
        return ok(this.#put(this.#deploy({ ...current(), desired: 'running' }, action === 'restart')));
      case 'stop': {
        checkVersion(body['version']);
        const s: Service = { ...current(), desired: 'stopped', version: this.#bump() };
        this.#later(() => {
          const stopped = this.#setInstances(s, (i) => ({ ...i, desiredState: 'shutdown', status: { ...i.status, state: 'shutdown' } }));
          this.#put({ ...stopped, status: { ...stopped.status, phase: 'stopped', runningInstances: 0, desiredInstances: 0 } });
        });
        return ok(this.#put(s));
      }
      case 'endpoints': {
        if (!this.endpointsRoute) throw notFound('route');
        if (method === 'PUT') {
          checkVersion(body['version']);
          const addresses = body['addresses'] as string[];
          const s = current();
          const ports = s.spec.ports.length > 0 ? s.spec.ports : [{ name: undefined, port: 0, targetPort: 0, protocol: 'TCP' as const }];
          this.endpoints.set(k, {
            ...endpointsOf(s),
            endpoints: addresses.map((address) => {
              const [ip = '', port] = address.split(':');
              return { ip, ready: true, ports: Object.fromEntries(ports.map((p) => [p.name ?? '', port === undefined ? Number(p.targetPort) : Number(port)])) };
            }),
          });
          return ok(this.#put({ ...s, version: this.#bump() }));
        }
        return ok(this.endpoints.get(k) ?? endpointsOf(current()));
      }
      case 'history':
        return ok({ items: this.histories.get(k) ?? [], generation: current().generation, deployedGeneration: current().deployment?.generation ?? null });
      case 'why': {
        const explanation = this.explanations.get(k);
        if (!explanation) throw notFound('explanation');
        current();
        return ok(explanation);
      }
      case 'rollback': {
        checkVersion(body['version']);
        const s = current();
        const history = this.histories.get(k) ?? [];
        const to = typeof body['to'] === 'number' ? body['to'] : history.filter((r) => r.generation < (s.deployment?.generation ?? 0)).at(-1)?.generation;
        const target = history.find((r) => r.generation === to);
        if (!target) throw { status: 404, code: 'REVISION_NOT_FOUND', message: `to: service "${name}" in grid "${grid}" has no generation ${String(to)} in its history` } satisfies ApiError;
        const next = this.#deploy({ ...s, spec: target.spec, generation: s.generation + 1, version: this.#bump() }, false);
        return ok(this.#put({ ...next, deployment: next.deployment && { ...next.deployment, cause: 'rollback', rollbackTo: target.generation } }));
      }
      case 'instances': {
        current();
        const all = this.instances.get(k) ?? [];
        if (method === 'DELETE' && sub !== undefined) return { status: 202, body: this.#removeInstance(current(), sub) };
        const terminal = new Set(['complete', 'failed', 'shutdown', 'rejected']);
        return ok({ items: query.get('active') === 'true' ? all.filter((i) => !terminal.has(i.status.state)) : all });
      }
      case 'stats':
        current();
        return ok({ items: this.stats.get(k) ?? [] });
      case 'logs':
      case 'events': {
        current();
        let items: unknown[] = (action === 'logs' ? this.logs.get(k) : this.events.get(k)) ?? [];
        if (action === 'logs' && query.get('events') === 'true') {
          const events = (this.events.get(k) ?? []).map((event) => ({ kind: 'event', time: event.time, event }));
          items = [...items, ...events].sort((x, y) => ((x as { time: string }).time < (y as { time: string }).time ? -1 : 1));
        }
        const tail = query.has('tail') ? Number(query.get('tail')) : items.length;
        this.#openStream(res);
        res.write('\n'); // a heartbeat, which clients skip
        for (const item of items.slice(Math.max(0, items.length - tail))) res.write(`${JSON.stringify(item)}\n`);
        if (query.get('follow') !== 'true') res.end();
        return STREAMING;
      }
      default:
        throw notFound('route');
    }
  }

  // ── behaviour ───────────────────────────────────────────────────────────────────────────────

  #create(grid: string, body: Record<string, unknown>): Service {
    const spec = normalize(body['spec'], 'spec');
    if (this.services.has(key(grid, spec.name))) {
      throw { status: 409, code: 'SERVICE_EXISTS', message: `service "${spec.name}" already exists in grid "${grid}"` } satisfies ApiError;
    }
    const now = new Date().toISOString();
    let s: Service = {
      id: `svc-${spec.name}`,
      grid,
      name: spec.name,
      version: this.#bump(),
      generation: 1,
      createdAt: now,
      updatedAt: now,
      spec,
      deployment: null,
      desired: 'running',
      status: { phase: 'initialized', desiredInstances: 0, runningInstances: 0, observedGeneration: 0, message: '', updatedAt: now },
    };
    if (body['deploy'] === true) s = this.#deploy(s, false);
    this.#put(s);
    this.instances.set(key(grid, spec.name), []);
    return s;
  }

  /** Marks the spec deployed, then rolls instances: starting after one step, running after two. */
  #deploy(s: Service, restart: boolean): Service {
    const restartGeneration = (s.deployment?.restartGeneration ?? 0) + (restart ? 1 : 0);
    const requestedAt = new Date().toISOString();
    const update = this.rollouts === 'none' ? undefined : rolloutStatus('updating', s, requestedAt, `updating to generation ${s.generation}: 0/${s.spec.replicas} updated`);
    const deployed: Service = {
      ...s,
      version: this.#bump(),
      deployment: { generation: s.generation, spec: s.spec, requestedAt, restartGeneration },
      status: { ...s.status, phase: 'deploying', desiredInstances: s.spec.replicas, ...(update ? { update } : {}) },
    };
    if (!this.converges) return deployed;
    const k = key(s.grid, s.name);
    this.#later(() => {
      const fresh = Array.from({ length: s.spec.replicas }, (_, n) => ({
        ...instanceFixture({
          service: s.name,
          grid: s.grid,
          slot: n + 1,
          state: 'starting',
          generation: s.generation,
          restartGeneration,
          id: `${s.name}-${n + 1}-g${s.generation}r${restartGeneration}`,
          ports: s.spec.containers.flatMap((c) => c.ports.map((p) => p.containerPort)),
        }),
        createdAt: new Date().toISOString(),
      }));
      const old = (this.instances.get(k) ?? []).map((i) => ({ ...i, desiredState: 'shutdown' as const, status: { ...i.status, state: 'shutdown' as const } }));
      this.instances.set(k, [...fresh, ...old]);
      for (const i of fresh) this.#notify({ revision: this.#bump(), kind: 'instance', op: 'put', key: i.id, object: i });
      this.#later(() => {
        const svc = this.services.get(k);
        if (!svc) return;
        const running = this.#setInstances(svc, (i) => (i.status.state === 'starting' ? { ...i, status: { ...i.status, state: 'running', startedAt: new Date().toISOString() } } : i));
        const status = { ...running.status, phase: 'running' as const, runningInstances: s.spec.replicas, desiredInstances: s.spec.replicas, observedGeneration: s.generation };
        if (this.rollouts === 'none' || this.rollouts === 'completes') {
          const done = this.rollouts === 'none' ? {} : { update: rolloutStatus('completed', s, requestedAt, `update to generation ${s.generation} completed: ${s.spec.replicas}/${s.spec.replicas} instance(s) ready`) };
          this.#put({ ...running, status: { ...status, ...done } });
        } else if (this.rollouts === 'completes-with-failures') {
          degradeRollout(this.#steps(), running, status, requestedAt);
        } else {
          failRollout(this.#steps(), running, status, requestedAt, this.rollouts === 'pauses' ? 'pauses' : 'rolls-back');
        }
      });
    });
    return deployed;
  }

  /** DELETE …/instances/:slotOrId: the instance stops, then a new one runs in its slot. */
  #removeInstance(s: Service, which: string): Instance {
    const k = key(s.grid, s.name);
    const all = this.instances.get(k) ?? [];
    const target = /^\d+$/.test(which) ? all.find((i) => i.slot === Number(which) && i.desiredState === 'running') : all.find((i) => i.id === which);
    if (!target) throw { status: 404, code: 'INSTANCE_NOT_FOUND', message: `instance "${which}" not found` } satisfies ApiError;
    const removed: Instance = { ...target, desiredState: 'shutdown', desiredReason: 'removed by user' };
    this.instances.set(k, all.map((i) => (i.id === target.id ? removed : i)));
    this.#notify({ revision: this.#bump(), kind: 'instance', op: 'put', key: removed.id, object: removed });
    this.#later(() => {
      const fresh: Instance = { ...target, id: `${target.id}-r`, createdAt: new Date().toISOString(), status: { ...target.status, state: 'running' } };
      const ended: Instance = { ...removed, status: { ...removed.status, state: 'shutdown' } };
      this.instances.set(k, [fresh, ...(this.instances.get(k) ?? []).map((i) => (i.id === target.id ? ended : i))]);
      for (const i of [ended, fresh]) this.#notify({ revision: this.#bump(), kind: 'instance', op: 'put', key: i.id, object: i });
    });
    return removed;
  }

  /** The stub's write primitives, for the simulations kept in other modules (stub-rollout.ts). */
  #steps(): StubSteps {
    return { setInstances: (s, change) => this.#setInstances(s, change), put: (s) => this.#put(s), later: (fn) => this.#later(fn), bump: () => this.#bump() };
  }

  #setInstances(s: Service, change: (i: Instance) => Instance): Service {
    const k = key(s.grid, s.name);
    const next = (this.instances.get(k) ?? []).map(change);
    this.instances.set(k, next);
    for (const i of next) this.#notify({ revision: this.#bump(), kind: 'instance', op: 'put', key: i.id, object: i });
    return this.services.get(k) ?? s;
  }

  #put(s: Service): Service {
    this.services.set(key(s.grid, s.name), s);
    this.#notify({ revision: this.#bump(), kind: 'service', op: 'put', key: key(s.grid, s.name), object: s });
    return s;
  }

  #bump(): number {
    this.#revision += 1;
    return this.#revision;
  }

  #later(fn: () => void): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, this.stepMs);
    this.#timers.add(t);
  }

  #notify(event: unknown): void {
    for (const res of this.#watchers) res.write(`${JSON.stringify(event)}\n`);
  }

  #openStream(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    this.#open.add(res);
    res.once('close', () => this.#open.delete(res));
  }

  #json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }
}

const STREAMING = Symbol('streaming');

function ok(body: unknown): { status: number; body: unknown } {
  return { status: 200, body };
}

function notFound(what: string): ApiError {
  return { status: 404, code: 'NOT_FOUND', message: `no such ${what}` };
}

function key(grid: string, name: string): string {
  return `${grid}/${name}`;
}
