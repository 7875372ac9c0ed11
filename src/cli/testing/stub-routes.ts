import type { ServerResponse } from 'node:http';
import type { Service } from '../../model/index.js';
import { dryRunAnswer } from './stub-dry-run.js';
import { endpointsOf, normalize } from './stub-spec.js';
import type { StubState } from './stub-state.js';
import { serviceKey } from './stub-state.js';
import type { ApiError } from './stub-writes.js';
import { createService, deployService, removeInstance } from './stub-writes.js';

/*
 * The stub API's routes (docs/api.md, /v1/…): what each request reads or writes in the stub's state.
 * Reads answer from the state; writes check the version they name (409 VERSION_CONFLICT), then change
 * the state at once or over time (stub-writes.ts); a `?dryRun` goes to stub-dry-run.ts first.
 */

/** A route's answer: a JSON `body` at `status`. */
export interface Answer {
  readonly status: number;
  readonly body: unknown;
}

/** What a route returns when it answered on the response itself: an NDJSON stream (watch, logs, events). */
export const STREAMING = Symbol('streaming');

/** One request, its body read and parsed. */
export interface StubRequest {
  readonly method: string;
  /** The path's segments, decoded. */
  readonly parts: readonly string[];
  readonly query: URLSearchParams;
  /** The JSON body (`{}` when there was none). */
  readonly body: Record<string, unknown>;
  readonly res: ServerResponse;
  /** Answers 200 on `res` with an NDJSON stream, which the stub closes when it stops. */
  openStream(): void;
}

/**
 * Answers one request from `state`, or streams on `request.res` (then returns STREAMING).
 * @throws ApiError for an unknown route, service or instance, a stale version, a name taken
 */
export function routeRequest(state: StubState, request: StubRequest): Answer | typeof STREAMING {
  const { method, parts, query, body, res, openStream } = request;
  const [v1, a, grid, b, name, action, sub] = parts;
  if (v1 !== 'v1') throw notFound('route');
  if (a === 'version') return ok({ version: '0.0.0-stub', apiVersion: 'v1', node: 'node-1', ...(state.dns ? { dns: state.dns } : {}) });
  if (a === 'watch') {
    openStream();
    state.watch(res);
    return STREAMING;
  }
  if (a === 'grids' && grid && b === 'volumes' && !name && method === 'GET') {
    const service = query.get('service');
    return ok({ items: state.volumes.filter((v) => v.grid === grid && (service === null || v.service === service)) });
  }
  if (a !== 'grids' || !grid || b !== 'services') throw notFound('route');
  if (query.has('dryRun')) {
    const answer = dryRunAnswer(state.services, { method, grid, ...(name ? { name } : {}), ...(action ? { action } : {}), body });
    if (answer) return answer;
  }
  if (!name) {
    if (method === 'GET') {
      const labels = query.getAll('label').map((l) => l.split('='));
      const items = [...state.services.values()]
        .filter((s) => s.grid === grid && labels.every(([k, v]) => s.spec.labels[k ?? ''] === v))
        .sort((x, y) => x.name.localeCompare(y.name));
      return ok({ items });
    }
    return { status: 201, body: createService(state, grid, body) };
  }
  const k = serviceKey(grid, name);
  const current = (): Service => {
    const s = state.services.get(k);
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
      let next: Service = { ...s, spec, generation: changed ? s.generation + 1 : s.generation, version: changed ? state.bump() : s.version };
      if (body['deploy'] === true) next = deployService(state, next, false);
      state.put(next);
      return ok(next);
    }
    if (method === 'DELETE') {
      checkVersion(query.has('version') ? Number(query.get('version')) : undefined);
      const s: Service = { ...current(), desired: 'removing', version: state.bump(), status: { ...current().status, phase: 'removing' } };
      state.put(s);
      state.later(() => {
        state.setInstances(s, (i) => ({ ...i, desiredState: 'shutdown', status: { ...i.status, state: 'shutdown' } }));
        state.later(() => {
          state.services.delete(k);
          state.instances.delete(k);
          if (query.get('volumes') === 'true') state.volumes.splice(0, state.volumes.length, ...state.volumes.filter((v) => v.grid !== grid || v.service !== name));
          state.notify({ revision: state.bump(), kind: 'service', op: 'delete', key: k, object: s });
        });
      });
      return { status: 202, body: s };
    }
  }
  switch (action) {
    case 'deploy':
      checkVersion(body['version']);
      return ok(state.put(deployService(state, current(), body['force'] === true)));
    case 'scale': {
      checkVersion(body['version']);
      const s = current();
      const spec = { ...s.spec, replicas: Number(body['replicas']) };
      return ok(state.put(deployService(state, { ...s, spec, generation: s.generation + 1, version: state.bump() }, false)));
    }
    case 'start':
    case 'restart':
      checkVersion(body['version']);
      return ok(state.put(deployService(state, { ...current(), desired: 'running' }, action === 'restart')));
    case 'stop': {
      checkVersion(body['version']);
      const s: Service = { ...current(), desired: 'stopped', version: state.bump() };
      state.later(() => {
        const stopped = state.setInstances(s, (i) => ({ ...i, desiredState: 'shutdown', status: { ...i.status, state: 'shutdown' } }));
        state.put({ ...stopped, status: { ...stopped.status, phase: 'stopped', runningInstances: 0, desiredInstances: 0 } });
      });
      return ok(state.put(s));
    }
    case 'endpoints': {
      if (!state.endpointsRoute) throw notFound('route');
      if (method === 'PUT') {
        checkVersion(body['version']);
        const addresses = body['addresses'] as string[];
        const s = current();
        const ports = s.spec.ports.length > 0 ? s.spec.ports : [{ name: undefined, port: 0, targetPort: 0, protocol: 'TCP' as const }];
        state.endpoints.set(k, {
          ...endpointsOf(s),
          endpoints: addresses.map((address) => {
            const [ip = '', port] = address.split(':');
            return { ip, ready: true, ports: Object.fromEntries(ports.map((p) => [p.name ?? '', port === undefined ? Number(p.targetPort) : Number(port)])) };
          }),
        });
        return ok(state.put({ ...s, version: state.bump() }));
      }
      return ok(state.endpoints.get(k) ?? endpointsOf(current()));
    }
    case 'history':
      return ok({ items: state.histories.get(k) ?? [], generation: current().generation, deployedGeneration: current().deployment?.generation ?? null });
    case 'why': {
      const explanation = state.explanations.get(k);
      if (!explanation) throw notFound('explanation');
      current();
      return ok(explanation);
    }
    case 'rollback': {
      checkVersion(body['version']);
      const s = current();
      const history = state.histories.get(k) ?? [];
      const to = typeof body['to'] === 'number' ? body['to'] : history.filter((r) => r.generation < (s.deployment?.generation ?? 0)).at(-1)?.generation;
      const target = history.find((r) => r.generation === to);
      if (!target) throw { status: 404, code: 'REVISION_NOT_FOUND', message: `to: service "${name}" in grid "${grid}" has no generation ${String(to)} in its history` } satisfies ApiError;
      const next = deployService(state, { ...s, spec: target.spec, generation: s.generation + 1, version: state.bump() }, false);
      return ok(state.put({ ...next, deployment: next.deployment && { ...next.deployment, cause: 'rollback', rollbackTo: target.generation } }));
    }
    case 'instances': {
      current();
      const all = state.instances.get(k) ?? [];
      if (method === 'DELETE' && sub !== undefined) return { status: 202, body: removeInstance(state, current(), sub) };
      const terminal = new Set(['complete', 'failed', 'shutdown', 'rejected']);
      return ok({ items: query.get('active') === 'true' ? all.filter((i) => !terminal.has(i.status.state)) : all });
    }
    case 'stats':
      current();
      return ok({ items: state.stats.get(k) ?? [] });
    case 'logs':
    case 'events': {
      current();
      let items: unknown[] = (action === 'logs' ? state.logs.get(k) : state.events.get(k)) ?? [];
      if (action === 'logs' && query.get('events') === 'true') {
        const events = (state.events.get(k) ?? []).map((event) => ({ kind: 'event', time: event.time, event }));
        items = [...items, ...events].sort((x, y) => ((x as { time: string }).time < (y as { time: string }).time ? -1 : 1));
      }
      const tail = query.has('tail') ? Number(query.get('tail')) : items.length;
      openStream();
      res.write('\n'); // a heartbeat, which clients skip
      for (const item of items.slice(Math.max(0, items.length - tail))) res.write(`${JSON.stringify(item)}\n`);
      if (query.get('follow') !== 'true') res.end();
      return STREAMING;
    }
    default:
      throw notFound('route');
  }
}

function ok(body: unknown): Answer {
  return { status: 200, body };
}

function notFound(what: string): ApiError {
  return { status: 404, code: 'NOT_FOUND', message: `no such ${what}` };
}
