import type { FastifyInstance } from 'fastify';
import { inRange } from '../../lib/index.js';
import type { Instance, NodeInfo, Service } from '../../model/index.js';
import { runsDeployment } from '../../model/index.js';
import type { RouteAccess } from '../access-control.js';
import type { DockerContext } from './docker-context.js';
import { DockerApiError } from './docker-errors.js';
import type { FilterArgs } from './filter-args.js';
import { parseFilters } from './filter-args.js';
import { PROCESS_NETWORK } from './network-routes.js';
import { findNode } from './node-routes.js';
import { resolveService, visibleServices } from './service-lookup.js';
import { berthToSwarmSpec } from './service-mapping.js';
import { networkIdOf, nodeIdOf } from './swarm-ids.js';
import type { SwarmTaskSpec } from './swarm-types.js';
import type { SwarmTask, SwarmTaskState, TaskNetwork } from './task-mapping.js';
import { SWARM_TASK_STATES, taskName, taskOf } from './task-mapping.js';

/** The filters GET /tasks takes: moby's newListTasksFilters (daemon/cluster/filters.go). */
const TASK_FILTERS = ['name', 'id', 'label', 'service', 'node', 'desired-state', '_up-to-date', 'runtime'] as const;

const read: RouteAccess = { kind: 'permission', permission: 'read', scope: 'grid' };

/** Access of the task routes (the face's hook enforces it): reading tasks is reading the grid's services. */
export const TASK_ACCESS: Readonly<Record<string, RouteAccess>> = {
  'GET /tasks': read,
  'GET /tasks/:id': read,
};

/** One instance of a service the face shows, with its task. */
export interface TaskEntry {
  readonly instance: Instance;
  readonly service: Service;
  readonly task: SwarmTask;
}

/**
 * `GET /tasks` (filters: moby's) and `GET /tasks/{id}`: the instances of the face's grid's services
 * as Swarm tasks, history included — berth keeps ended instances for a while, and they are the
 * `\_ web.1` rows of `docker service ps`.
 */
export function registerTaskRoutes(app: FastifyInstance, ctx: DockerContext): void {
  app.get<{ Querystring: { filters?: string } }>('/tasks', async (request) => {
    const filters = parseFilters(request.query.filters, TASK_FILTERS);
    return filterTasks(ctx, taskEntries(ctx), filters).map((e) => e.task);
  });

  app.get<{ Params: { id: string } }>('/tasks/:id', async (request) => resolveTask(ctx, request.params.id).task);
}

/**
 * Every instance of the services the face shows, as tasks, in the store's order (by service, slot,
 * newest first within a slot — which is how "a newer instance took the slot" is known).
 */
export function taskEntries(ctx: DockerContext, only?: Service): TaskEntry[] {
  const services = only ? [only] : visibleServices(ctx);
  const byId = new Map(services.map((s) => [s.id, s]));
  const instances = ctx.berth.store.listInstances(only ? { grid: only.grid, service: only.name } : { grid: ctx.grid });
  const nodes = ctx.berth.store.listNodes();
  const templates = new TemplateCache(ctx);
  const seenSlots = new Set<string>();
  const out: TaskEntry[] = [];
  for (const instance of instances) {
    const service = byId.get(instance.serviceId);
    if (!service) continue;
    const slotKey = `${instance.serviceId}/${instance.slot}`;
    const superseded = seenSlots.has(slotKey);
    seenSlots.add(slotKey);
    const network = taskNetworkOf(ctx, instance, nodes);
    const template = templates.of(service, instance.generation);
    const task = taskOf(instance, { superseded, global: service.spec.mode === 'global', ...(network ? { network } : {}), ...(template ? { template } : {}) });
    out.push({ instance, service, task });
  }
  return out;
}

/** The TaskTemplate of each service's spec revisions (the spec history keeps the last 20), read once per request. */
class TemplateCache {
  private readonly byService = new Map<string, Map<number, SwarmTaskSpec | undefined>>();

  constructor(private readonly ctx: DockerContext) {}

  of(service: Service, generation: number): SwarmTaskSpec | undefined {
    let revisions = this.byService.get(service.id);
    if (!revisions) {
      const history = this.ctx.berth.store.listSpecHistory(service.grid, service.name);
      revisions = new Map(history.map((r) => [r.generation, berthToSwarmSpec(r.spec).TaskTemplate]));
      this.byService.set(service.id, revisions);
    }
    return revisions.get(generation);
  }
}

/**
 * A task by full id, by its full Swarm name (`web.1.<id>`) or by a unique id prefix, as moby's
 * `getTask` (daemon/cluster/helpers.go). The id is the task's (taskIdOf); berth's own instance id
 * (`web-1-x3k9q`, what `berth service ps` shows) and its prefixes are accepted too.
 * @throws DockerApiError 404 `task X not found`; 400 `task X is ambiguous (N matches found)`.
 */
export function resolveTask(ctx: DockerContext, idOrName: string): TaskEntry {
  const entries = taskEntries(ctx);
  const notFound = new DockerApiError(404, `task ${idOrName} not found`);
  if (idOrName === '') throw notFound;
  const exact = entries.find((e) => e.task.ID === idOrName) ?? entries.find((e) => e.instance.id === idOrName) ?? entries.find((e) => nameOf(e) === idOrName);
  if (exact) return exact;
  const byTaskId = entries.filter((e) => e.task.ID.startsWith(idOrName));
  const byPrefix = byTaskId.length > 0 ? byTaskId : entries.filter((e) => e.instance.id.startsWith(idOrName));
  if (byPrefix.length === 0) throw notFound;
  if (byPrefix.length > 1) throw new DockerApiError(400, `task ${idOrName} is ambiguous (${byPrefix.length} matches found)`);
  return byPrefix[0] as TaskEntry;
}

/**
 * Applies GET /tasks' filters as swarmkit's ListTasks (manager/controlapi/task.go): every filter
 * given must match, any of its values may. `service` and `node` values are resolved first (an unknown
 * one is a 404, as moby's filter transform); `name` and `id` are prefixes; `label` matches the
 * service's labels; `_up-to-date` keeps the instances that run the deployment (isUpToDate: what the
 * CLI's progress display asks for).
 * @throws DockerApiError 404 for an unknown service or node, 400 for a desired-state that is no task state.
 */
export function filterTasks(ctx: DockerContext, entries: readonly TaskEntry[], filters: FilterArgs): TaskEntry[] {
  const serviceIds = filters.has('service') ? new Set((filters.get('service') ?? []).map((s) => resolveService(ctx, s).id)) : undefined;
  const nodeIds = filters.has('node') ? new Set((filters.get('node') ?? []).map((n) => nodeIdOf(findNode(ctx, n).name))) : undefined;
  const desired = filters.get('desired-state')?.map((s) => {
    const state = s.toLowerCase() as SwarmTaskState;
    if (!SWARM_TASK_STATES.includes(state)) throw new DockerApiError(400, `Invalid desired-state filter: '${s}'`);
    return state;
  });
  const ids = filters.get('id');
  const names = filters.get('name');
  const runtimes = filters.get('runtime');
  const upToDate = filters.has('_up-to-date');
  return entries.filter((e) => {
    if (serviceIds && !serviceIds.has(e.instance.serviceId)) return false;
    if (nodeIds && !nodeIds.has(e.task.NodeID)) return false;
    if (desired && desired.length > 0 && !desired.includes(e.task.DesiredState)) return false;
    if (ids && ids.length > 0 && !ids.some((p) => e.task.ID.startsWith(p) || e.instance.id.startsWith(p))) return false;
    if (names && names.length > 0 && !names.some((p) => nameOf(e).startsWith(p))) return false;
    if (!matchesLabels(e.service.spec.labels, filters.get('label'))) return false;
    if (runtimes && runtimes.length > 0 && !runtimes.some((r) => r === 'container' || r === '')) return false;
    if (upToDate && !isUpToDate(e.instance, e.service)) return false;
    return true;
  });
}

/**
 * swarmkit's "not dirty" (orchestrator.IsTaskDirty compares the task's spec with the service's task
 * template): the instance runs the deployed containers and restart generation (the model's
 * runsDeployment; a `deploy --force`, Swarm's ForceUpdate, makes older ones dirty). A change of
 * replicas or rollout settings makes no instance dirty: after `docker service scale web=3` the CLI's
 * progress counts web.1 and web.2 as well as the new web.3.
 */
export function isUpToDate(instance: Instance, service: Service): boolean {
  const deployment = service.deployment;
  if (!deployment) return false;
  return runsDeployment(instance, deployment);
}

function nameOf(e: TaskEntry): string {
  return taskName(e.service.name, e.instance, e.service.spec.mode === 'global');
}

/**
 * The network an instance is attached to: its node's container network (default `berth`, the bridge of
 * the Docker driver), else `berth` for the loopback instance range — the one network the face shows
 * (/networks, services' VirtualIPs). The address's prefix is the bridge subnet's when the address lies
 * in it (instances with images), else the instance range's (process instances); an address in
 * neither gets no attachment.
 */
function taskNetworkOf(ctx: DockerContext, instance: Instance, nodes: readonly NodeInfo[]): TaskNetwork | undefined {
  const address = instance.spec.address;
  const bridge = nodes.find((n) => n.name === instance.node)?.containerNetwork;
  const name = bridge?.name ?? PROCESS_NETWORK;
  const subnet = [bridge?.subnet, ctx.berth.instanceRange].find((cidr) => cidr !== undefined && safeInRange(address, cidr));
  if (subnet === undefined) return undefined;
  return { id: networkIdOf(name), name, prefixLength: Number(subnet.split('/')[1]) };
}

function safeInRange(address: string, cidr: string): boolean {
  try {
    return /^\d+\.\d+\.\d+\.\d+$/.test(address) && inRange(address, cidr);
  } catch {
    return false;
  }
}

/**
 * Whether `labels` satisfy every `label` filter value, as swarmkit's filterMatchLabels: `key` (or
 * `key=`) asks for the key, `key=value` for that value.
 */
function matchesLabels(labels: Readonly<Record<string, string>>, wanted: readonly string[] | undefined): boolean {
  return (wanted ?? []).every((w) => {
    const eq = w.indexOf('=');
    const key = eq < 0 ? w : w.slice(0, eq);
    const value = eq < 0 ? '' : w.slice(eq + 1);
    return Object.hasOwn(labels, key) && (value === '' || labels[key] === value);
  });
}
