import type { FastifyInstance } from 'fastify';
import type { NodeInfo } from '../../model/index.js';
import type { DockerContext } from './docker-context.js';
import type { DockerRouteAccess } from './docker-access.js';
import { DockerApiError } from './docker-errors.js';
import { matchesAny, parseFilters } from './filter-args.js';
import type { ControlPlaneServer } from './swarm-objects.js';
import { nodeId, swarmManagerNode, swarmNode } from './swarm-objects.js';
import { controlPlaneName } from '../leader-routing.js';

/**
 * Nodes are read with the grid: Swarm tooling needs them for ordinary work (`docker service ps`
 * resolves node names, the progress of a global service counts nodes), and the Swarm view shows only
 * name, address, state and role — unlike berth's GET /v1/nodes (cluster-read), no driver details.
 */
export const NODE_ACCESS: Readonly<Record<string, DockerRouteAccess>> = {
  'GET /nodes': { kind: 'permission', permission: 'read', scope: 'grid' },
  'GET /nodes/:id': { kind: 'permission', permission: 'read', scope: 'grid' },
};

/** Filters `GET /nodes` takes (moby `daemon/cluster/filters.go` newListNodesFilters). */
const NODE_FILTERS = ['id', 'name', 'label', 'node.label', 'role', 'membership'];

/** moby's `filters.MatchKVList` for one value: `key` is present, or `key=value` equals. */
function labelMatches(labels: Readonly<Record<string, string>>, kv: string): boolean {
  const eq = kv.indexOf('=');
  if (eq < 0) return Object.hasOwn(labels, kv);
  const key = kv.slice(0, eq);
  return Object.hasOwn(labels, key) && labels[key] === kv.slice(eq + 1);
}

/** `GET /nodes` and `GET /nodes/{id}`: berth's nodes from the store as swarm.Node objects (swarm-objects.ts). */
export function registerNodeRoutes(app: FastifyInstance, ctx: DockerContext): void {
  app.get('/nodes', async (request) => {
    const filters = parseFilters((request.query as { filters?: unknown }).filters, NODE_FILTERS);
    for (const role of filters.get('role') ?? []) if (role !== '' && !['manager', 'worker'].includes(role.toLowerCase())) throw new DockerApiError(400, `Invalid role filter: '${role}'`);
    for (const m of filters.get('membership') ?? []) if (m !== '' && !['accepted', 'pending'].includes(m.toLowerCase())) throw new DockerApiError(400, `Invalid membership filter: '${m}'`);
    return ctx.berth.store
      .listNodes()
      .filter((node) => {
        const role = node.name === ctx.berth.node ? 'manager' : 'worker';
        return (
          // swarmkit matches ids and names by prefix; label filters as moby's MatchKVList: every `key` or `key=value` given must hold.
          matchesAny(filters, 'id', (v) => nodeId(node.name).startsWith(v)) &&
          matchesAny(filters, 'name', (v) => node.name.startsWith(v)) &&
          matchesAny(filters, 'role', (v) => v.toLowerCase() === role) &&
          matchesAny(filters, 'membership', (v) => v.toLowerCase() === 'accepted') &&
          (filters.get('label') ?? []).every((kv) => labelMatches({ 'io.berth.drivers': node.drivers.join(',') }, kv)) &&
          (filters.get('node.label') ?? []).every((kv) => labelMatches(node.labels, kv))
        );
      })
      .map((node) => swarmNode(ctx, node));
  });

  app.get('/nodes/:id', async (request) => {
    const input = (request.params as { id: string }).id;
    // A control-plane server (`docker node inspect self` on a server of a cluster): a manager of its own.
    const manager = findManager(ctx, input);
    return manager ? swarmManagerNode(ctx, manager) : swarmNode(ctx, findNode(ctx, input));
  });
}

/**
 * The control-plane server (several servers on etcd) that `input` names — by full Swarm id, by name
 * (`control-plane 1a2b3c4d`), or by a unique id prefix, as a node — or undefined (a lone server has
 * none: its own node is its manager). A node of the store with that name or id wins (findNode).
 */
function findManager(ctx: DockerContext, input: string): ControlPlaneServer | undefined {
  const servers = ctx.berth.leaderRouting?.servers() ?? [];
  if (servers.length === 0 || input === '') return undefined;
  const nodes = ctx.berth.store.listNodes();
  if (nodes.some((n) => nodeId(n.name) === input || n.name === input)) return undefined;
  const exact = servers.find((s) => nodeId(controlPlaneName(s.id)) === input || controlPlaneName(s.id) === input);
  if (exact) return exact;
  const byPrefix = servers.filter((s) => nodeId(controlPlaneName(s.id)).startsWith(input));
  // An ambiguous prefix across nodes and servers is findNode's 400 (it counts the nodes only), so only a
  // prefix no node shares is taken here.
  return byPrefix.length === 1 && !nodes.some((n) => nodeId(n.name).startsWith(input)) ? byPrefix[0] : undefined;
}

/**
 * A node by full id, then hostname, then unique id prefix, as moby's cluster `getNode` looks it up
 * (`daemon/cluster/helpers.go`).
 * @throws DockerApiError 404 `node X not found`; 400 `node X is ambiguous (N matches found)`
 */
export function findNode(ctx: DockerContext, input: string): NodeInfo {
  const nodes = ctx.berth.store.listNodes();
  const byId = nodes.find((n) => nodeId(n.name) === input);
  if (byId) return byId;
  const byName = nodes.filter((n) => n.name === input);
  const matches = byName.length > 0 ? byName : input === '' ? [] : nodes.filter((n) => nodeId(n.name).startsWith(input));
  if (matches.length === 0) throw new DockerApiError(404, `node ${input} not found`);
  if (matches.length > 1) throw new DockerApiError(400, `node ${input} is ambiguous (${matches.length} matches found)`);
  return matches[0] as NodeInfo;
}
