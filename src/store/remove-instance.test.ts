import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NewInstance } from './index.js';
import { REMOVED_BY_USER, openSqliteStore } from './index.js';

function instance(overrides: Partial<NewInstance> = {}): NewInstance {
  return {
    id: 'web-2-a',
    grid: 'default',
    service: 'web',
    serviceId: 'svc-1',
    slot: 2,
    node: 'local',
    generation: 1,
    restartGeneration: 0,
    restarts: 0,
    spec: { containers: [], address: '127.10.0.3', restartPolicy: { condition: 'any', delay: '5s', maxAttempts: 0, window: '0s' }, env: {} },
    desiredState: 'running',
    ...overrides,
  };
}

describe('SqliteStore.removeInstance (the API asks one instance to stop)', () => {
  it('sets desired state shutdown with the reason "removed by user" and records the events in the same write', () => {
    const store = openSqliteStore(':memory:');
    store.applyControllerWrites({ createInstances: [instance()] });
    const before = store.revision();
    const removed = store.removeInstance('default', 'web', 'web-2-a', {
      events: [{ grid: 'default', service: 'web', type: 'instance.stopping', severity: 'info', message: 'web-2 removed by user', instance: 'web-2-a', slot: 2 }],
    });
    assert.equal(removed.desiredState, 'shutdown');
    assert.equal(removed.desiredReason, REMOVED_BY_USER);
    assert.equal(removed.status.state, 'new', 'the status is the agent\'s: untouched');
    assert.equal(store.getInstance('web-2-a')?.desiredState, 'shutdown');
    assert.equal(store.revision(), before + 2, 'one revision for the instance, one for the event');
    assert.deepEqual(store.listEvents({ grid: 'default', service: 'web' }).map((e) => e.message), ['web-2 removed by user']);
  });

  it('returns an instance that is already stopping or ended unchanged, writing nothing', () => {
    const store = openSqliteStore(':memory:');
    store.applyControllerWrites({ createInstances: [instance(), instance({ id: 'web-1-a', slot: 1 })] });
    store.applyControllerWrites({ setDesired: [{ id: 'web-2-a', desiredState: 'shutdown', reason: 'scaled down' }] });
    store.setInstanceStatuses([{ id: 'web-1-a', status: { state: 'failed', timestamp: '2026-01-01T00:00:00.000Z', message: 'exited with code 1' } }]);
    const before = store.revision();
    const event = { grid: 'default', service: 'web', type: 'instance.stopping' as const, severity: 'info' as const, message: 'x' };
    assert.equal(store.removeInstance('default', 'web', 'web-2-a', { events: [event] }).desiredReason, 'scaled down');
    assert.equal(store.removeInstance('default', 'web', 'web-1-a', { events: [event] }).desiredState, 'running');
    assert.equal(store.revision(), before);
    assert.equal(store.listEvents({ grid: 'default', service: 'web' }).length, 0);
  });

  it('answers INSTANCE_NOT_FOUND for an unknown id or an instance of another service', () => {
    const store = openSqliteStore(':memory:');
    store.applyControllerWrites({ createInstances: [instance()] });
    assert.throws(() => store.removeInstance('default', 'web', 'ghost'), { code: 'INSTANCE_NOT_FOUND' });
    assert.throws(() => store.removeInstance('default', 'api', 'web-2-a'), { code: 'INSTANCE_NOT_FOUND' });
    assert.throws(() => store.removeInstance('other', 'web', 'web-2-a'), { code: 'INSTANCE_NOT_FOUND' });
    assert.equal(store.getInstance('web-2-a')?.desiredState, 'running');
  });
});
