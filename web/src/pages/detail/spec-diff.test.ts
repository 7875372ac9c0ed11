import { describe, expect, it } from 'vitest';
import { DIFF_VALUE_MAX, specDiff } from './spec-diff.js';

describe('specDiff', () => {
  it('finds nothing for the first version or for equal specs', () => {
    expect(specDiff(undefined, { replicas: 3 })).toEqual([]);
    expect(specDiff({ replicas: 3, labels: { a: '1' } }, { replicas: 3, labels: { a: '1' } })).toEqual([]);
  });
  it('names a changed scalar by its path with both values', () => {
    expect(specDiff({ replicas: 3 }, { replicas: 5 })).toEqual([{ path: 'replicas', kind: 'changed', before: '3', after: '5' }]);
  });
  it('reports one changed env var inside a container, not the whole container list', () => {
    const before = { containers: [{ command: ['node'], env: [{ name: 'PORT', value: '8080' }] }] };
    const after = { containers: [{ command: ['node'], env: [{ name: 'PORT', value: '8080' }, { name: 'HEALTH_STATUS', value: '503' }] }] };
    expect(specDiff(before, after)).toEqual([{ path: 'containers[0].env[1]', kind: 'added', after: '{"name":"HEALTH_STATUS","value":"503"}' }]);
  });
  it('tells added and removed keys apart', () => {
    expect(specDiff({ labels: { a: '1' } }, { labels: { b: '2' } })).toEqual([
      { path: 'labels.b', kind: 'added', after: '"2"' },
      { path: 'labels.a', kind: 'removed', before: '"1"' },
    ]);
  });
  it('treats a value that changes shape (object to string) as one change', () => {
    expect(specDiff({ targetPort: { n: 1 } }, { targetPort: 'http' })).toEqual([{ path: 'targetPort', kind: 'changed', before: '{"n":1}', after: '"http"' }]);
  });
  it('cuts long values', () => {
    const [change] = specDiff({ s: 'x' }, { s: 'y'.repeat(500) });
    expect(change?.after?.length).toBe(DIFF_VALUE_MAX);
    expect(change?.after?.endsWith('…')).toBe(true);
  });
});
