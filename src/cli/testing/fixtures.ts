import type { Instance, InstanceState, Service, ServiceSpec } from '../../model/index.js';

/*
 * One fixture factory per entity, valid by default (STYLE.md): `fixtures.service({ replicas: 3 })`.
 * Specs are in the stored, fully defaulted form the API returns.
 */

const T0 = '2026-11-21T15:00:00.000Z';

export function serviceSpec(overrides: Partial<ServiceSpec> = {}): ServiceSpec {
  const name = overrides.name ?? 'web';
  return {
    name,
    labels: {},
    mode: 'replicated',
    replicas: 1,
    stateful: false,
    containers: [
      {
        name,
        command: ['node', 'server.js'],
        args: [],
        env: [],
        workingDir: '/srv/app',
        ports: [],
        stopSignal: 'SIGTERM',
        stopGracePeriod: '10s',
      },
    ],
    restartPolicy: { condition: 'any', delay: '5s', maxAttempts: 0, window: '0s' },
    updateConfig: { parallelism: 1, delay: '0s', failureAction: 'pause', monitor: '5s', maxFailureRatio: 0, order: 'stop-first' },
    rollbackConfig: { parallelism: 1, delay: '0s', failureAction: 'pause', monitor: '5s', maxFailureRatio: 0, order: 'stop-first' },
    drainTimeout: '10s',
    type: 'ClusterIP',
    ports: [],
    externalIPs: [],
    sessionAffinity: 'None',
    publishNotReadyAddresses: false,
    ...overrides,
  };
}

export interface ServiceOverrides {
  readonly grid?: string;
  readonly version?: number;
  readonly generation?: number;
  readonly spec?: Partial<ServiceSpec>;
  /** The deployed generation; null (the default) for never deployed. */
  readonly deployedGeneration?: number | null;
  readonly desired?: Service['desired'];
  readonly status?: Partial<Service['status']>;
  readonly createdAt?: string;
}

export function service(overrides: ServiceOverrides = {}): Service {
  const spec = serviceSpec(overrides.spec);
  const generation = overrides.generation ?? 1;
  const deployed = overrides.deployedGeneration ?? null;
  return {
    id: `svc-${spec.name}`,
    grid: overrides.grid ?? 'default',
    name: spec.name,
    version: overrides.version ?? 1,
    generation,
    createdAt: overrides.createdAt ?? T0,
    updatedAt: overrides.createdAt ?? T0,
    spec,
    deployment: deployed === null ? null : { generation: deployed, spec, requestedAt: T0, restartGeneration: 0 },
    desired: overrides.desired ?? 'running',
    status: {
      phase: deployed === null ? 'initialized' : 'running',
      desiredInstances: deployed === null ? 0 : spec.replicas,
      runningInstances: deployed === null ? 0 : spec.replicas,
      observedGeneration: deployed ?? 0,
      message: '',
      updatedAt: T0,
      ...overrides.status,
    },
  };
}

export interface InstanceOverrides {
  readonly service?: string;
  readonly grid?: string;
  readonly slot?: number;
  readonly state?: InstanceState;
  readonly desiredState?: Instance['desiredState'];
  readonly generation?: number;
  readonly restartGeneration?: number;
  readonly createdAt?: string;
  readonly ports?: readonly number[];
  readonly id?: string;
  readonly exitCode?: number;
  readonly node?: string;
}

export function instance(overrides: InstanceOverrides = {}): Instance {
  const service = overrides.service ?? 'web';
  const slot = overrides.slot ?? 1;
  const state = overrides.state ?? 'running';
  const terminal = state === 'complete' || state === 'failed' || state === 'shutdown' || state === 'rejected';
  return {
    id: overrides.id ?? `${service}-${slot}-a1b2`,
    grid: overrides.grid ?? 'default',
    service,
    serviceId: `svc-${service}`,
    slot,
    node: overrides.node ?? 'node-1',
    generation: overrides.generation ?? 1,
    restartGeneration: overrides.restartGeneration ?? 0,
    restarts: 0,
    version: 1,
    createdAt: overrides.createdAt ?? T0,
    spec: {
      containers: [
        {
          ...serviceSpec({ name: service }).containers[0]!,
          ports: (overrides.ports ?? []).map((p) => ({ containerPort: p, protocol: 'TCP' as const })),
        },
      ],
      address: `127.10.0.${slot + 1}`,
      restartPolicy: serviceSpec().restartPolicy,
      env: {},
    },
    desiredState: overrides.desiredState ?? (terminal ? 'shutdown' : 'running'),
    status: {
      state,
      timestamp: T0,
      message: state,
      ...(state === 'running' || terminal ? { startedAt: T0 } : {}),
      ...(terminal ? { finishedAt: T0, exitCode: overrides.exitCode ?? 0 } : {}),
    },
  };
}
