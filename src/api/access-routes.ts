import type { FastifyInstance } from 'fastify';
import { mintToken, parseDuration } from '../lib/index.js';
import type { Grid, Identity, Role, TokenInfo } from '../model/index.js';
import { CLUSTER_ROLES, DEFAULT_GRID, ForbiddenError, RequestInvalidError, canGrant, isClusterAdmin, roleIn } from '../model/index.js';
import { identityOf, requirePermission } from './access-control.js';
import { CreateGridBody, CreateTokenBody, ListTokensQuery, parseRequest } from './request-schemas.js';
import type { RouteContext } from './route-context.js';

/** Longest token lifetime `ttl` accepts: 10 years (a token meant to live forever has no ttl). */
const MAX_TTL_MS = 10 * 365 * 86_400_000;

/** The caller (`GET /v1/whoami`), grids and tokens. */
export function registerAccessRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { store } = ctx;

  app.get('/v1/whoami', async (request) => identityOf(request));

  app.get('/v1/grids', async (request): Promise<{ items: Grid[] }> => {
    const identity = identityOf(request);
    return { items: store.listGrids().filter((g) => seesGrid(identity, g.name)) };
  });

  app.post('/v1/grids', async (request, reply) => {
    const body = parseRequest(CreateGridBody, request.body, 'body');
    const grid = store.createGrid({ name: body.name, ...(body.labels ? { labels: body.labels } : {}) });
    ctx.logger.info({ grid: grid.name, by: identityOf(request).subject }, 'grid created');
    return reply.status(201).send(grid);
  });

  app.get<{ Params: { grid: string } }>('/v1/grids/:grid', async (request) => store.getGrid(request.params.grid));

  app.delete<{ Params: { grid: string } }>('/v1/grids/:grid', async (request, reply) => {
    if (request.params.grid === DEFAULT_GRID) {
      throw new RequestInvalidError(`grid: "${DEFAULT_GRID}" cannot be removed (it is where requests without a grid land)`, { causes: [{ field: 'grid', message: 'the default grid cannot be removed' }] });
    }
    store.deleteGrid(request.params.grid);
    ctx.logger.info({ grid: request.params.grid, by: identityOf(request).subject }, 'grid removed');
    return reply.status(204).send();
  });

  app.get('/v1/tokens', async (request): Promise<{ items: TokenInfo[] }> => {
    const identity = identityOf(request);
    const query = parseRequest(ListTokensQuery, request.query, 'query');
    if (query.grid !== undefined) {
      requirePermission(identity, 'manage-tokens', { grid: query.grid });
      return { items: store.listTokens({ grid: query.grid }) };
    }
    if (isClusterAdmin(identity)) return { items: store.listTokens() };
    const grids = store.listGrids().filter((g) => roleIn(identity, g.name) === 'admin');
    if (grids.length === 0) requirePermission(identity, 'manage-tokens', {});
    return { items: grids.flatMap((g) => store.listTokens({ grid: g.name })) };
  });

  app.post('/v1/tokens', async (request, reply) => {
    const identity = identityOf(request);
    const body = parseRequest(CreateTokenBody, request.body, 'body');
    const role: Role = body.role;
    const clusterRole = CLUSTER_ROLES.includes(role);
    if (clusterRole && body.grid !== undefined) throw invalid('grid', role === 'cluster-admin' ? 'a cluster-admin token holds every grid: leave grid out' : 'a node (join) token acts in no grid: leave grid out');
    if (!clusterRole && body.grid === undefined) throw invalid('grid', `required for the role ${role} (which grid it acts in)`);
    const grid = clusterRole ? undefined : body.grid;
    if (grid === undefined) requirePermission(identity, 'manage-grids', {});
    else requirePermission(identity, 'manage-tokens', { grid });
    if (!canGrant(identity, role, grid)) {
      throw new ForbiddenError(`forbidden: ${identity.subject} cannot hand out the role ${role}${grid ? ` in grid "${grid}"` : ''}: a token can only carry a role its creator holds`, { needed: role, ...(grid ? { grid } : {}) });
    }
    const now = ctx.clock.now();
    let expiresAt: string | undefined;
    if (body.ttl !== undefined) {
      let ms: number;
      try {
        ms = parseDuration(body.ttl);
      } catch {
        throw invalid('ttl', 'must be a duration such as 24h, 30d or 90m');
      }
      if (ms <= 0 || ms > MAX_TTL_MS) throw invalid('ttl', 'must be more than 0 and at most 10 years (3650d); leave it out for a token that lives until revoked');
      expiresAt = new Date(now + ms).toISOString();
    }
    const minted = mintToken();
    const info = store.createToken({
      id: minted.id,
      hash: minted.hash,
      name: body.name ?? `${role}${grid ? ` of ${grid}` : ''}`,
      role,
      ...(grid === undefined ? {} : { grid }),
      createdAt: new Date(now).toISOString(),
      ...(expiresAt === undefined ? {} : { expiresAt }),
      createdBy: identity.subject,
    });
    ctx.logger.info({ token: info.id, role, grid, by: identity.subject }, 'token created');
    return reply.status(201).send({ ...info, token: minted.token });
  });

  app.delete<{ Params: { id: string } }>('/v1/tokens/:id', async (request, reply) => {
    const identity = identityOf(request);
    const id = request.params.id;
    const token = store.getToken(id);
    // Anyone may revoke the token they hold; others need to manage tokens where it acts.
    if (!token || identity.tokenId !== id) {
      if (token?.grid === undefined) requirePermission(identity, 'manage-grids', {});
      else requirePermission(identity, 'manage-tokens', { grid: token.grid });
    }
    store.deleteToken(id);
    ctx.logger.info({ token: id, by: identity.subject }, 'token revoked');
    return reply.status(204).send();
  });
}

/** A grid shows in lists to whoever holds a role in it (everyone holds `default` only if granted). */
function seesGrid(identity: Identity, grid: string): boolean {
  return roleIn(identity, grid) !== undefined || identity.service?.grid === grid;
}

function invalid(field: string, message: string): RequestInvalidError {
  return new RequestInvalidError(`${field}: ${message}`, { causes: [{ field, message }] });
}
