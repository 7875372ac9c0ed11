import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseServiceSpec } from '../model/index.js';
import { SPEC_HISTORY_LIMIT } from './spec-history.js';
import { openSqliteStore } from './index.js';

const spec = (replicas: number, command = 'sleep 1000') => parseServiceSpec({ name: 'web', replicas, containers: [{ command }] });

function memoryStore() {
  let t = Date.parse('2026-01-01T00:00:00Z');
  return openSqliteStore(':memory:', { clock: { now: () => (t += 1000), sleep: () => Promise.resolve() } });
}

describe('SqliteStore: spec history', () => {
  it('records a version at create and at every spec change, with its cause and deploy time', () => {
    const store = memoryStore();
    store.createService({ grid: 'default', spec: spec(1), deploy: true });
    store.updateServiceIntent('default', 'web', { spec: spec(2), cause: 'scale' });
    store.updateServiceIntent('default', 'web', { deploy: true });
    store.updateServiceIntent('default', 'web', { spec: spec(2) }); // same spec: no new version
    const history = store.listSpecHistory('default', 'web');
    assert.deepEqual(history.map((h) => [h.generation, h.cause, h.spec.replicas, h.deployedAt !== undefined]), [
      [1, 'create', 1, true],
      [2, 'scale', 2, true],
    ]);
    assert.deepEqual(store.listSpecHistory('default', 'nope'), []);
  });

  it(`keeps the newest ${SPEC_HISTORY_LIMIT} versions`, () => {
    const store = memoryStore();
    store.createService({ grid: 'default', spec: spec(0), deploy: false });
    for (let i = 1; i <= SPEC_HISTORY_LIMIT + 5; i++) store.updateServiceIntent('default', 'web', { spec: spec(i) });
    const history = store.listSpecHistory('default', 'web');
    assert.equal(history.length, SPEC_HISTORY_LIMIT);
    assert.equal(history.at(-1)?.generation, SPEC_HISTORY_LIMIT + 6);
    assert.equal(history[0]?.generation, 7);
  });

  it('a user rollback deploys the old spec as a new version marked rollback', () => {
    const store = memoryStore();
    store.createService({ grid: 'default', spec: spec(1, 'sleep 1'), deploy: true });
    store.updateServiceIntent('default', 'web', { spec: spec(1, 'sleep 2'), deploy: true });
    const old = store.listSpecHistory('default', 'web')[0];
    assert.ok(old);
    const s = store.updateServiceIntent('default', 'web', { spec: old.spec, deploy: true, rollbackTo: 1, cause: 'rollback to 1' });
    assert.equal(s.generation, 3);
    assert.equal(s.deployment?.cause, 'rollback');
    assert.equal(s.deployment?.rollbackTo, 1);
    assert.deepEqual(s.deployment?.spec.containers, old.spec.containers);
  });

  it('an automatic rollback happens only while the failed deployment is still the latest request', () => {
    const store = memoryStore();
    store.createService({ grid: 'default', spec: spec(1, 'sleep 1'), deploy: true });
    const failed = store.updateServiceIntent('default', 'web', { spec: spec(1, 'sleep 2'), deploy: true });
    const requestedAt = failed.deployment?.requestedAt ?? '';
    store.updateServiceIntent('default', 'web', { deploy: true }); // a newer deploy request
    store.applyControllerWrites({ rollback: { grid: 'default', name: 'web', toGeneration: 1, ifRequestedAt: requestedAt } });
    assert.equal(store.getService('default', 'web')?.generation, 2, 'the newer request wins');

    const latest = store.getService('default', 'web')?.deployment?.requestedAt ?? '';
    store.applyControllerWrites({ rollback: { grid: 'default', name: 'web', toGeneration: 1, ifRequestedAt: latest } });
    const s = store.getService('default', 'web');
    assert.equal(s?.generation, 3);
    assert.equal(s?.deployment?.cause, 'auto-rollback');
    assert.ok(s && s.version > failed.version, 'the version moves: the intent changed');
    assert.equal(store.listSpecHistory('default', 'web').at(-1)?.cause, 'automatic rollback to 1');
  });

  it('forgets the history with the service', () => {
    const store = memoryStore();
    store.createService({ grid: 'default', spec: spec(1), deploy: false });
    store.updateServiceIntent('default', 'web', { desired: 'removing' });
    store.applyControllerWrites({ deleteServices: [{ grid: 'default', name: 'web' }] });
    assert.deepEqual(store.listSpecHistory('default', 'web'), []);
  });
});
