import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { openSqliteStore } from '../store/index.js';
import { FakeTelemetry, createApi } from './index.js';
import { adminAuthenticator } from './testing/fixtures.js';
import { OPERATIONS } from './openapi.js';

describe('API: OpenAPI document', () => {
  const app = createApi({ authenticator: adminAuthenticator, store: openSqliteStore(':memory:'), telemetry: new FakeTelemetry(), node: 'node-1', version: '1.2.3' });
  after(() => app.close());

  it('is served as OpenAPI 3.1 with every route of the route table', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/openapi.json' });
    assert.equal(res.statusCode, 200);
    const doc = res.json() as { openapi: string; info: { version: string }; paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
    assert.equal(doc.openapi, '3.1.0');
    assert.equal(doc.info.version, '1.2.3');
    for (const op of OPERATIONS) {
      const documented = doc.paths[op.path]?.[op.method];
      assert.ok(documented, `${op.method} ${op.path} is documented`);
      assert.ok(documented.responses[String(op.answer.status)] && documented.responses['default'], `${op.method} ${op.path} has its answer and the error`);
    }
  });

  it('documents only routes the server serves', () => {
    for (const op of OPERATIONS) {
      const url = op.path.replace(/\{(\w+)\}/g, ':$1');
      assert.ok(app.hasRoute({ method: op.method.toUpperCase() as 'GET', url }), `${op.method} ${url} is served`);
    }
  });

  it('matches the route table of docs/api.md', () => {
    const table = readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8');
    const documented = [...table.matchAll(/^\| (GET|POST|PUT|PATCH|DELETE) \| `([^`]+)` \|/gm)].map(([, method, path]) => `${method} ${(path ?? '').replace(/:(\w+)/g, '{$1}')}`);
    assert.ok(documented.length >= 18);
    assert.deepEqual([...documented].sort(), OPERATIONS.map((op) => `${op.method.toUpperCase()} ${op.path}`).sort());
  });

  it('resolves every $ref to a component, and generates the spec schema from the model', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/v1/openapi.json' })).json() as { components: { schemas: Record<string, Record<string, unknown>> } };
    const refs = new Set<string>();
    JSON.stringify(doc, (key, value: unknown) => {
      if (key === '$ref' && typeof value === 'string') refs.add(value);
      return value;
    });
    for (const ref of refs) {
      const name = ref.replace('#/components/schemas/', '');
      assert.ok(doc.components.schemas[name], `${ref} resolves`);
    }
    const specSchema = doc.components.schemas['ServiceSpecInput'] as { properties: Record<string, { pattern?: string }>; additionalProperties: boolean };
    assert.equal(specSchema.properties['name']?.pattern, '^[a-z]([-a-z0-9]*[a-z0-9])?$');
    assert.equal(specSchema.additionalProperties, false);
    const scale = doc.components.schemas['ScaleRequest'] as { required: string[] };
    assert.deepEqual(scale.required, ['replicas']);
  });
});
