/*
 * Access: who a request is (an identity), what it holds (grants of roles), and what each role may do
 * (permissions). One pure policy for every face of berth (the API, the Docker API face, the console);
 * api/ enforces it on every route. After Kubernetes' RBAC default roles (cluster-admin, admin, edit,
 * view) and KubeSphere's per-project roles (admin, operator, viewer).
 */

/**
 * Roles a token or a service account can hold, weakest last. `cluster-admin` and `node` have no grid:
 * `node` is a join token's (Swarm's worker join token): it may only register machines as nodes, each of
 * which then gets a credential of its own (a node identity).
 */
export const ROLES = ['cluster-admin', 'admin', 'operator', 'viewer', 'node'] as const;
export type Role = (typeof ROLES)[number];
/** Roles held cluster-wide (a token of one has no grid). */
export const CLUSTER_ROLES: readonly Role[] = ['cluster-admin', 'node'];
/** Roles held within one grid. */
export const GRID_ROLES = ['admin', 'operator', 'viewer'] as const;
export type GridRole = (typeof GRID_ROLES)[number];

/**
 * What a route needs:
 * - `read`: services, instances, endpoints, events, history, why, stats, secrets' names and keys (their
 *   values are never returned to anyone: they go in, and out only into the containers' env);
 * - `logs`: log lines (programs print what they like, secrets included);
 * - `operate`: create, update, deploy, scale, start, stop, restart, remove, roll back, set endpoints;
 * - `manage-tokens`: create, list and revoke the tokens of a grid;
 * - `manage-grids`: create and remove grids;
 * - `manage-nodes`: set a node's availability and labels, remove a node (Swarm's `docker node update|rm`);
 * - `privileged`: a spec that runs as another user (root included) or outside the allowed directories;
 * - `cluster-read`: nodes and every grid's changes at once;
 * - `join-nodes`: register a machine as a node and get its node credential (`berth agent --join`);
 * - `node-agent` (with `read` and `cluster-read` everywhere, for its data plane): what an agent does for its own node — heartbeats, its instances and their
 *   credentials and secrets, their statuses (Kubernetes' node authorizer: never another node's).
 */
export const PERMISSIONS = ['read', 'logs', 'operate', 'manage-tokens', 'manage-grids', 'manage-nodes', 'privileged', 'cluster-read', 'join-nodes', 'node-agent'] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** What each role may do within its scope (its grid; everything for cluster-admin). */
const ROLE_PERMISSIONS: Readonly<Record<Role, ReadonlySet<Permission>>> = {
  'cluster-admin': new Set(PERMISSIONS),
  admin: new Set<Permission>(['read', 'logs', 'operate', 'manage-tokens']),
  operator: new Set<Permission>(['read', 'logs', 'operate']),
  viewer: new Set<Permission>(['read']),
  node: new Set<Permission>(['join-nodes']),
};

/** Permissions that exist only cluster-wide: no grid role carries them. */
const CLUSTER_ONLY: ReadonlySet<Permission> = new Set(['manage-grids', 'manage-nodes', 'privileged', 'cluster-read', 'join-nodes', 'node-agent']);

/** A role held: `grid` names the grid for grid roles and is absent for cluster-admin. */
export interface Grant {
  readonly role: Role;
  readonly grid?: string;
}

/**
 * Who a request is. A `user` identity comes from a token made by `berth token create` (or the admin
 * credential made at first start); a `service` identity is the service account an instance's
 * BERTH_API_TOKEN names: it may read its own service and holds whatever role its spec asked for; a
 * `node` identity is an agent's credential for one node, given when it joined.
 */
export interface Identity {
  readonly kind: 'user' | 'service' | 'node';
  /** Shown in messages and audit lines: `token 3f9c… (ci)`, `service default/web`. */
  readonly subject: string;
  readonly grants: readonly Grant[];
  /** For service identities: the service they belong to (read access to it is implied). */
  readonly service?: { readonly grid: string; readonly name: string };
  /** For user identities: the id of the token (what `token revoke` takes). */
  readonly tokenId?: string;
  /** For node identities: the node it acts for (`node-agent` there only, and `cluster-read`). */
  readonly node?: string;
}

/** What a permission is asked for: a grid, and for service-scoped routes, the service. */
export interface AccessScope {
  readonly grid?: string;
  readonly service?: string;
  /** For `node-agent`: the node a route acts on. */
  readonly node?: string;
}

export type AccessDecision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly needed: Role; readonly message: string };

/** Rank of a role: cluster-admin 4 > admin 3 > operator 2 > viewer 1. */
export function roleRank(role: Role): number {
  return ROLES.length - ROLES.indexOf(role);
}

/** The weakest role that carries `permission` (named in a 403's message). */
export function weakestRoleFor(permission: Permission): Role {
  for (const role of [...ROLES].reverse()) {
    if (ROLE_PERMISSIONS[role].has(permission) && (CLUSTER_ROLES.includes(role) || !CLUSTER_ONLY.has(permission))) return role;
  }
  return 'cluster-admin';
}

/** The strongest role `identity` holds in `grid` (cluster-admin counts everywhere), or undefined. */
export function roleIn(identity: Identity, grid: string | undefined): Role | undefined {
  let best: Role | undefined;
  for (const grant of identity.grants) {
    if (grant.role === 'node') continue; // joins nodes, acts in no grid
    const applies = grant.role === 'cluster-admin' || (grid !== undefined && grant.grid === grid);
    if (applies && (best === undefined || roleRank(grant.role) > roleRank(best))) best = grant.role;
  }
  return best;
}

/** The cluster-wide role of the identity that carries `permission` (cluster-admin carries all), or undefined. */
function clusterRoleWith(identity: Identity, permission: Permission): Role | undefined {
  if (isClusterAdmin(identity)) return 'cluster-admin';
  return identity.grants.find((g) => CLUSTER_ROLES.includes(g.role) && ROLE_PERMISSIONS[g.role].has(permission))?.role;
}

/** True when the identity holds cluster-admin. */
export function isClusterAdmin(identity: Identity): boolean {
  return identity.grants.some((g) => g.role === 'cluster-admin');
}

/**
 * Decides whether `identity` may use `permission` in `scope`. Grid roles act in their grid only;
 * cluster-only permissions need cluster-admin; a service identity may `read` its own service.
 */
export function authorize(identity: Identity, permission: Permission, scope: AccessScope = {}): AccessDecision {
  const role = CLUSTER_ONLY.has(permission) ? clusterRoleWith(identity, permission) : roleIn(identity, scope.grid);
  if (role !== undefined && ROLE_PERMISSIONS[role].has(permission)) return { allowed: true };
  if (identity.kind === 'node' && identity.node !== undefined) {
    // Its data plane serves every service of the cluster (kube-proxy reads every Service and Endpoints).
    if (permission === 'cluster-read' || permission === 'read') return { allowed: true };
    if (permission === 'node-agent' && scope.node === identity.node) return { allowed: true };
  }
  const own = identity.service;
  if (permission === 'read' && own && scope.grid === own.grid && scope.service === own.name) return { allowed: true };
  const needed = weakestRoleFor(permission);
  const where = needed === 'cluster-admin' || scope.grid === undefined ? '' : ` in grid "${scope.grid}"`;
  const holds = describeGrants(identity);
  return {
    allowed: false,
    needed,
    message: `forbidden: ${identity.subject} (${holds}) cannot ${PERMISSION_VERBS[permission]}${where}: this needs the role ${needed}${needed === 'cluster-admin' ? '' : ' or higher'}${where}`,
  };
}

/**
 * Whether `identity` may hand out `role` in `grid` (a token, or a service account's role): only a role
 * it holds itself, there, at least as strong (no escalation, as Kubernetes' RBAC escalation check).
 */
export function canGrant(identity: Identity, role: Role, grid: string | undefined): boolean {
  if (CLUSTER_ROLES.includes(role)) return isClusterAdmin(identity);
  const held = roleIn(identity, grid);
  return held !== undefined && roleRank(held) >= roleRank(role);
}

/** `viewer in grid default, admin in grid shop`, `cluster-admin`, `no role`. */
export function describeGrants(identity: Identity): string {
  const parts = identity.grants.map((g) => (CLUSTER_ROLES.includes(g.role) ? g.role : `${g.role} in grid "${g.grid ?? '?'}"`));
  if (identity.node !== undefined) parts.push(`agent of node "${identity.node}"`);
  if (identity.service) parts.push(`reads service "${identity.service.name}" in grid "${identity.service.grid}"`);
  return parts.length === 0 ? 'no role' : parts.join(', ');
}

const PERMISSION_VERBS: Readonly<Record<Permission, string>> = {
  read: 'read services',
  logs: 'read logs',
  operate: 'change services',
  'manage-tokens': 'manage tokens',
  'manage-grids': 'create or remove grids',
  'manage-nodes': 'change or remove nodes',
  privileged: 'run instances as another user or outside the allowed directories',
  'cluster-read': 'read cluster-wide objects (nodes, every grid\'s changes)',
  'join-nodes': 'join machines as nodes',
  'node-agent': 'act as this node\'s agent',
};

/** A token as the API lists it: never the secret, never its hash. */
export interface TokenInfo {
  /** Short public id (`token revoke` takes it); also the first part of the token itself. */
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  /** The grid of a grid role; absent for cluster-admin. */
  readonly grid?: string;
  readonly createdAt: string;
  /** RFC 3339; absent: never expires. */
  readonly expiresAt?: string;
  /** Who created it (an identity's subject). */
  readonly createdBy: string;
}

/** A grid (Kubernetes' namespace, KubeSphere's project): its own service names, DNS zone and access. */
export interface Grid {
  readonly name: string;
  readonly createdAt: string;
  readonly labels: Readonly<Record<string, string>>;
}
