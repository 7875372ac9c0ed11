import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Service, UpdateStatus } from '../model/index.js';
import { rolloutOutcome } from './rollout-outcome.js';
import { service } from './testing/fixtures.js';

const T0 = '2026-12-05T13:15:52.140Z';

function withUpdate(update: Partial<UpdateStatus>): Service {
  const s = service({ spec: { name: 'zonea', replicas: 2 }, generation: 2, deployedGeneration: 2 });
  const deployment = { ...(s.deployment as NonNullable<Service['deployment']>), requestedAt: T0, generation: 2 };
  const base: UpdateStatus = { state: 'completed', generation: 2, requestedAt: T0, fromGeneration: 1, startedAt: T0, message: 'update to generation 2 completed: 2/2 instance(s) ready', failedInstances: [], updatedInstances: 2, totalInstances: 2 };
  return { ...s, deployment, status: { ...s.status, update: { ...base, ...update } } };
}

describe('rolloutOutcome', () => {
  const target = { requestedAt: T0, generation: 2 };

  it('is done when the update completed with every slot updated', () => {
    assert.equal(rolloutOutcome(target, withUpdate({})).state, 'done');
  });

  it('is done, not degraded, when a completed update recounts fewer updated slots with no failed instance (a placement change moving its instances)', () => {
    assert.equal(rolloutOutcome(target, withUpdate({ updatedInstances: 0 })).state, 'done');
  });

  it('is degraded when the update completed with failed instances', () => {
    const outcome = rolloutOutcome(target, withUpdate({ updatedInstances: 1, failedInstances: ['zonea-1-x'], message: 'update to generation 2 completed with failures: 1/2 instance(s) ready, 1 failed (failureAction continue)' }));
    assert.deepEqual(outcome, { state: 'degraded', message: 'update to generation 2 completed with failures: 1/2 instance(s) ready, 1 failed (failureAction continue)' });
  });
});
