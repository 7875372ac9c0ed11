import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_AFFINITY_TIMEOUT_SECONDS } from './service-spec.js';
import { parseServiceSpec } from './validate-service-spec.js';

const base = { name: 'web', containers: [{ command: ['node', 'server.js'] }] };

describe('the stored spec of session affinity', () => {
  it('stores the default ClientIP timeout (10800 s, Kubernetes\') when sessionAffinity is ClientIP without a config', () => {
    const spec = parseServiceSpec({ ...base, sessionAffinity: 'ClientIP' });
    assert.equal(DEFAULT_AFFINITY_TIMEOUT_SECONDS, 10_800);
    assert.deepEqual(spec.sessionAffinityConfig, { clientIP: { timeoutSeconds: 10_800 } });
  });

  it('keeps a timeout that is given, and fills one into a config that has none', () => {
    assert.deepEqual(parseServiceSpec({ ...base, sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } }).sessionAffinityConfig, { clientIP: { timeoutSeconds: 60 } });
    assert.deepEqual(parseServiceSpec({ ...base, sessionAffinity: 'ClientIP', sessionAffinityConfig: {} }).sessionAffinityConfig, { clientIP: { timeoutSeconds: 10_800 } });
  });

  it('adds no config without affinity, and parsing the stored spec again changes nothing', () => {
    assert.equal(parseServiceSpec(base).sessionAffinityConfig, undefined);
    const stored = parseServiceSpec({ ...base, sessionAffinity: 'ClientIP' });
    assert.deepEqual(parseServiceSpec(stored), stored);
  });
});
