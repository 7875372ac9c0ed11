import type { FastifyInstance } from 'fastify';
import type { Service } from '../model/index.js';
import { RequestInvalidError, SpecInvalidError, parseServiceSpec } from '../model/index.js';
import { explainNow } from './explain.js';
import { allocateNetwork } from './network-allocation.js';
import type { ServiceIntentChange } from '../store/index.js';
import {
  CreateServiceBody,
  DeployBody,
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
import { changedSpecFields, deployedReplicas, describeScale, serviceEvent } from './service-events.js';

/** Services: list, create, show, update, remove, and the actions deploy / scale / start / stop / restart. */
export function registerServiceRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { store } = ctx;

  app.get<{ Params: GridParams }>('/v1/grids/:grid/services', async (request) => {
    const query = parseRequest(ListServicesQuery, request.query, 'query');
    const selectors = parseLabelSelectors(query.label);
    const items = store
      .listServices({ grid: request.params.grid })
      .filter((s) => selectors.every(([key, value]) => (value === undefined ? key in s.spec.labels : s.spec.labels[key] === value)));
    return { items };
  });

  app.post<{ Params: GridParams }>('/v1/grids/:grid/services', async (request, reply) => {
    const { grid } = request.params;
    const body = parseRequest(CreateServiceBody, request.body, 'body');
    const spec = allocateNetwork(parseServiceSpec(body.spec), { others: store.listServices(), ranges: ctx.networkRanges });
    const deploy = body.deploy ?? false;
    const events = [serviceEvent(grid, spec.name, 'service.created', `created at generation 1 with ${describeScale(spec)}`, { generation: 1 })];
    if (deploy) events.push(serviceEvent(grid, spec.name, 'service.deploy', 'deploy of generation 1 requested', { generation: 1 }));
    const service = store.createService({ grid, spec, deploy, events });
    return reply.status(201).send(service);
  });

  // GET adds the explanation (computed on read, without log lines; GET …/why has them).
  app.get<{ Params: ServiceParams }>('/v1/grids/:grid/services/:name', async (request) => {
    const service = requireService(store, request.params.grid, request.params.name);
    return { ...service, explanation: explainNow(ctx, service) };
  });

  app.put<{ Params: ServiceParams }>('/v1/grids/:grid/services/:name', async (request) => {
    const { grid, name } = request.params;
    const body = parseRequest(UpdateServiceBody, request.body, 'body');
    const spec = parseServiceSpec(body.spec);
    if (spec.name !== name) {
      throw new SpecInvalidError('Service', spec.name, [
        { field: 'spec.name', type: 'Invalid value', value: spec.name, detail: `must equal the service name in the path ("${name}"); a service cannot be renamed` },
      ]);
    }
    return mutateService(ctx, request.params, body.version, (current) => {
      const others = store.listServices().filter((s) => s.id !== current.id);
      const allocated = allocateNetwork(spec, { current, others, ranges: ctx.networkRanges });
      const changed = changedSpecFields(current.spec, allocated);
      const generation = current.generation + (changed.length > 0 ? 1 : 0);
      const events = [];
      if (changed.length > 0) {
        events.push(serviceEvent(grid, name, 'service.updated', `spec updated to generation ${generation}: ${changed.join(', ')} changed`, { generation, changed }));
      }
      if (body.deploy) events.push(serviceEvent(grid, name, 'service.deploy', `deploy of generation ${generation} requested`, { generation }));
      return { spec: allocated, deploy: body.deploy ?? false, events };
    });
  });

  app.delete<{ Params: ServiceParams }>('/v1/grids/:grid/services/:name', async (request, reply) => {
    const query = parseRequest(RemoveServiceQuery, request.query, 'query');
    const volumes = query.volumes === true;
    const service = mutateService(ctx, request.params, query.version, () => ({
      desired: 'removing',
      ...(volumes ? { deleteVolumes: true } : {}),
      events: [
        serviceEvent(
          request.params.grid,
          request.params.name,
          'service.removing',
          `removal requested: instances are stopped, then the service is deleted${volumes ? ', and its data directories with it' : ''}`,
          volumes ? { volumes: true } : undefined,
        ),
      ],
    }));
    return reply.status(202).send(service);
  });

  app.post<{ Params: ServiceParams }>('/v1/grids/:grid/services/:name/deploy', async (request) => {
    const { grid, name } = request.params;
    const body = parseRequest(DeployBody, request.body, 'body');
    const force = body.force ?? false;
    return mutateService(ctx, request.params, body.version, (current) => ({
      deploy: true,
      restart: force,
      events: [
        serviceEvent(grid, name, 'service.deploy', `deploy of generation ${current.generation} requested${force ? ' (forced: every instance is replaced)' : ''}`, {
          generation: current.generation,
          force,
        }),
      ],
    }));
  });

  app.post<{ Params: ServiceParams }>('/v1/grids/:grid/services/:name/scale', async (request) => {
    const { grid, name } = request.params;
    const body = parseRequest(ScaleBody, request.body, 'body');
    return mutateService(ctx, request.params, body.version, (current) => {
      if (current.spec.mode === 'global') {
        const message = `service "${name}" runs in global mode (one instance on every node) and cannot be scaled; only replicated services have a replica count`;
        throw new RequestInvalidError(message, { causes: [{ field: 'replicas', message }] });
      }
      const was = deployedReplicas(current);
      // As Kontena: scale sets the replicas and deploys at once (with any other spec change not yet deployed).
      return {
        spec: { ...current.spec, replicas: body.replicas },
        deploy: true,
        events: [serviceEvent(grid, name, 'service.scaled', `scaled to ${body.replicas} ${body.replicas === 1 ? 'replica' : 'replicas'} (was ${was})`, { replicas: body.replicas, previousReplicas: was })],
      };
    });
  });

  const desiredAction = (path: string, change: (current: Service, grid: string, name: string) => ServiceIntentChange): void => {
    app.post<{ Params: ServiceParams }>(`/v1/grids/:grid/services/:name/${path}`, async (request) => {
      const body = parseRequest(VersionBody, request.body, 'body');
      return mutateService(ctx, request.params, body.version, (current) => change(current, request.params.grid, request.params.name));
    });
  };
  desiredAction('start', (current, grid, name) => ({
    desired: 'running',
    events: [serviceEvent(grid, name, 'service.started', `start requested (was ${current.desired})`)],
  }));
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
