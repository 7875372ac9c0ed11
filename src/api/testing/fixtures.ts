import type { Identity } from '../../model/index.js';
import type { Authenticator } from '../authenticator.js';
import type { NewInstance } from '../../store/index.js';

/** A valid instance as a controller would create it (one fixture factory per entity, STYLE.md). */
export function newInstance(overrides: Partial<NewInstance> = {}): NewInstance {
  const slot = overrides.slot ?? 1;
  return {
    id: `web-${slot}-${Math.random().toString(36).slice(2, 8)}`,
    grid: 'default',
    service: 'web',
    serviceId: 'svc',
    slot,
    node: 'node-1',
    generation: 1,
    restartGeneration: 0,
    restarts: 0,
    spec: { containers: [], address: `127.10.0.${slot}`, restartPolicy: { condition: 'any', delay: '5s', maxAttempts: 0, window: '0s' }, env: {} },
    desiredState: 'running',
    ...overrides,
  };
}

/** A cluster-admin, as the admin token's identity. */
export const CLUSTER_ADMIN: Identity = { kind: 'user', subject: 'token test (admin)', grants: [{ role: 'cluster-admin' }], tokenId: 'test' };

/**
 * For route tests that are not about access: every request is the cluster admin. Access itself is
 * tested with the real TokenAuthenticator (access.test.ts).
 */
export const adminAuthenticator: Authenticator = { authenticate: () => CLUSTER_ADMIN };
