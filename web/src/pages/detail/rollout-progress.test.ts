import { describe, expect, it } from 'vitest';
import { instance, service } from './fixtures.js';
import { progressText, rolloutProgress } from './rollout-progress.js';

describe('rolloutProgress', () => {
  it('shows nothing without a rollout or once it completed', () => {
    expect(rolloutProgress(service(), [instance()])).toBeUndefined();
    expect(rolloutProgress(service({ update: { state: 'completed', updatedInstances: 3 } }), [instance()])).toBeUndefined();
  });

  it('counts k of n from the update status and pairs old and new instances per slot', () => {
    const s = service({ update: { state: 'updating', generation: 3, fromGeneration: 2, updatedInstances: 1, totalInstances: 3 } });
    const rows = [
      instance({ slot: 1, generation: 3, ready: true }),
      instance({ slot: 2, generation: 2 }),
      instance({ slot: 2, generation: 3, state: 'starting' }),
      instance({ slot: 3, generation: 2 }),
      instance({ slot: 3, generation: 1, state: 'shutdown' }),
    ];
    const p = rolloutProgress(s, rows);
    expect(p).toMatchObject({ state: 'updating', active: true, fromGeneration: 2, toGeneration: 3, updated: 1, total: 3, percent: 33 });
    expect(p && progressText(p)).toBe('1 of 3 updated');
    expect(p?.slots.map((r) => [r.slot, r.old?.generation, r.new?.generation, r.new?.state])).toEqual([
      [1, undefined, 3, 'running'],
      [2, 2, 3, 'starting'],
      [3, 2, undefined, undefined],
    ]);
    expect(p?.slots[0]?.new?.ready).toBe(true);
  });

  it('keeps an instance of an earlier generation with the deployed containers on the new side (a scale replaces nothing)', () => {
    const s = service({ update: { state: 'updating', generation: 3, fromGeneration: 2, updatedInstances: 2, totalInstances: 3 } });
    const p = rolloutProgress(s, [instance({ slot: 1, generation: 2, containersOf: 3 }), instance({ slot: 2, generation: 2, containersOf: 3 }), instance({ slot: 3, generation: 3, state: 'starting' })]);
    expect(p?.slots.map((r) => [r.slot, r.old?.generation, r.new?.generation])).toEqual([
      [1, undefined, 2],
      [2, undefined, 2],
      [3, undefined, 3],
    ]);
  });

  it('reports a paused rollout as not active, with its failed instances', () => {
    const p = rolloutProgress(service({ update: { state: 'paused', updatedInstances: 0, failedInstances: ['web-1-x'], message: 'web-1 failed its readiness probe' } }), []);
    expect(p).toMatchObject({ active: false, failedInstances: ['web-1-x'], percent: 0 });
  });

  it('says rolled back for a rollback and never shows more than n', () => {
    const p = rolloutProgress(service({ update: { state: 'rollback_started', updatedInstances: 5, totalInstances: 3 } }), []);
    expect(p && progressText(p)).toBe('3 of 3 rolled back');
    expect(p?.percent).toBe(100);
  });
});
