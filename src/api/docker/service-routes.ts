import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { hasCode } from '../../lib/index.js';
import type { Permission, Service, ServiceSpec } from '../../model/index.js';
import type { RouteAccess } from '../access-control.js';
import { identityOf } from '../access-control.js';
import { rollbackTarget } from '../rollback-target.js';
import { createService, removeService, rollbackService, updateService } from '../service-operations.js';
import type { DockerContext } from './docker-context.js';
import { DockerApiError } from './docker-errors.js';
import { parseServiceFilters, serviceMatches } from './service-filters.js';
import { resolveService, visibleServices } from './service-lookup.js';
import type { FaceNetwork } from './service-mapping.js';
import { berthToSwarmService, forceUpdateOf, modeOf, swarmToBerthSpec } from './service-mapping.js';
import { foldSpecKeys } from './swarm-spec-shape.js';
import { asDocker, invalidArgument, unimplemented } from './service-errors.js';
import { dockerNetworkRefs } from './network-routes.js';
import type { SwarmService, SwarmServiceCreateResponse, SwarmServiceSpec, SwarmServiceUpdateResponse } from './swarm-types.js';

const inGrid = (permission: Permission): RouteAccess => ({ kind: 'permission', permission, scope: 'grid' });
const onService = (permission: Permission): RouteAccess => ({ kind: 'permission', permission, scope: 'service' });

/**
 * Who may use each route of the services API (the face's access hook enforces it): the grid is the
 * face's (ctx.grid), and for `:id` routes the service is the one resolveService finds.
 */
export const SERVICE_ACCESS: Readonly<Record<string, RouteAccess>> = {
  'GET /services': inGrid('read'),
  'POST /services/create': inGrid('operate'),
  'GET /services/:id': onService('read'),
  'DELETE /services/:id': onService('operate'),
  'POST /services/:id/update': onService('operate'),
};

interface IdParams {
  readonly id: string;
}

/**
 * The Swarm services API over berth's engine (docs/docker-api.md, "Services"): list with filters,
 * create (and deploy: Swarm has no separate deploy), inspect, remove, update with the version
 * compare-and-set and `rollback=previous`. Every write is service-operations.ts's, as berth's own API's.
 */
export function registerServiceRoutes(app: FastifyInstance, ctx: DockerContext): void {
  app.get<{ Querystring: Record<string, string | string[] | undefined> }>('/services', async (request): Promise<SwarmService[]> => {
    const filters = parseServiceFilters(single(request.query.filters));
    const status = boolValue(single(request.query.status));
    const network = faceNetwork(ctx);
    return visibleServices(ctx)
      .filter((s) => serviceMatches(s, filters))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((s) => view(ctx, s, network, { status, previousSpec: false }));
  });

  app.post('/services/create', async (request, reply) => {
    const body = specBody(request.body);
    // As moby's ServiceSpecToGRPC: an unnamed service gets a generated name.
    const name = body.Name || generatedName();
    const spec = swarmToBerthSpec({ ...body, Name: name }, { networks: faceNetworks(ctx) });
    await untilNameFreed(ctx, name, request.raw.socket);
    // Swarm schedules a new service at once: create and deploy in one write.
    const service = asDocker(name, () => createService(ctx.berth, identityOf(request), ctx.grid, { spec, deploy: true }));
    const answer: SwarmServiceCreateResponse = { ID: service.id, Warnings: [] };
    return reply.status(201).send(answer);
  });

  // insertDefaults is accepted: berth stores defaulted specs, so the spec shown always has them.
  app.get<{ Params: IdParams }>('/services/:id', async (request): Promise<SwarmService> => {
    return view(ctx, resolveService(ctx, request.params.id), faceNetwork(ctx), { status: false, previousSpec: true });
  });

  app.delete<{ Params: IdParams }>('/services/:id', async (request, reply) => {
    const service = resolveService(ctx, request.params.id);
    asDocker(service.name, () => removeService(ctx.berth, identityOf(request), { grid: ctx.grid, name: service.name }));
    return reply.status(200).send();
  });

  app.post<{ Params: IdParams; Querystring: Record<string, string | string[] | undefined> }>('/services/:id/update', async (request): Promise<SwarmServiceUpdateResponse> => {
    // The version is checked first, as moby's router does, before the service is looked up.
    const version = serviceVersion(single(request.query.version));
    const rollback = single(request.query.rollback) ?? '';
    if (rollback !== '' && rollback !== 'none' && rollback !== 'previous') throw invalidArgument(`unrecognized rollback option ${rollback}`);
    // registryAuthFrom and X-Registry-Auth are ignored: berth pulls with the node's own credentials.
    const service = resolveService(ctx, request.params.id);
    const params = { grid: ctx.grid, name: service.name };
    const identity = identityOf(request);
    if (rollback === 'previous') {
      // The body (the current spec, as the docker CLI sends it) is not used: the previous spec is deployed again.
      asDocker(service.name, () => rollbackService(ctx.berth, identity, params, { version }));
      return { Warnings: [] };
    }
    const body = specBody(request.body);
    if ((body.Name ?? '') !== service.name) throw unimplemented('renaming services is not supported');
    if (modeOf(body) !== service.spec.mode) throw unimplemented('service mode change is not allowed');
    const spec = swarmToBerthSpec(body, { networks: faceNetworks(ctx), current: service.spec });
    const force = forceUpdateOf(body) !== (service.deployment?.restartGeneration ?? 0);
    // Swarm rolls out every accepted update: update and deploy in one write.
    asDocker(service.name, () => updateService(ctx.berth, identity, params, { spec, version, deploy: true, force }));
    return { Warnings: [] };
  });
}

/** The face's networks, as /networks lists them (the nodes' container network, or `berth` for processes). */
function faceNetworks(ctx: DockerContext): readonly FaceNetwork[] {
  return dockerNetworkRefs(ctx);
}

/** The network a service's virtual IP is shown on (Endpoint.VirtualIPs): the first of the face's. */
function faceNetwork(ctx: DockerContext): FaceNetwork {
  return faceNetworks(ctx)[0] ?? { id: '', name: '' };
}

/**
 * A service as the face shows it. `previousSpec` reads the spec history: inspect shows PreviousSpec, the
 * list does not (one history read per service would make `docker service ls` cost twice berth's own
 * list, and no client of the list reads it; the docker CLI's rollback and `inspect` read it per service).
 */
function view(ctx: DockerContext, service: Service, network: FaceNetwork, options: { readonly status: boolean; readonly previousSpec: boolean }): SwarmService {
  const { status } = options;
  const vipPrefixLength = Number(ctx.berth.networkRanges.serviceRange.split('/')[1] ?? 32);
  if (!options.previousSpec) return listView(service, network, vipPrefixLength, status);
  const previousSpec = previousSpecOf(ctx, service);
  return berthToSwarmService(service, { network, vipPrefixLength, ...(previousSpec ? { previousSpec } : {}), status });
}

/**
 * The list's views, by the store's service object (frozen, and the same object while its row is
 * unchanged: the store's FrozenJsonCache) and the mapping's other inputs. berthToSwarmService is pure
 * (no store, no clock), so an unchanged service maps to the same view; `docker service ls` and
 * docker-py's `services.list()` ask again and again (issue 11 "Performance": the face's list within 1.2×
 * of berth's own). A changed service is a new object: its old views go with it (WeakMap).
 */
const listViews = new WeakMap<Service, Map<string, SwarmService>>();

function listView(service: Service, network: FaceNetwork, vipPrefixLength: number, status: boolean): SwarmService {
  const key = `${network.id}\n${network.name}\n${vipPrefixLength}\n${status}`;
  let views = listViews.get(service);
  const known = views?.get(key);
  if (known) return known;
  const made = berthToSwarmService(service, { network, vipPrefixLength, status });
  if (!views) listViews.set(service, (views = new Map()));
  views.set(key, made);
  return made;
}

/** Swarm's PreviousSpec: the spec a rollback would deploy (rollbackTarget over berth's spec history), if any. */
function previousSpecOf(ctx: DockerContext, service: Service): ServiceSpec | undefined {
  try {
    return rollbackTarget(service, ctx.berth.store.listSpecHistory(service.grid, service.name), undefined).spec;
  } catch (error) {
    if (hasCode(error, 'NOTHING_TO_ROLL_BACK')) return undefined;
    throw error;
  }
}

function specBody(body: unknown): SwarmServiceSpec {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalidArgument('the body must be a ServiceSpec (a JSON object)');
  return foldSpecKeys(body as Record<string, unknown>) as SwarmServiceSpec;
}

/** `?version=N` as moby's router parses it (strconv.ParseUint), with its message. */
function serviceVersion(raw: string | undefined): number {
  const text = raw ?? '';
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new DockerApiError(400, `invalid service version '${text}': strconv.ParseUint: parsing ${JSON.stringify(text)}: invalid syntax`);
  }
  return Number(text);
}

/** moby httputils.BoolValue: anything but "", "0", "no", "false", "none" is true. */
function boolValue(raw: string | undefined): boolean {
  const v = (raw ?? '').trim().toLowerCase();
  return !(v === '' || v === '0' || v === 'no' || v === 'false' || v === 'none');
}

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[v.length - 1] : v;
}

/** A DNS-1035 name for an unnamed service (moby gives `adjective_surname`, which is not one). */
function generatedName(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return `service-${[...randomBytes(8)].map((b) => alphabet[b % alphabet.length]).join('')}`;
}

/**
 * Waits while a service of this name is being removed (its instances draining), up to
 * ctx.nameFreedWaitMs or until the client goes away: Swarm frees a removed service's name at once.
 * The create that follows answers 409 as before when the name is still taken.
 */
async function untilNameFreed(ctx: DockerContext, name: string, socket: { readonly destroyed: boolean } | undefined): Promise<void> {
  const deadline = Date.now() + ctx.nameFreedWaitMs;
  // The socket, not the request: a request whose body was read is already `destroyed` (autoDestroy).
  while (ctx.berth.store.getService(ctx.grid, name)?.desired === 'removing' && Date.now() < deadline && socket?.destroyed !== true) {
    await new Promise((resolve) => setTimeout(resolve, NAME_FREED_POLL_MS));
  }
}

/** How often a create waiting for a removed name looks again, ms. */
const NAME_FREED_POLL_MS = 50;
