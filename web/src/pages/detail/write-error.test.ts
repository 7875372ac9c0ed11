import { describe, expect, it } from 'vitest';
import { BerthApiError } from '../../../../src/client/index.js';
import { describeWriteError } from './write-error.js';

describe('describeWriteError', () => {
  it('says a version conflict with the version acted on and the current one', () => {
    const e = new BerthApiError(409, 'VERSION_CONFLICT', 'service web is at version 12, not 10', { expectedVersion: 10, currentVersion: 12 });
    const text = describeWriteError(e);
    expect(text).toMatch(/^Conflict/);
    expect(text).toContain('version 10');
    expect(text).toContain('now at version 12');
  });
  it('lists the causes of an invalid spec and passes other errors through', () => {
    const e = new BerthApiError(422, 'SPEC_INVALID', 'invalid spec', { causes: [{ field: 'replicas', message: 'replicas: must be ≥ 0' }] });
    expect(describeWriteError(e)).toBe('invalid spec\n• replicas: must be ≥ 0');
    expect(describeWriteError(new Error('boom'))).toBe('boom');
  });
});
