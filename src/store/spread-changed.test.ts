import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ServiceSpecInput } from '../model/index.js';
import { parseServiceSpec } from '../model/index.js';
import { openSqliteStore } from './index.js';

/*
 * ServiceDeployment.spreadChanged: the store marks a deployment whose spread preferences differ from the
 * deployed ones, so that its rollout evens the spread out (docs/rollouts.md, "Spread changes"), and
 * carries the mark over a deploy on top of a rollout that has not completed.
 */

const spec = (o: Partial<ServiceSpecInput> = {}) => parseServiceSpec({ name: 'web', replicas: 4, containers: [{ command: ['sleep', '300'] }], ...o });
const ZONE = { preferences: [{ spread: 'node.labels.zone' }] };

describe('store: a deploy that changes the spread preferences', () => {
  it('is marked spreadChanged; a deploy that leaves them alone is not, unless the rollout of the change has not completed', () => {
    const store = openSqliteStore(':memory:');
    try {
      const first = store.createService({ grid: 'default', spec: spec(), deploy: true });
      assert.equal(first.deployment?.spreadChanged, undefined, 'a first deploy changes no spread');

      const changed = store.updateServiceIntent('default', 'web', { spec: spec({ placement: ZONE }), deploy: true });
      assert.equal(changed.deployment?.spreadChanged, true);

      // Scaled while that rollout runs: the rebalancing goes on in the new rollout.
      const scaled = store.updateServiceIntent('default', 'web', { spec: spec({ replicas: 6, placement: ZONE }), deploy: true });
      assert.equal(scaled.deployment?.spreadChanged, true);

      // Its rollout completed: the next deploy (a constraint) is no spread change.
      const requestedAt = scaled.deployment?.requestedAt ?? '';
      const update = { state: 'completed' as const, generation: scaled.generation, requestedAt, startedAt: requestedAt, completedAt: requestedAt, message: 'done', failedInstances: [], updatedInstances: 6, totalInstances: 6 };
      store.applyControllerWrites({ serviceStatus: [{ grid: 'default', name: 'web', status: { ...scaled.status, phase: 'running', update, updatedAt: requestedAt } }] });
      const constrained = store.updateServiceIntent('default', 'web', { spec: spec({ replicas: 6, placement: { ...ZONE, constraints: ['node.labels.zone!=c'] } }), deploy: true });
      assert.equal(constrained.deployment?.spreadChanged, undefined);

      // Removing the preference is a change too (the scheduler's ranking changed).
      const dropped = store.updateServiceIntent('default', 'web', { spec: spec({ replicas: 6, placement: { constraints: ['node.labels.zone!=c'] } }), deploy: true });
      assert.equal(dropped.deployment?.spreadChanged, true);
    } finally {
      store.close();
    }
  });
});
