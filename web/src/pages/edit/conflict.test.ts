import { describe, expect, it } from 'vitest';
import type { ServiceSpec } from '../../../../src/model/index.js';
import { parseServiceSpec } from '../../../../src/model/index.js';
import { changedFields, conflictDiff, rebase } from './conflict.js';
import { internetForm } from './internet-form.js';
import { metadataForm } from './metadata-form.js';

const spec = (input: Record<string, unknown>): ServiceSpec => parseServiceSpec({ name: 'web', containers: [{ command: ['sleep', '100'] }], ...input });

describe('a stale edit', () => {
  const opened = metadataForm.read(spec({ labels: { app: 'shop' }, annotations: { 'berth.io/alias': 'Shop' } }));
  const mine = { ...opened, alias: 'Shop front' };
  const current = metadataForm.read(spec({ labels: { app: 'shop', tier: 'web' }, annotations: { 'berth.io/alias': 'The shop' } }));

  it('lists the fields where the user\'s values and the current version\'s differ, as text', () => {
    expect(conflictDiff(mine, current, metadataForm.describe)).toEqual([
      { field: 'alias', mine: 'Shop front', theirs: 'The shop' },
      { field: 'labels', mine: 'app=shop', theirs: 'app=shop, tier=web' },
    ]);
    expect(conflictDiff(current, current, metadataForm.describe)).toEqual([]);
  });

  it('re-applies only what the user changed on top of the current version', () => {
    expect(changedFields(opened, mine, metadataForm.describe)).toEqual(['alias']);
    const rebased = rebase(opened, mine, current, metadataForm.describe);
    expect(rebased.alias).toBe('Shop front');
    expect(rebased.labels).toEqual(current.labels);
  });

  it('compares maps whatever the order of their rows', () => {
    const a = { ...opened, labels: [{ key: 'b', value: '2' }, { key: 'a', value: '1' }] };
    const b = { ...opened, labels: [{ key: 'a', value: '1' }, { key: 'b', value: '2' }] };
    expect(conflictDiff(a, b, metadataForm.describe)).toEqual([]);
  });

  it('keeps the other side\'s node port when the user changed only the type', () => {
    const s = spec({ ports: [{ port: 80 }] });
    const base = internetForm.read(s);
    const minev = { ...base, type: 'LoadBalancer' as const };
    const theirs = { ...base, type: 'NodePort' as const, nodePorts: ['30100'] };
    expect(rebase(base, minev, theirs, internetForm.describe)).toEqual({ ...theirs, type: 'LoadBalancer' });
  });
});
