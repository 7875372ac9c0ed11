import type { InstanceStatus, NewServiceEvent, ServiceSpec, ServiceSpecInput } from '../../model/index.js';
import { parseServiceSpec } from '../../model/index.js';
import type { NewInstance, SqliteStoreOptions } from '../index.js';
import { openSqliteStore } from '../index.js';

/** Fixtures of the SQLite store's tests. */
export const GRID = 'default';

export const fixtures = {
  spec(overrides: Partial<ServiceSpecInput> = {}): ServiceSpec {
    return parseServiceSpec({ name: 'web', containers: [{ command: 'sleep 1000' }], ...overrides });
  },
  instance(overrides: Partial<NewInstance> = {}): NewInstance {
    const slot = overrides.slot ?? 1;
    return {
      id: `web-${slot}-${Math.random().toString(36).slice(2, 8)}`,
      grid: GRID,
      service: 'web',
      serviceId: 'svc-1',
      slot,
      node: 'local',
      generation: 1,
      restartGeneration: 0,
      restarts: 0,
      spec: { containers: [], address: '127.10.0.2', restartPolicy: fixtures.spec().restartPolicy, env: {} },
      desiredState: 'running',
      ...overrides,
    };
  },
  status(state: InstanceStatus['state'], message = state): InstanceStatus {
    return { state, timestamp: '2026-01-01T00:00:00.000Z', message };
  },
  event(overrides: Partial<NewServiceEvent> = {}): NewServiceEvent {
    return { grid: GRID, service: 'web', type: 'service.updated', severity: 'info', message: 'something happened', ...overrides };
  },
};

/** An in-memory store whose clock moves 1 s per read. */
export function memoryStore(options: SqliteStoreOptions = {}) {
  let t = Date.parse('2026-01-01T00:00:00Z');
  return openSqliteStore(':memory:', { clock: { now: () => (t += 1000), sleep: () => Promise.resolve() }, ...options });
}
