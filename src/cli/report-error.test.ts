import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BerthApiError } from '../client/index.js';
import { errorLines } from './report-error.js';

describe('errorLines', () => {
  it("names the field of a request's cause (REQUEST_INVALID causes do not start with it)", () => {
    const limit = "must be no more than 1000 (the server's limit of replicas per service)";
    const error = new BerthApiError(400, 'REQUEST_INVALID', `replicas: ${limit}`, { causes: [{ field: 'replicas', message: limit }] });
    assert.deepEqual(errorLines(error), [`error: replicas: ${limit}`]);
  });

  it('lists several causes of a request under one head, each with its field', () => {
    const error = new BerthApiError(400, 'REQUEST_INVALID', 'replicas: …', { causes: [{ field: 'replicas', message: 'expected a number' }, { field: 'version', message: 'expected an integer' }] });
    assert.deepEqual(errorLines(error), ['error: invalid request:', '  replicas: expected a number', '  version: expected an integer']);
  });

  it("keeps a spec's causes as the server wrote them, under the object it names", () => {
    const error = new BerthApiError(422, 'SPEC_INVALID', 'Service "web" is invalid: spec.name: Too long', { causes: [{ field: 'spec.name', message: 'spec.name: Too long' }] });
    assert.deepEqual(errorLines(error), ['error: Service "web" is invalid:', '  spec.name: Too long']);
  });
});
