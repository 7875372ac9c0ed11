import type { Service } from '../../model/index.js';
import { normalize } from './stub-spec.js';

/*
 * The stub API's server-side dry run (`?dryRun=All` on create, update and deploy): the answer the real
 * write would give, computed from the stub's state without changing it — no version bump, no watch
 * event, no simulated rollout.
 */

type Answer = { readonly status: number; readonly body: unknown };

/**
 * @returns the answer to a dry-run request, or undefined for a route without dry runs
 * @throws the stub's ApiError shape (`{status, code, message}`) as the real write would
 */
export function dryRunAnswer(services: ReadonlyMap<string, Service>, request: { method: string; grid: string; name?: string; action?: string; body: Record<string, unknown> }): Answer | undefined {
  const { method, grid, name, action, body } = request;
  const now = new Date().toISOString();
  const deployed = (s: Service): Service => ({ ...s, deployment: { generation: s.generation, spec: s.spec, requestedAt: now, restartGeneration: s.deployment?.restartGeneration ?? 0 } });
  if (name === undefined && method === 'POST') {
    const spec = normalize(body['spec'], 'spec');
    if (services.has(`${grid}/${spec.name}`)) throw { status: 409, code: 'SERVICE_EXISTS', message: `service "${spec.name}" already exists in grid "${grid}"` };
    const s: Service = {
      id: `svc-${spec.name}`, grid, name: spec.name, version: 0, generation: 1, createdAt: now, updatedAt: now, spec, deployment: null, desired: 'running',
      status: { phase: 'initialized', desiredInstances: 0, runningInstances: 0, observedGeneration: 0, message: '', updatedAt: now },
    };
    return { status: 201, body: body['deploy'] === true ? deployed(s) : s };
  }
  if (name === undefined) return undefined;
  const current = services.get(`${grid}/${name}`);
  const isUpdate = action === undefined && method === 'PUT';
  const isDeploy = action === 'deploy' && method === 'POST';
  if (!isUpdate && !isDeploy) return undefined;
  if (!current) throw { status: 404, code: 'SERVICE_NOT_FOUND', message: `service "${name}" not found in grid "${grid}"` };
  const version = body['version'];
  if (typeof version === 'number' && version !== current.version) {
    throw { status: 409, code: 'VERSION_CONFLICT', message: `the object has been modified (you sent version ${version}, it is now at version ${current.version})` };
  }
  if (isDeploy) return { status: 200, body: deployed(current) };
  const spec = normalize(body['spec'], 'spec');
  const changed = JSON.stringify(spec) !== JSON.stringify(current.spec);
  const next: Service = { ...current, spec, generation: current.generation + (changed ? 1 : 0) };
  return { status: 200, body: body['deploy'] === true ? deployed(next) : next };
}
