import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WatchEvent } from './index.js';
import { GRID, fixtures, memoryStore } from './testing/fixtures.js';

void describe('the event table folds a burst of routine events, whoever writes them', () => {
  void it('a controller pass creating 50 instances records one created event naming all 50; 10 are recorded one by one', () => {
    const store = memoryStore();
    store.createService({ grid: GRID, spec: fixtures.spec({ replicas: 60 }), deploy: true });
    const seen: WatchEvent[] = [];
    store.watch(store.revision(), (e) => seen.push(e));
    const burst = Array.from({ length: 50 }, (_, k) => fixtures.instance({ id: `web-${k + 1}-b`, slot: k + 1 }));
    store.applyControllerWrites({ createInstances: burst, events: burst.map((i) => fixtures.event({ type: 'instance.created', instance: i.id, slot: i.slot, message: `web.${i.slot} created` })) });
    const few = Array.from({ length: 10 }, (_, k) => fixtures.instance({ id: `web-${k + 51}-f`, slot: k + 51 }));
    store.applyControllerWrites({ createInstances: few, events: few.map((i) => fixtures.event({ type: 'instance.created', instance: i.id, slot: i.slot, message: `web.${i.slot} created` })) });
    const events = store.listEvents({ grid: GRID, service: 'web' }).filter((e) => e.type === 'instance.created');
    assert.equal(events.length, 1 + 10);
    assert.deepEqual(events[0]?.data, { folded: 50, instances: burst.map((i) => i.id) });
    assert.match(events[0]?.message ?? '', /^50 × instance\.created: web\.1 created; web\.2 created; web\.3 created; … and 47 more$/);
    assert.deepEqual(events.slice(1).map((e) => e.instance), few.map((i) => i.id));
    assert.equal(store.listInstances({ grid: GRID, service: 'web' }).length, 60, 'every instance is written');
    assert.equal(seen.filter((e) => e.kind === 'event').length, 11, 'watchers see what was recorded');
  });

  void it('agents\' status reports fold the same way (instance.started), warnings stay one per instance', () => {
    const store = memoryStore();
    store.createService({ grid: GRID, spec: fixtures.spec({ replicas: 20 }), deploy: true });
    const all = Array.from({ length: 20 }, (_, k) => fixtures.instance({ id: `web-${k + 1}-s`, slot: k + 1 }));
    store.applyControllerWrites({ createInstances: all });
    store.setInstanceStatuses(
      all.map((i) => ({ id: i.id, status: fixtures.status('running') })),
      [...all.map((i) => fixtures.event({ type: 'instance.started', instance: i.id, message: `${i.id} started` })), ...all.slice(0, 12).map((i) => fixtures.event({ type: 'instance.unhealthy', severity: 'warning', instance: i.id, message: `${i.id} unhealthy` }))],
    );
    const events = store.listEvents({ grid: GRID, service: 'web' });
    assert.equal(events.filter((e) => e.type === 'instance.started').length, 1);
    assert.equal(events.filter((e) => e.type === 'instance.unhealthy').length, 12);
  });
});
