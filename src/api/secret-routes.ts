import type { FastifyInstance } from 'fastify';
import type { FieldError, SecretInfo, ServiceSpec } from '../model/index.js';
import { SecretNotFoundError, SpecInvalidError } from '../model/index.js';
import type { Store } from '../store/index.js';
import { identityOf } from './access-control.js';
import { CreateSecretBody, UpdateSecretBody, parseRequest } from './request-schemas.js';
import type { GridParams, RouteContext } from './route-context.js';

interface SecretParams {
  readonly grid: string;
  readonly secret: string;
}

/**
 * Secrets of a grid: create, list, show (keys only), replace or merge, remove. Values go in and never
 * come out (Swarm's secrets are write-only too); containers get them as env vars when they start.
 */
export function registerSecretRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { store } = ctx;
  app.get<{ Params: GridParams }>('/v1/grids/:grid/secrets', async (request): Promise<{ items: SecretInfo[] }> => ({ items: store.listSecrets(request.params.grid) }));

  app.post<{ Params: GridParams }>('/v1/grids/:grid/secrets', async (request, reply) => {
    const body = parseRequest(CreateSecretBody, request.body, 'body');
    const info = store.putSecret(request.params.grid, body.name, body.data, 'create');
    // The log line names the secret and its keys, never a value.
    ctx.logger.info({ grid: info.grid, secret: info.name, keys: info.keys, by: identityOf(request).subject }, 'secret created');
    return reply.status(201).send(info);
  });

  app.get<{ Params: SecretParams }>('/v1/grids/:grid/secrets/:secret', async (request) => {
    const info = store.getSecret(request.params.grid, request.params.secret);
    if (!info) throw new SecretNotFoundError(request.params.grid, request.params.secret);
    return info;
  });

  app.put<{ Params: SecretParams }>('/v1/grids/:grid/secrets/:secret', async (request) => {
    const body = parseRequest(UpdateSecretBody, request.body, 'body');
    const info = store.putSecret(request.params.grid, request.params.secret, body.data, body.merge ? 'merge' : 'replace');
    ctx.logger.info({ grid: info.grid, secret: info.name, keys: info.keys, by: identityOf(request).subject }, 'secret updated');
    return info;
  });

  app.delete<{ Params: SecretParams }>('/v1/grids/:grid/secrets/:secret', async (request, reply) => {
    store.deleteSecret(request.params.grid, request.params.secret);
    return reply.status(204).send();
  });
}

/**
 * Every `valueFrom.secretKeyRef` of a spec must name a secret of the grid and a key it holds, so that a
 * typo fails at create/update with the field named rather than at each instance's start.
 * @throws SpecInvalidError (400) listing every reference that does not resolve
 */
export function checkSecretRefs(store: Store, grid: string, spec: ServiceSpec): void {
  const causes: FieldError[] = [];
  spec.containers.forEach((c, i) =>
    c.env.forEach((e, j) => {
      if (!('valueFrom' in e)) return;
      const { name, key } = e.valueFrom.secretKeyRef;
      const secret = store.getSecret(grid, name);
      const field = `spec.containers[${i}].env[${j}].valueFrom.secretKeyRef`;
      if (!secret) causes.push({ field: `${field}.name`, type: 'Not found', value: name, detail: `no secret "${name}" in grid "${grid}" (berth secret create ${name} --from-literal ${key}=…)` });
      else if (!secret.keys.includes(key)) causes.push({ field: `${field}.key`, type: 'Not found', value: key, detail: `secret "${name}" has no key "${key}" (it has: ${secret.keys.join(', ') || 'none'})` });
    }),
  );
  if (causes.length > 0) throw new SpecInvalidError('Service', spec.name, causes);
}
