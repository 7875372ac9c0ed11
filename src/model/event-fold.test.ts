import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NewServiceEvent } from './index.js';
import { FOLDED_IDS, FOLD_FROM, foldRoutineEvents } from './index.js';

const created = (service: string, k: number): NewServiceEvent => ({ grid: 'default', service, type: 'instance.created', severity: 'info', instance: `${service}-${k}-x`, slot: k, message: `${service}.${k} created (new) at 127.10.0.${k}` });

void describe('foldRoutineEvents: a burst of routine events is recorded as one (Kubernetes\' event aggregator)', () => {
  void it('leaves up to FOLD_FROM events of a kind as they are (the same array)', () => {
    const events = Array.from({ length: FOLD_FROM }, (_, k) => created('web', k + 1));
    assert.equal(foldRoutineEvents(events), events);
  });

  void it('folds more than FOLD_FROM of one service and type into one, where the first was; warnings, service events and other services pass as they are, in order', () => {
    const warning: NewServiceEvent = { grid: 'default', service: 'web', type: 'instance.exited', severity: 'warning', instance: 'web-3-x', slot: 3, message: 'web.3 exited with code 1' };
    const deploy: NewServiceEvent = { grid: 'default', service: 'web', type: 'service.deploy', severity: 'info', message: 'deploying generation 2' };
    const other = Array.from({ length: 5 }, (_, k) => created('api', k + 1));
    const burst = Array.from({ length: 12 }, (_, k) => created('web', k + 1));
    const events = [deploy, ...burst.slice(0, 6), warning, ...other, ...burst.slice(6), { ...deploy, time: '2026-01-01T00:00:00Z' }];
    const folded = foldRoutineEvents(events);
    assert.equal(folded.length, 1 + 1 + 1 + 5 + 1);
    assert.equal(folded[0], deploy);
    const one = folded[1] as NewServiceEvent;
    assert.equal(one.type, 'instance.created');
    assert.equal(one.severity, 'info');
    assert.equal(one.instance, undefined);
    assert.equal(one.slot, undefined);
    assert.equal(one.message, '12 × instance.created: web.1 created (new) at 127.10.0.1; web.2 created (new) at 127.10.0.2; web.3 created (new) at 127.10.0.3; … and 9 more');
    assert.deepEqual(one.data, { folded: 12, instances: burst.map((e) => e.instance) });
    assert.equal(folded[2], warning, 'a warning is never folded');
    assert.deepEqual(folded.slice(3, 8), other, 'five of another service stay');
    assert.equal((folded[8] as NewServiceEvent).time, '2026-01-01T00:00:00Z');
  });

  void it('never folds events that name no instance, nor warnings, however many', () => {
    const many: NewServiceEvent[] = Array.from({ length: 30 }, (_, k) => ({ grid: 'default', service: 'web', type: 'instance.created', severity: 'warning', instance: `web-${k}-x`, message: `m${k}` }));
    const serviceLevel: NewServiceEvent[] = Array.from({ length: 30 }, (_, k) => ({ grid: 'default', service: 'web', type: 'service.scaled', severity: 'info', message: `s${k}` }));
    assert.deepEqual(foldRoutineEvents([...many, ...serviceLevel]), [...many, ...serviceLevel]);
  });

  void it('lists at most FOLDED_IDS instance ids, and counts them all', () => {
    const burst = Array.from({ length: 500 }, (_, k) => created('web', k + 1));
    const [one] = foldRoutineEvents(burst);
    assert.equal(one?.data?.['folded'], 500);
    assert.deepEqual(one?.data?.['instances'], burst.slice(0, FOLDED_IDS).map((e) => e.instance));
    assert.match(one?.message ?? '', /… and 497 more$/);
  });

  void it('keeps the first event\'s time', () => {
    const burst = Array.from({ length: 11 }, (_, k) => ({ ...created('web', k + 1), time: `2026-01-01T00:00:${String(k).padStart(2, '0')}Z` }));
    assert.equal(foldRoutineEvents(burst)[0]?.time, '2026-01-01T00:00:00Z');
  });
});
