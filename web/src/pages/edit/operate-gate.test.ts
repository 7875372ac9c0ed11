import { describe, expect, it } from 'vitest';
import type { Identity } from '../../../../src/model/index.js';
import { cannotOperateMessage } from './operate-gate.js';

describe('the read-only reason', () => {
  it('names the role held in the grid and the weakest role that may operate', () => {
    const viewer = { kind: 'user', subject: 'ann', grants: [{ role: 'viewer', grid: 'default' }] } as unknown as Identity;
    expect(cannotOperateMessage(viewer, 'default')).toBe('you cannot change this service: your role is viewer in grid default; operate needs operator or higher');
    expect(cannotOperateMessage(viewer, 'shop')).toBe('you cannot change this service: your role is none in grid shop; operate needs operator or higher');
  });
});
