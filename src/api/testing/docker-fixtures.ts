import type { FastifyInstance } from 'fastify';
import type { InstanceStatus, Service, ServiceSpecInput } from '../../model/index.js';
import { parseServiceSpec } from '../../model/index.js';
import type { Store } from '../../store/index.js';
import { openSqliteStore } from '../../store/index.js';
import { createDockerApi } from '../docker/create-docker-api.js';
import type { DockerApiDeps } from '../docker/create-docker-api.js';
import { FakeTelemetry } from '../fake-telemetry.js';
import { adminAuthenticator, newInstance } from './fixtures.js';

export const DOCKER_NOW = Date.parse('2026-03-01T12:00:00Z');

/** The Docker face over an in-memory store and a FakeTelemetry, with one ready node (`node-1`). */
export function dockerFace(deps: Partial<DockerApiDeps> = {}): { store: Store; telemetry: FakeTelemetry; app: FastifyInstance } {
  const clock = { now: () => DOCKER_NOW, sleep: () => Promise.resolve() };
  const store = openSqliteStore(':memory:', { clock });
  const telemetry = new FakeTelemetry();
  store.upsertNode({ name: 'node-1', address: '127.0.0.1', drivers: ['process'], ready: true, heartbeatAt: new Date(DOCKER_NOW).toISOString() });
  const app = createDockerApi({ authenticator: adminAuthenticator, store, telemetry, clock, node: 'node-1', version: 'test', ...deps });
  return { store, telemetry, app };
}

/** Stores and deploys a service (process containers unless the input says otherwise). */
export function deployService(store: Store, input: Partial<ServiceSpecInput> & { readonly grid?: string } = {}): Service {
  const { grid = 'default', ...spec } = input;
  return store.createService({ grid, spec: parseServiceSpec({ name: 'web', replicas: 2, containers: [{ command: ['node', 'server.js'] }], ...spec } as ServiceSpecInput), deploy: true });
}

/**
 * Adds an instance of `service` in `slot` as the controller would (the deployed generation), then
 * records `status` as the agent would. Instances added later in a slot are newer.
 */
export function addInstance(store: Store, service: Service, options: { readonly id: string; readonly slot: number; readonly status?: Partial<InstanceStatus>; readonly address?: string; readonly generation?: number; readonly node?: string }): void {
  const deployment = service.deployment;
  const base = newInstance({
    id: options.id,
    grid: service.grid,
    service: service.name,
    serviceId: service.id,
    slot: options.slot,
    node: options.node ?? 'node-1',
    generation: options.generation ?? deployment?.generation ?? 1,
    restartGeneration: deployment?.restartGeneration ?? 0,
  });
  store.applyControllerWrites({ createInstances: [{ ...base, spec: { ...base.spec, containers: (deployment?.spec ?? service.spec).containers, address: options.address ?? `127.10.0.${options.slot}` } }] });
  if (options.status) {
    const timestamp = new Date(DOCKER_NOW).toISOString();
    store.setInstanceStatuses([{ id: options.id, status: { state: 'running', timestamp, message: 'running', startedAt: timestamp, ...options.status } }]);
  }
}
