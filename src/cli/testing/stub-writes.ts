import type { Instance, Service } from '../../model/index.js';
import { instance as instanceFixture } from './fixtures.js';
import { degradeRollout, failRollout, rolloutStatus } from './stub-rollout.js';
import { normalize } from './stub-spec.js';
import type { StubState } from './stub-state.js';
import { serviceKey } from './stub-state.js';

/*
 * The stub API's writes that take effect over time, as the real control plane's do: a create, a deploy
 * whose instances start one step (`stepMs`) later and run one step after that, and the removal of one
 * instance, replaced in its slot a step later. Each change is sent on the watch stream.
 */

/** The error the stub answers with (`{code, message, details}` at `status`), thrown by its routes and writes. */
export interface ApiError {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly details?: Record<string, unknown>;
}

/**
 * POST …/services: a new service at generation 1, deployed at once when the body says `deploy: true`.
 * @throws ApiError 409 SERVICE_EXISTS when the grid has a service of that name
 */
export function createService(state: StubState, grid: string, body: Record<string, unknown>): Service {
  const spec = normalize(body['spec'], 'spec');
  if (state.services.has(serviceKey(grid, spec.name))) {
    throw { status: 409, code: 'SERVICE_EXISTS', message: `service "${spec.name}" already exists in grid "${grid}"` } satisfies ApiError;
  }
  const now = new Date().toISOString();
  let s: Service = {
    id: `svc-${spec.name}`,
    grid,
    name: spec.name,
    version: state.bump(),
    generation: 1,
    createdAt: now,
    updatedAt: now,
    spec,
    deployment: null,
    desired: 'running',
    status: { phase: 'initialized', desiredInstances: 0, runningInstances: 0, observedGeneration: 0, message: '', updatedAt: now },
  };
  if (body['deploy'] === true) s = deployService(state, s, false);
  state.put(s);
  state.instances.set(serviceKey(grid, spec.name), []);
  return s;
}

/**
 * Marks the spec deployed, then rolls instances: starting after one step, running after two (unless
 * `state.converges` is false); the update status ends as `state.rollouts` says (stub-rollout.ts).
 * @param restart a new restart generation: every instance is replaced even if the spec did not change
 * @returns the deployed service, not yet written (the caller puts it)
 */
export function deployService(state: StubState, s: Service, restart: boolean): Service {
  const restartGeneration = (s.deployment?.restartGeneration ?? 0) + (restart ? 1 : 0);
  const requestedAt = new Date().toISOString();
  const update = state.rollouts === 'none' ? undefined : rolloutStatus('updating', s, requestedAt, `updating to generation ${s.generation}: 0/${s.spec.replicas} updated`);
  const deployed: Service = {
    ...s,
    version: state.bump(),
    deployment: { generation: s.generation, spec: s.spec, requestedAt, restartGeneration },
    status: { ...s.status, phase: 'deploying', desiredInstances: s.spec.replicas, ...(update ? { update } : {}) },
  };
  if (!state.converges) return deployed;
  const k = serviceKey(s.grid, s.name);
  state.later(() => {
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
    const old = (state.instances.get(k) ?? []).map((i) => ({ ...i, desiredState: 'shutdown' as const, status: { ...i.status, state: 'shutdown' as const } }));
    state.instances.set(k, [...fresh, ...old]);
    for (const i of fresh) state.notify({ revision: state.bump(), kind: 'instance', op: 'put', key: i.id, object: i });
    state.later(() => {
      const svc = state.services.get(k);
      if (!svc) return;
      const running = state.setInstances(svc, (i) => (i.status.state === 'starting' ? { ...i, status: { ...i.status, state: 'running', startedAt: new Date().toISOString() } } : i));
      const status = { ...running.status, phase: 'running' as const, runningInstances: s.spec.replicas, desiredInstances: s.spec.replicas, observedGeneration: s.generation };
      if (state.rollouts === 'none' || state.rollouts === 'completes') {
        const done = state.rollouts === 'none' ? {} : { update: rolloutStatus('completed', s, requestedAt, `update to generation ${s.generation} completed: ${s.spec.replicas}/${s.spec.replicas} instance(s) ready`) };
        state.put({ ...running, status: { ...status, ...done } });
      } else if (state.rollouts === 'completes-with-failures') {
        degradeRollout(state, running, status, requestedAt);
      } else {
        failRollout(state, running, status, requestedAt, state.rollouts === 'pauses' ? 'pauses' : 'rolls-back');
      }
    });
  });
  return deployed;
}

/**
 * DELETE …/instances/:slotOrId: the instance stops, then a new one runs in its slot.
 * @param which a slot number (its running instance) or an instance id
 * @throws ApiError 404 INSTANCE_NOT_FOUND
 */
export function removeInstance(state: StubState, s: Service, which: string): Instance {
  const k = serviceKey(s.grid, s.name);
  const all = state.instances.get(k) ?? [];
  const target = /^\d+$/.test(which) ? all.find((i) => i.slot === Number(which) && i.desiredState === 'running') : all.find((i) => i.id === which);
  if (!target) throw { status: 404, code: 'INSTANCE_NOT_FOUND', message: `instance "${which}" not found` } satisfies ApiError;
  const removed: Instance = { ...target, desiredState: 'shutdown', desiredReason: 'removed by user' };
  state.instances.set(k, all.map((i) => (i.id === target.id ? removed : i)));
  state.notify({ revision: state.bump(), kind: 'instance', op: 'put', key: removed.id, object: removed });
  state.later(() => {
    const fresh: Instance = { ...target, id: `${target.id}-r`, createdAt: new Date().toISOString(), status: { ...target.status, state: 'running' } };
    const ended: Instance = { ...removed, status: { ...removed.status, state: 'shutdown' } };
    state.instances.set(k, [fresh, ...(state.instances.get(k) ?? []).map((i) => (i.id === target.id ? ended : i))]);
    for (const i of [ended, fresh]) state.notify({ revision: state.bump(), kind: 'instance', op: 'put', key: i.id, object: i });
  });
  return removed;
}
