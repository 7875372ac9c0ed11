import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Service } from '../model/index.js';
import { explainService } from '../reconcile/index.js';
import { T0, instance, service } from '../../test/fixtures.js';
import { createPalette } from './palette.js';
import { renderExplanation } from './service-why.js';

describe('berth service why (the human view)', () => {
  it('marks a running instance without probes that is not ready (its node is down) instead of showing it plainly running', () => {
    const base = service({ replicas: 2 });
    const svc: Service = { ...base, status: { ...base.status, phase: 'running', desiredInstances: 2, runningInstances: 2, message: '2/2 running' } };
    const instances = [instance({ slot: 1, node: 'a' }), instance({ slot: 2, node: 'b' })];
    const why = explainService(svc, instances, { now: T0 + 60_000, downNodes: new Set(['b']) });
    const lines = renderExplanation('web', why, createPalette(false)).split('\n');
    const [one, two] = [lines.find((l) => /^ {2}web-1 /.test(l)), lines.find((l) => /^ {2}web-2 /.test(l))];
    assert.match(two ?? '', /running +not ready$/, lines.join('\n'));
    assert.match(one ?? '', /running$/, 'a ready one has no mark');
  });
});
