import type { FastifyInstance } from 'fastify';
import type { DockerContext } from './docker-context.js';
import type { DockerRouteAccess } from './docker-access.js';
import { DockerApiError } from './docker-errors.js';
import { matchesAny, parseFilters } from './filter-args.js';
import { clusterCreatedAt, swarmId } from './swarm-objects.js';

export const NETWORK_ACCESS: Readonly<Record<string, DockerRouteAccess>> = {
  'GET /networks': { kind: 'permission', permission: 'read', scope: 'grid' },
  'GET /networks/:id': { kind: 'permission', permission: 'read', scope: 'grid' },
};

/** Filters `GET /networks` takes (moby `daemon/network/filter.go`, acceptedFilters). */
const NETWORK_FILTERS = ['driver', 'id', 'label', 'name', 'scope', 'type', 'dangling'];

/** The name of the network of a node without a container network (process driver): its instances' loopback range. */
export const PROCESS_NETWORK = 'berth';

/** One berth network as Docker's network.Inspect shows it. */
export interface DockerNetwork {
  readonly Name: string;
  readonly Id: string;
  readonly Created: string;
  readonly Scope: 'swarm';
  readonly Driver: 'overlay';
  readonly EnableIPv4: true;
  readonly EnableIPv6: false;
  readonly IPAM: { readonly Driver: 'default'; readonly Options: null; readonly Config: readonly { readonly Subnet: string; readonly Gateway?: string }[] };
  readonly Internal: false;
  readonly Attachable: false;
  readonly Ingress: false;
  readonly ConfigFrom: { readonly Network: '' };
  readonly ConfigOnly: false;
  readonly Containers: Readonly<Record<string, never>>;
  readonly Options: Readonly<Record<string, string>>;
  readonly Labels: Readonly<Record<string, string>>;
}

/**
 * The networks the face shows, read-only: the container network of each node (NodeInfo.containerNetwork,
 * the bridge berth manages for the Docker driver) under the name berth gives it, as one swarm-scoped
 * overlay (services reach each other across it by name and virtual IP, as on a Swarm overlay); without
 * any, one network `berth` for the process driver's instance range. Ids are stable (derived from names).
 */
export function dockerNetworks(ctx: DockerContext): DockerNetwork[] {
  // The same names, in the same order, as dockerNetworkRefs (a service's VirtualIPs name the first).
  const created = clusterCreatedAt(ctx);
  const byName = new Map<string, DockerNetwork>();
  for (const node of ctx.berth.store.listNodes()) {
    const net = node.containerNetwork;
    if (!net || byName.has(net.name)) continue;
    byName.set(net.name, network(net.name, created, { Subnet: net.subnet, Gateway: net.gateway }, 'docker'));
  }
  if (byName.size === 0) byName.set(PROCESS_NETWORK, network(PROCESS_NETWORK, created, { Subnet: ctx.berth.instanceRange }, 'process'));
  return [...byName.values()];
}

export interface DockerNetworkRef {
  readonly id: string;
  readonly name: string;
}

/**
 * The face's networks by id and name only, in dockerNetworks' order: what a service's VirtualIPs and a
 * create's `Networks` need. `GET /services` calls it on every request (issue 11 "Performance": the
 * face's list within 1.2× of berth's own), so it reads neither the cluster's creation (a grid read) nor,
 * while the store's revision stays the same, the nodes again: every write of the store, a node's
 * included, takes a new revision (store.ts `revision`).
 */
export function dockerNetworkRefs(ctx: DockerContext): readonly DockerNetworkRef[] {
  const { store } = ctx.berth;
  const revision = store.revision();
  const known = networkRefs.get(store);
  if (known?.revision === revision) return known.refs;
  const names = new Set<string>();
  for (const node of store.listNodes()) if (node.containerNetwork) names.add(node.containerNetwork.name);
  if (names.size === 0) names.add(PROCESS_NETWORK);
  const refs = Object.freeze([...names].map((name) => Object.freeze({ id: swarmId('network', name), name })));
  networkRefs.set(store, { revision, refs });
  return refs;
}

/** dockerNetworkRefs' last answer per store, with the store's revision it was read at. */
const networkRefs = new WeakMap<object, { readonly revision: number; readonly refs: readonly DockerNetworkRef[] }>();

function network(name: string, created: string, ipam: { Subnet: string; Gateway?: string }, driver: 'docker' | 'process'): DockerNetwork {
  return {
    Name: name,
    Id: swarmId('network', name),
    Created: created,
    Scope: 'swarm',
    Driver: 'overlay',
    EnableIPv4: true,
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: null, Config: [ipam] },
    Internal: false,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: {},
    Options: {},
    Labels: { 'io.berth.network': driver === 'docker' ? 'container network of the Docker driver' : 'instance addresses of the process driver' },
  };
}

/**
 * A network by full id, then name, then unique id prefix (moby's network lookup).
 * @throws DockerApiError 404 `network X not found`; 400 when a prefix matches several
 */
export function findNetwork(ctx: DockerContext, input: string): DockerNetwork {
  const all = dockerNetworks(ctx);
  const exact = all.find((n) => n.Id === input) ?? all.find((n) => n.Name === input);
  if (exact) return exact;
  const prefixed = input === '' ? [] : all.filter((n) => n.Id.startsWith(input));
  if (prefixed.length === 0) throw new DockerApiError(404, `network ${input} not found`);
  if (prefixed.length > 1) throw new DockerApiError(400, `network ${input} is ambiguous (${prefixed.length} matches found based on ID prefix)`);
  return prefixed[0] as DockerNetwork;
}

/** `GET /networks` (filters driver, id, label, name, scope, type, dangling) and `GET /networks/{id}`. */
export function registerNetworkRoutes(app: FastifyInstance, ctx: DockerContext): void {
  app.get('/networks', async (request) => {
    const filters = parseFilters((request.query as { filters?: unknown }).filters, NETWORK_FILTERS);
    for (const t of filters.get('type') ?? []) if (t !== 'custom' && t !== 'builtin') throw new DockerApiError(400, `invalid filter: 'type'='${t}'`);
    const dangling = filters.get('dangling') ?? [];
    if (dangling.length > 1) throw new DockerApiError(400, 'got more than one value for filter key "dangling"');
    if (dangling.some((v) => !['0', '1', 'false', 'true'].includes(v))) throw new DockerApiError(400, 'invalid value for filter \'dangling\', must be "true" (or "1"), or "false" (or "0")');
    return dockerNetworks(ctx).filter(
      (n) =>
        // moby matches names and ids as regular expressions; berth as substrings and prefixes (no user regex to run).
        matchesAny(filters, 'name', (v) => n.Name.includes(v)) &&
        matchesAny(filters, 'id', (v) => n.Id.startsWith(v)) &&
        matchesAny(filters, 'driver', (v) => v === n.Driver) &&
        matchesAny(filters, 'scope', (v) => v === n.Scope) &&
        // berth's networks are made for berth: "custom", never one of the engine's built-ins.
        matchesAny(filters, 'type', (v) => v === 'custom') &&
        matchesAny(filters, 'label', (v) => {
          const [key = '', value] = v.split('=', 2);
          return Object.hasOwn(n.Labels, key) && (value === undefined || n.Labels[key] === value);
        }) &&
        // Every berth network is in use by services (never "dangling").
        matchesAny(filters, 'dangling', (v) => v === 'false' || v === '0'),
    );
  });

  app.get('/networks/:id', async (request) => findNetwork(ctx, (request.params as { id: string }).id));
}
