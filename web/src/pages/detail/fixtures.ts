import type { Instance, Service, UpdateStatus } from '../../../../src/model/index.js';

// Test fixtures of the detail page (valid by default; one factory per entity, as STYLE.md asks).

const T0 = '2026-12-01T10:00:00.000Z';

/** A running service `web` in grid `default`, generation 2 deployed, 3 replicas. */
export function service(o: { readonly update?: Partial<UpdateStatus>; readonly phase?: Service['status']['phase']; readonly version?: number } = {}): Service {
  return {
    id: 'svc-1',
    grid: 'default',
    name: 'web',
    version: o.version ?? 10,
    generation: 2,
    createdAt: T0,
    updatedAt: T0,
    spec: { name: 'web', labels: {}, replicas: 3, containers: containers(2), ports: [] } as unknown as Service['spec'],
    deployment: { generation: o.update?.generation ?? 2, restartGeneration: 0, requestedAt: T0, spec: { name: 'web', labels: {}, replicas: 3, containers: containers(o.update?.generation ?? 2), ports: [] } as unknown as Service['spec'] },
    desired: 'running',
    status: {
      phase: o.phase ?? 'running',
      desiredInstances: 3,
      runningInstances: 3,
      observedGeneration: 2,
      message: '',
      updatedAt: T0,
      ...(o.update
        ? { update: { state: 'updating', generation: 2, requestedAt: T0, fromGeneration: 1, startedAt: T0, message: 'updating', failedInstances: [], updatedInstances: 0, totalInstances: 3, ...o.update } }
        : {}),
    },
  };
}

/** The containers of generation `g` (each generation's its own, unless a test says otherwise). */
function containers(g: number): Instance['spec']['containers'] {
  return [{ name: 'web', command: ['node', `server-v${g}.js`] }] as unknown as Instance['spec']['containers'];
}

let seq = 0;
/** An instance of `web`, running and ready by default, with its generation's containers (`containersOf` another's). */
export function instance(o: { readonly slot?: number; readonly generation?: number; readonly state?: Instance['status']['state']; readonly ready?: boolean; readonly createdAt?: string; readonly containersOf?: number } = {}): Instance {
  seq++;
  const slot = o.slot ?? 1;
  return {
    id: `web-${slot}-${seq}`,
    grid: 'default',
    service: 'web',
    serviceId: 'svc-1',
    slot,
    node: 'node-1',
    generation: o.generation ?? 2,
    restartGeneration: 0,
    restarts: 0,
    version: seq,
    createdAt: o.createdAt ?? new Date(Date.parse(T0) + seq * 1000).toISOString(),
    spec: { containers: containers(o.containersOf ?? o.generation ?? 2), address: `127.11.13.${slot}`, restartPolicy: {} as Instance['spec']['restartPolicy'], env: {} },
    desiredState: 'running',
    status: {
      state: o.state ?? 'running',
      timestamp: T0,
      message: 'started',
      ...(o.ready === undefined ? {} : { health: { started: true, ready: o.ready, live: true, probes: [] } }),
    },
  };
}
