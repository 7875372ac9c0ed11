import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hasCode } from '../lib/index.js';
import type { WatchEvent } from './index.js';
import { watchEventJson } from './index.js';
import { GRID, fixtures, memoryStore } from './testing/fixtures.js';


describe('SqliteStore: services', () => {
  it('creates a service at generation 1, desired running, initialized, not deployed', () => {
    const store = memoryStore();
    const svc = store.createService({ grid: GRID, spec: fixtures.spec(), deploy: false });
    assert.equal(svc.generation, 1);
    assert.equal(svc.desired, 'running');
    assert.equal(svc.status.phase, 'initialized');
    assert.equal(svc.deployment, null);
    assert.equal(svc.version, store.revision());
    assert.match(svc.id, /^[0-9a-f-]{36}$/);
    assert.deepEqual(store.getService(GRID, 'web'), svc);
  });

  it('deploys at once when created with deploy', () => {
    const store = memoryStore();
    const svc = store.createService({ grid: GRID, spec: fixtures.spec(), deploy: true });
    assert.equal(svc.deployment?.generation, 1);
    assert.equal(svc.deployment?.restartGeneration, 0);
    assert.deepEqual(svc.deployment?.spec, svc.spec);
  });

  it('refuses a taken name with SERVICE_EXISTS and writes nothing', () => {
    const store = memoryStore();
    store.createService({ grid: GRID, spec: fixtures.spec(), deploy: false });
    const rev = store.revision();
    assert.throws(() => store.createService({ grid: GRID, spec: fixtures.spec(), deploy: false, events: [fixtures.event()] }), { code: 'SERVICE_EXISTS' });
    assert.equal(store.revision(), rev);
    assert.equal(store.listEvents({ grid: GRID, service: 'web' }).length, 0);
    // A grid must exist; the same name in another grid is a different service.
    assert.throws(() => store.createService({ grid: 'other', spec: fixtures.spec(), deploy: false }), { code: 'GRID_NOT_FOUND' });
    store.createGrid({ name: 'other' });
    assert.equal(store.createService({ grid: 'other', spec: fixtures.spec(), deploy: false }).grid, 'other');
  });

  it('refuses a stale version with VERSION_CONFLICT carrying the current version, and changes nothing', () => {
    const store = memoryStore();
    const v1 = store.createService({ grid: GRID, spec: fixtures.spec(), deploy: false });
    const v2 = store.updateServiceIntent(GRID, 'web', { spec: fixtures.spec({ replicas: 2 }) }, { ifVersion: v1.version });
    const rev = store.revision();
    try {
      store.updateServiceIntent(GRID, 'web', { spec: fixtures.spec({ replicas: 9 }), events: [fixtures.event()] }, { ifVersion: v1.version });
      assert.fail('expected a conflict');
    } catch (e) {
      assert.ok(hasCode(e, 'VERSION_CONFLICT'));
      assert.deepEqual((e as { details: unknown }).details, { expectedVersion: v1.version, currentVersion: v2.version });
    }
    assert.equal(store.revision(), rev);
    assert.deepEqual(store.getService(GRID, 'web'), v2);
    assert.equal(store.listEvents({ grid: GRID, service: 'web' }).length, 0);
  });

  it('raises the generation only when the spec differs, and deploy copies spec and generation', () => {
    const store = memoryStore();
    const v1 = store.createService({ grid: GRID, spec: fixtures.spec(), deploy: false });
    const same = store.updateServiceIntent(GRID, 'web', { spec: fixtures.spec(), events: [fixtures.event()] });
    assert.equal(same.version, v1.version, 'an unchanged spec writes nothing');
    assert.equal(store.listEvents({ grid: GRID, service: 'web' }).length, 0, 'a no-op records no events');
    const changed = store.updateServiceIntent(GRID, 'web', { spec: fixtures.spec({ replicas: 3 }) });
    assert.equal(changed.generation, 2);
    assert.equal(changed.deployment, null, 'update does not deploy');
    const deployed = store.updateServiceIntent(GRID, 'web', { deploy: true });
    assert.equal(deployed.generation, 2);
    assert.equal(deployed.deployment?.generation, 2);
    assert.equal(deployed.deployment?.spec.replicas, 3);
    const both = store.updateServiceIntent(GRID, 'web', { spec: fixtures.spec({ replicas: 5 }), deploy: true });
    assert.equal(both.generation, 3);
    assert.equal(both.deployment?.generation, 3);
    assert.equal(both.deployment?.spec.replicas, 5);
  });

  it('restart bumps the restart generation and needs a deployment', () => {
    const store = memoryStore();
    store.createService({ grid: GRID, spec: fixtures.spec(), deploy: false });
    assert.throws(() => store.updateServiceIntent(GRID, 'web', { restart: true }), { code: 'SERVICE_NOT_DEPLOYED' });
    store.updateServiceIntent(GRID, 'web', { deploy: true });
    assert.equal(store.updateServiceIntent(GRID, 'web', { restart: true }).deployment?.restartGeneration, 1);
    assert.equal(store.updateServiceIntent(GRID, 'web', { deploy: true, restart: true }).deployment?.restartGeneration, 2);
    assert.equal(store.updateServiceIntent(GRID, 'web', { deploy: true }).deployment?.restartGeneration, 2, 'deploy keeps it');
  });

  it('refuses every change but removal on a service being removed', () => {
    const store = memoryStore();
    store.createService({ grid: GRID, spec: fixtures.spec(), deploy: true });
    const removing = store.updateServiceIntent(GRID, 'web', { desired: 'removing' });
    assert.equal(removing.desired, 'removing');
    for (const change of [{ desired: 'running' as const }, { deploy: true }, { restart: true }, { spec: fixtures.spec({ replicas: 4 }) }]) {
      assert.throws(() => store.updateServiceIntent(GRID, 'web', change), { code: 'SERVICE_REMOVING' }, JSON.stringify(change));
    }
    assert.equal(store.updateServiceIntent(GRID, 'web', { desired: 'removing' }).version, removing.version, 'removing twice is a no-op');
  });

  it('reports an unknown service as SERVICE_NOT_FOUND', () => {
    const store = memoryStore();
    assert.throws(() => store.updateServiceIntent(GRID, 'nope', { deploy: true }), { code: 'SERVICE_NOT_FOUND' });
  });

  it('does not move the version on controller status writes, but does emit a watch event', () => {
    const store = memoryStore();
    const svc = store.createService({ grid: GRID, spec: fixtures.spec(), deploy: true });
    const seen: WatchEvent[] = [];
    store.watch(store.revision(), (e) => seen.push(e));
    const status = { ...svc.status, phase: 'running' as const, runningInstances: 1, desiredInstances: 1 };
    store.applyControllerWrites({ serviceStatus: [{ grid: GRID, name: 'web', status }] });
    const after = store.getService(GRID, 'web');
    assert.equal(after?.version, svc.version);
    assert.equal(after?.status.phase, 'running');
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.revision, store.revision());
    // The same status again (only updatedAt differs) is not written.
    store.applyControllerWrites({ serviceStatus: [{ grid: GRID, name: 'web', status: { ...status, updatedAt: 'later' } }] });
    assert.equal(seen.length, 1);
    // And an update with the version read before the status write still succeeds.
    assert.equal(store.updateServiceIntent(GRID, 'web', { desired: 'stopped' }, { ifVersion: svc.version }).desired, 'stopped');
  });

  it('returns deep-frozen objects', () => {
    const store = memoryStore();
    store.createService({ grid: GRID, spec: fixtures.spec(), deploy: true });
    const svc = store.getService(GRID, 'web');
    assert.ok(svc);
    assert.throws(() => {
      (svc.spec.containers[0] as { name: string }).name = 'changed';
    }, TypeError);
    assert.throws(() => {
      (svc as { desired: string }).desired = 'stopped';
    }, TypeError);
    assert.ok(Object.isFrozen(store.listServices()[0]?.deployment?.spec.containers[0]?.command));
  });
});

describe('SqliteStore: instances', () => {
  it('creates a hundred instances in one write, listed by slot and newest first within a slot', () => {
    const store = memoryStore();
    const rev = store.revision();
    const created = Array.from({ length: 100 }, (_, i) => fixtures.instance({ id: `web-${(i % 50) + 1}-${i}`, slot: (i % 50) + 1 }));
    const started = performance.now();
    store.applyControllerWrites({ createInstances: created });
    assert.ok(performance.now() - started < 1000, 'fast enough');
    assert.equal(store.revision(), rev + 100, 'one revision per instance');
    const listed = store.listInstances({ grid: GRID, service: 'web' });
    assert.equal(listed.length, 100);
    assert.deepEqual(listed.slice(0, 2).map((i) => i.id), ['web-1-50', 'web-1-0']);
    assert.equal(listed[0]?.status.state, 'new');
    assert.equal(listed[0]?.version, rev + 51);
  });

  it('rolls back a whole controller write when one part fails', () => {
    const store = memoryStore();
    const a = fixtures.instance({ id: 'web-1-a' });
    store.applyControllerWrites({ createInstances: [a] });
    const rev = store.revision();
    const seen: WatchEvent[] = [];
    store.watch(rev, (e) => seen.push(e));
    assert.throws(() => store.applyControllerWrites({ createInstances: [fixtures.instance({ id: 'web-2-b', slot: 2 }), a] }), { code: 'INTERNAL' });
    assert.equal(store.revision(), rev);
    assert.equal(store.getInstance('web-2-b'), undefined);
    assert.equal(seen.length, 0);
    // The store still works afterwards, at the next revision.
    store.applyControllerWrites({ createInstances: [fixtures.instance({ id: 'web-2-c', slot: 2 })] });
    assert.equal(store.revision(), rev + 1);
    assert.equal(seen[0]?.revision, rev + 1);
  });

  it('writes desired state, ignores unknown instances, and deletes', () => {
    const store = memoryStore();
    store.applyControllerWrites({ createInstances: [fixtures.instance({ id: 'web-1-a' })] });
    store.applyControllerWrites({ setDesired: [{ id: 'web-1-a', desiredState: 'shutdown', reason: 'scaled down' }, { id: 'ghost', desiredState: 'shutdown', reason: 'x' }] });
    const inst = store.getInstance('web-1-a');
    assert.equal(inst?.desiredState, 'shutdown');
    assert.equal(inst?.desiredReason, 'scaled down');
    assert.equal(inst?.version, store.revision());
    store.applyControllerWrites({ deleteInstances: ['web-1-a', 'ghost'] });
    assert.equal(store.getInstance('web-1-a'), undefined);
  });

  it('refuses a status that moves an instance backwards and writes the others', () => {
    const store = memoryStore();
    store.applyControllerWrites({ createInstances: [fixtures.instance({ id: 'a' }), fixtures.instance({ id: 'b', slot: 2 })] });
    store.setInstanceStatuses([{ id: 'a', status: fixtures.status('running') }]);
    const result = store.setInstanceStatuses([
      { id: 'a', status: fixtures.status('starting') },
      { id: 'b', status: fixtures.status('pending') },
      { id: 'ghost', status: fixtures.status('running') },
    ]);
    assert.deepEqual(result.written, ['b']);
    assert.deepEqual(result.unknown, ['ghost']);
    assert.equal(result.refused.length, 1);
    assert.equal(result.refused[0]?.code, 'INVALID_TRANSITION');
    assert.equal(store.getInstance('a')?.status.state, 'running');
    assert.equal(store.getInstance('b')?.status.state, 'pending');
    // Terminal states are final.
    store.setInstanceStatuses([{ id: 'a', status: fixtures.status('failed') }]);
    assert.equal(store.setInstanceStatuses([{ id: 'a', status: fixtures.status('running') }]).refused.length, 1);
  });

  it('filters active instances and by node', () => {
    const store = memoryStore();
    store.applyControllerWrites({ createInstances: [fixtures.instance({ id: 'a' }), fixtures.instance({ id: 'b', slot: 2, node: 'other' })] });
    store.setInstanceStatuses([{ id: 'a', status: fixtures.status('complete') }]);
    assert.deepEqual(store.listInstances({ active: true }).map((i) => i.id), ['b']);
    assert.deepEqual(store.listInstances({ node: 'other' }).map((i) => i.id), ['b']);
    assert.equal(store.listInstances().length, 2);
  });

  it('removes a service record only when its instances are gone', () => {
    const store = memoryStore();
    store.createService({ grid: GRID, spec: fixtures.spec(), deploy: true });
    store.applyControllerWrites({ createInstances: [fixtures.instance({ id: 'a' })] });
    store.applyControllerWrites({ deleteServices: [{ grid: GRID, name: 'web' }] });
    assert.ok(store.getService(GRID, 'web'), 'kept while an instance remains');
    store.applyControllerWrites({ deleteInstances: ['a'], deleteServices: [{ grid: GRID, name: 'web' }] });
    assert.equal(store.getService(GRID, 'web'), undefined);
  });

  it('upserts nodes with a new version each time', () => {
    const store = memoryStore();
    const n1 = store.upsertNode({ name: 'local', address: '127.0.0.1', drivers: ['process'], ready: true, heartbeatAt: 'now' });
    const n2 = store.upsertNode({ ...n1, heartbeatAt: 'later' });
    assert.ok(n2.version > n1.version);
    assert.deepEqual(store.listNodes(), [n2]);
  });
});

describe('SqliteStore: events', () => {
  it('numbers events with revisions and filters by afterId, since and tail', () => {
    const store = memoryStore();
    store.appendEvents([1, 2, 3, 4, 5].map((i) => fixtures.event({ message: `e${i}`, time: `2026-01-0${i}T00:00:00Z` })));
    store.appendEvents([fixtures.event({ service: 'other' })]);
    const all = store.listEvents({ grid: GRID, service: 'web' });
    assert.deepEqual(all.map((e) => e.message), ['e1', 'e2', 'e3', 'e4', 'e5']);
    assert.deepEqual(all.map((e) => e.id), [1, 2, 3, 4, 5]);
    assert.deepEqual(store.listEvents({ grid: GRID, service: 'web', afterId: 3 }).map((e) => e.message), ['e4', 'e5']);
    assert.deepEqual(store.listEvents({ grid: GRID, service: 'web', since: '2026-01-02T00:00:00Z', tail: 2 }).map((e) => e.message), ['e4', 'e5']);
    assert.deepEqual(store.listEvents({ grid: GRID, service: 'web', since: '2026-01-04T00:00:00Z' }).map((e) => e.message), ['e4', 'e5']);
    assert.throws(() => store.listEvents({ grid: GRID, service: 'web', since: 'yesterday' }), { code: 'REQUEST_INVALID' });
  });

  it('keeps only the newest events of each service', () => {
    const store = memoryStore({ eventsPerService: 10 });
    for (let i = 0; i < 25; i++) store.appendEvents([fixtures.event({ message: `e${i}` })]);
    store.appendEvents([fixtures.event({ service: 'other' })]);
    const kept = store.listEvents({ grid: GRID, service: 'web' });
    assert.equal(kept.length, 10);
    assert.equal(kept[0]?.message, 'e15');
    assert.equal(store.listEvents({ grid: GRID, service: 'other' }).length, 1);
  });
});

describe('SqliteStore: watch', () => {
  it('replays history from an old revision, then delivers live changes with no gaps or duplicates', () => {
    const store = memoryStore();
    store.createService({ grid: GRID, spec: fixtures.spec(), deploy: false });
    for (let i = 2; i <= 5; i++) store.updateServiceIntent(GRID, 'web', { spec: fixtures.spec({ replicas: i }) });
    const seen: number[] = [];
    let wrote = false;
    store.watch(1, (e) => {
      seen.push(e.revision);
      // A write made while the replay runs must appear exactly once, in order.
      if (!wrote) {
        wrote = true;
        store.appendEvents([fixtures.event()]);
      }
    });
    assert.deepEqual(seen, [2, 3, 4, 5, 6]);
    store.updateServiceIntent(GRID, 'web', { deploy: true });
    store.applyControllerWrites({ createInstances: [fixtures.instance({ id: 'a' }), fixtures.instance({ id: 'b', slot: 2 })] });
    assert.deepEqual(seen, [2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('keeps revision order for every watcher when a listener writes during live delivery', () => {
    const store = memoryStore();
    const first: number[] = [];
    const second: number[] = [];
    store.watch(0, (e) => {
      first.push(e.revision);
      if (e.kind === 'service') store.appendEvents([fixtures.event({ message: `reaction to ${e.revision}` })]);
    });
    store.watch(0, (e) => second.push(e.revision));
    store.createService({ grid: GRID, spec: fixtures.spec(), deploy: false, events: [fixtures.event()] });
    assert.deepEqual(first, [1, 2, 3]);
    assert.deepEqual(second, [1, 2, 3]);
  });

  it('delivers the object after a put and before a delete', () => {
    const store = memoryStore();
    const seen: WatchEvent[] = [];
    store.watch(0, (e) => seen.push(e));
    store.applyControllerWrites({ createInstances: [fixtures.instance({ id: 'a' })] });
    store.applyControllerWrites({ deleteInstances: ['a'] });
    assert.deepEqual(seen.map((e) => [e.kind, e.op, e.key]), [['instance', 'put', 'a'], ['instance', 'delete', 'a']]);
    assert.equal((seen[1]?.object as { version?: number } | undefined)?.version, 1);
    assert.ok(Object.isFrozen(seen[0]) && Object.isFrozen(seen[0]?.object));
  });

  it('refuses a revision older than the kept history with REVISION_COMPACTED', () => {
    const store = memoryStore({ historyRevisions: 10 });
    for (let i = 0; i < 30; i++) store.appendEvents([fixtures.event()]);
    assert.throws(() => store.watch(0, () => {}), { code: 'REVISION_COMPACTED' });
    const seen: number[] = [];
    store.watch(store.revision() - 10, (e) => seen.push(e.revision));
    assert.equal(seen.length, 10);
  });

  it('survives a listener that throws, and keeps the other listeners going', () => {
    const errors: unknown[] = [];
    const logger = { debug() {}, info() {}, warn() {}, error: (f: Record<string, unknown>) => errors.push(f.err), child: () => logger };
    const store = memoryStore({ logger });
    const seen: number[] = [];
    store.watch(0, () => {
      throw new Error('listener bug');
    });
    store.watch(0, (e) => seen.push(e.revision));
    store.appendEvents([fixtures.event()]);
    store.appendEvents([fixtures.event()]);
    assert.deepEqual(seen, [1, 2]);
    assert.equal(errors.length, 2);
  });

  it('stops delivering after dispose', () => {
    const store = memoryStore();
    const seen: number[] = [];
    const sub = store.watch(0, (e) => seen.push(e.revision));
    store.appendEvents([fixtures.event()]);
    void sub.dispose();
    store.appendEvents([fixtures.event()]);
    assert.deepEqual(seen, [1]);
  });

  it('gives each watch event, live and replayed, a line equal to JSON.stringify of it without serializing its object again (watchEventJson)', () => {
    const store = memoryStore();
    const from = store.revision();
    const live: WatchEvent[] = [];
    const sub = store.watch(from, (e) => live.push(e));
    store.createService({ grid: GRID, spec: fixtures.spec(), deploy: true, events: [fixtures.event({ message: 'quote " backslash \\ line separator \u2028 lone surrogate \ud800' })] });
    store.applyControllerWrites({ createInstances: [fixtures.instance({ id: 'a' }), fixtures.instance({ id: 'b', slot: 2 })] });
    store.setInstanceStatuses([{ id: 'a', status: fixtures.status('running') }]);
    store.applyControllerWrites({ deleteInstances: ['b'] });
    void sub.dispose();
    const replayed: WatchEvent[] = [];
    void store.watch(from, (e) => replayed.push(e)).dispose();
    assert.deepEqual(new Set(live.map((e) => `${e.kind} ${e.op}`)), new Set(['service put', 'event put', 'instance put', 'instance delete']));
    assert.equal(replayed.length, live.length);
    for (const e of [...live, ...replayed]) {
      assert.equal(watchEventJson(e), JSON.stringify(e));
      // The text it keeps is not part of its value.
      assert.deepEqual(Object.keys(e), ['revision', 'kind', 'op', 'key', 'object']);
    }
    // Anything else is stringified.
    const plain = { revision: 1, kind: 'node', op: 'put', key: 'n1', object: { name: 'n1' } } as unknown as WatchEvent;
    assert.equal(watchEventJson(plain), JSON.stringify(plain));
  });
});

