import type { FastifyInstance } from 'fastify';
import type { Service } from '../model/index.js';
import { identityOf } from './access-control.js';
import { flushedOf, untilDurable } from './durable-delivery.js';
import { explainNow } from './explain.js';
import type { ServiceIntentChange } from '../store/index.js';
import {
  CreateServiceBody,
  DeployBody,
  DryRunQuery,
  ListServicesQuery,
  RemoveServiceQuery,
  ScaleBody,
  UpdateServiceBody,
  VersionBody,
  parseLabelSelectors,
  parseRequest,
} from './request-schemas.js';
import type { GridParams, RouteContext, ServiceParams } from './route-context.js';
import { mutateService, requireService } from './route-context.js';
import { serviceEvent } from './service-events.js';
import { checkDeployable, createService, deployService, removeService, scaleService, updateService } from './service-operations.js';

/**
 * Services: list, create, show, update, remove, and the actions deploy / scale / start / stop / restart.
 * The writes are service-operations.ts's (shared with the Docker face); these routes parse the request
 * and answer.
 */
export function registerServiceRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { store } = ctx;

  app.get<{ Params: GridParams }>('/v1/grids/:grid/services', async (request) => {
    const query = parseRequest(ListServicesQuery, request.query, 'query');
    const selectors = parseLabelSelectors(query.label);
    const items = store
      .listServices({ grid: request.params.grid })
      .filter((s) => selectors.every(([key, value]) => (value === undefined ? key in s.spec.labels : s.spec.labels[key] === value)));
    // Read in the same synchronous step as the list: a watch from revision + 1 continues it exactly.
    // Answered once that revision is in etcd, as the watch sends only such (durable-delivery.ts).
    const listed = { items, revision: store.revision() };
    await untilDurable(flushedOf(ctx.leaderRouting));
    return listed;
  });

  app.post<{ Params: GridParams }>('/v1/grids/:grid/services', async (request, reply) => {
    const { dryRun } = parseRequest(DryRunQuery, request.query, 'query');
    const body = parseRequest(CreateServiceBody, request.body, 'body');
    const service = createService(ctx, identityOf(request), request.params.grid, { spec: body.spec, deploy: body.deploy }, { dryRun: dryRun === true });
    return reply.status(201).send(service);
  });

  // GET adds the explanation (computed on read, without log lines; GET …/why has them).
  app.get<{ Params: ServiceParams }>('/v1/grids/:grid/services/:name', async (request) => {
    const service = requireService(store, request.params.grid, request.params.name);
    return { ...service, explanation: explainNow(ctx, service) };
  });

  app.put<{ Params: ServiceParams }>('/v1/grids/:grid/services/:name', async (request) => {
    const { dryRun } = parseRequest(DryRunQuery, request.query, 'query');
    const body = parseRequest(UpdateServiceBody, request.body, 'body');
    return updateService(ctx, identityOf(request), request.params, { spec: body.spec, version: body.version, deploy: body.deploy }, { dryRun: dryRun === true });
  });

  app.delete<{ Params: ServiceParams }>('/v1/grids/:grid/services/:name', async (request, reply) => {
    const query = parseRequest(RemoveServiceQuery, request.query, 'query');
    const service = removeService(ctx, identityOf(request), request.params, { version: query.version, volumes: query.volumes });
    return reply.status(202).send(service);
  });

  app.post<{ Params: ServiceParams }>('/v1/grids/:grid/services/:name/deploy', async (request) => {
    const { dryRun } = parseRequest(DryRunQuery, request.query, 'query');
    const body = parseRequest(DeployBody, request.body, 'body');
    return deployService(ctx, identityOf(request), request.params, { version: body.version, force: body.force }, { dryRun: dryRun === true });
  });

  app.post<{ Params: ServiceParams }>('/v1/grids/:grid/services/:name/scale', async (request) => {
    const body = parseRequest(ScaleBody, request.body, 'body');
    return scaleService(ctx, identityOf(request), request.params, { replicas: body.replicas, version: body.version });
  });

  const desiredAction = (path: string, change: (current: Service, grid: string, name: string) => ServiceIntentChange): void => {
    app.post<{ Params: ServiceParams }>(`/v1/grids/:grid/services/:name/${path}`, async (request) => {
      const body = parseRequest(VersionBody, request.body, 'body');
      return mutateService(ctx, request.params, body.version, (current) => change(current, request.params.grid, request.params.name));
    });
  };
  desiredAction('start', (current, grid, name) => {
    if (current.deployment && current.desired !== 'running') checkDeployable(ctx, { grid, name }, current.deployment.spec);
    return {
      desired: 'running',
      events: [serviceEvent(grid, name, 'service.started', `start requested (was ${current.desired})`)],
    };
  });
  desiredAction('stop', (_current, grid, name) => ({
    desired: 'stopped',
    events: [serviceEvent(grid, name, 'service.stopped', 'stop requested: every instance is stopped, and stays stopped until start')],
  }));
  desiredAction('restart', (current, grid, name) => ({
    restart: true,
    events: [
      serviceEvent(grid, name, 'service.restarted', 'restart requested: every instance is replaced', {
        restartGeneration: (current.deployment?.restartGeneration ?? 0) + 1,
      }),
    ],
  }));
}
