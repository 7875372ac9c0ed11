import type { FastifyInstance } from 'fastify';
import type { Service, ServiceSpec } from '../model/index.js';
import { DriverUnavailableError, MAX_REPLICAS_HINT, RequestInvalidError, SpecInvalidError, parseServiceSpec, specLimitErrors } from '../model/index.js';
import { checkInstanceAddresses } from './address-capacity.js';
import { identityOf } from './access-control.js';
import { checkSecretRefs } from './secret-routes.js';
import { checkSpecAccess } from './spec-access.js';
import { explainNow } from './explain.js';
import { allocateNetwork } from './network-allocation.js';
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
import { allocationOptions, mutateService, requireService } from './route-context.js';
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

  // A deploy must fit the instance range next to every other service (422 with how many addresses are left).
  // …and its containers must have a driver: images need a node with the Docker driver (422 saying why none has).
  // A dry run skips that one: it says what the store would hold, as Kubernetes' dry run admits a pod
  // without scheduling it (so `berth diff` works on a machine without an engine).
  const checkAddresses = (grid: string, name: string, spec: ServiceSpec, field = 'spec.replicas', dryRun = false): void => {
    if (!dryRun) checkImageDriver(store, grid, name, spec);
    checkInstanceAddresses(store, { grid, name, spec }, { range: ctx.instanceRange, field, limits: ctx.limits });
  };

  app.post<{ Params: GridParams }>('/v1/grids/:grid/services', async (request, reply) => {
    const { grid } = request.params;
    const { dryRun } = parseRequest(DryRunQuery, request.query, 'query');
    const body = parseRequest(CreateServiceBody, request.body, 'body');
    const parsed = parseServiceSpec(body.spec, { limits: ctx.limits });
    checkSpecAccess(identityOf(request), grid, parsed, ctx.instancePolicy);
    checkSecretRefs(store, grid, parsed);
    const spec = allocateNetwork(parsed, allocationOptions(ctx));
    const deploy = body.deploy ?? false;
    if (deploy) checkAddresses(grid, spec.name, spec, undefined, dryRun === true);
    const events = [serviceEvent(grid, spec.name, 'service.created', `created at generation 1 with ${describeScale(spec)}`, { generation: 1 })];
    if (deploy) events.push(serviceEvent(grid, spec.name, 'service.deploy', 'deploy of generation 1 requested', { generation: 1 }));
    const service = store.createService({ grid, spec, deploy, events }, { dryRun: dryRun === true });
    return reply.status(201).send(service);
  });

  // GET adds the explanation (computed on read, without log lines; GET …/why has them).
  app.get<{ Params: ServiceParams }>('/v1/grids/:grid/services/:name', async (request) => {
    const service = requireService(store, request.params.grid, request.params.name);
    return { ...service, explanation: explainNow(ctx, service) };
  });

  app.put<{ Params: ServiceParams }>('/v1/grids/:grid/services/:name', async (request) => {
    const { grid, name } = request.params;
    const { dryRun } = parseRequest(DryRunQuery, request.query, 'query');
    const body = parseRequest(UpdateServiceBody, request.body, 'body');
    const spec = parseServiceSpec(body.spec, { limits: ctx.limits });
    if (spec.name !== name) {
      throw new SpecInvalidError('Service', spec.name, [
        { field: 'spec.name', type: 'Invalid value', value: spec.name, detail: `must equal the service name in the path ("${name}"); a service cannot be renamed` },
      ]);
    }
    checkSpecAccess(identityOf(request), grid, spec, ctx.instancePolicy);
    checkSecretRefs(store, grid, spec);
    return mutateService(ctx, request.params, body.version, (current) => {
      const allocated = allocateNetwork(spec, allocationOptions(ctx, current));
      if (body.deploy) checkAddresses(grid, name, allocated, undefined, dryRun === true);
      const changed = changedSpecFields(current.spec, allocated);
      const generation = current.generation + (changed.length > 0 ? 1 : 0);
      const events = [];
      if (changed.length > 0) {
        events.push(serviceEvent(grid, name, 'service.updated', `spec updated to generation ${generation}: ${changed.join(', ')} changed`, { generation, changed }));
      }
      if (body.deploy) events.push(serviceEvent(grid, name, 'service.deploy', `deploy of generation ${generation} requested`, { generation }));
      return { spec: allocated, deploy: body.deploy ?? false, events };
    }, { dryRun: dryRun === true });
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
    const { dryRun } = parseRequest(DryRunQuery, request.query, 'query');
    const body = parseRequest(DeployBody, request.body, 'body');
    const force = body.force ?? false;
    return mutateService(ctx, request.params, body.version, (current) => {
      // A spec stored before a limit was lowered is not deployed again as it is.
      const overLimit = specLimitErrors(current.spec, ctx.limits);
      if (overLimit.length > 0) throw new SpecInvalidError('Service', name, overLimit);
      checkAddresses(grid, name, current.spec, undefined, dryRun === true);
      return {
        deploy: true,
        restart: force,
        events: [
          serviceEvent(grid, name, 'service.deploy', `deploy of generation ${current.generation} requested${force ? ' (forced: every instance is replaced)' : ''}`, {
            generation: current.generation,
            force,
          }),
        ],
      };
    }, { dryRun: dryRun === true });
  });

  app.post<{ Params: ServiceParams }>('/v1/grids/:grid/services/:name/scale', async (request) => {
    const { grid, name } = request.params;
    const body = parseRequest(ScaleBody, request.body, 'body');
    return mutateService(ctx, request.params, body.version, (current) => {
      if (current.spec.mode === 'global') {
        const message = `service "${name}" runs in global mode (one instance on every node) and cannot be scaled; only replicated services have a replica count`;
        throw new RequestInvalidError(message, { causes: [{ field: 'replicas', message }] });
      }
      if (body.replicas > ctx.limits.maxReplicas) {
        const message = `must be no more than ${ctx.limits.maxReplicas} (${MAX_REPLICAS_HINT})`;
        throw new RequestInvalidError(`replicas: ${message}`, { causes: [{ field: 'replicas', message }], limit: ctx.limits.maxReplicas });
      }
      checkAddresses(grid, name, { ...current.spec, replicas: body.replicas }, 'replicas');
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
  desiredAction('start', (current, grid, name) => {
    if (current.deployment && current.desired !== 'running') checkAddresses(grid, name, current.deployment.spec);
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

/** @throws DriverUnavailableError when `spec` runs images and no node has the docker driver (each node's reason in the message). */
function checkImageDriver(store: RouteContext['store'], grid: string, name: string, spec: ServiceSpec): void {
  if (!spec.containers.some((c) => c.image !== undefined)) return;
  const nodes = store.listNodes();
  if (nodes.length === 0 || nodes.some((n) => n.drivers.includes('docker'))) return;
  throw new DriverUnavailableError(grid, name, 'docker', nodes.map((n) => `node ${n.name}: ${n.unavailableDrivers?.docker ?? 'no Docker driver'}`));
}
