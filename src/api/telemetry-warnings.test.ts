import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { LogLine, ServiceSpecInput } from '../model/index.js';
import { parseServiceSpec } from '../model/index.js';
import { openSqliteStore } from '../store/index.js';
import { FakeTelemetry, createApi } from './index.js';
import { StreamWarningSchema } from './response-schemas.js';
import { adminAuthenticator, newInstance } from './testing/fixtures.js';

/*
 * The API's side of a node whose agent did not answer (docs/node-telemetry.md): a `{"warning": …}` line
 * in the logs stream and `unreachable` in stats, while the other nodes' lines and stats still come.
 */

const BASE = '/v1/grids/default/services/web';
const spec: ServiceSpecInput = { name: 'web', replicas: 2, containers: [{ command: ['node', 'server.js'] }] };
const line = (instance: string, slot: number, time: string, text: string): LogLine => ({ time, stream: 'stdout', text, instance, slot, container: 'web' });

function setup() {
  const store = openSqliteStore(':memory:');
  const telemetry = new FakeTelemetry();
  const app = createApi({ authenticator: adminAuthenticator, store, telemetry, node: 'node-1', version: 'test' });
  after(() => app.close());
  store.createService({ grid: 'default', spec: parseServiceSpec(spec), deploy: true });
  store.applyControllerWrites({ createInstances: [newInstance({ id: 'web-1-a', slot: 1 }), newInstance({ id: 'web-2-a', slot: 2 })] });
  telemetry.lines = [line('web-1-a', 1, '2026-03-01T12:00:01.000000000Z', 'one'), line('web-2-a', 2, '2026-03-01T12:00:02.000000000Z', 'two')];
  telemetry.unreachable = [{ node: 'vm-b', reason: 'connect ECONNREFUSED 10.0.0.3:10250', instances: ['web-2-a'] }];
  return { store, telemetry, app };
}

describe('a node whose agent did not answer', () => {
  it('is named by a warning line of the logs stream, and the other lines still come', async () => {
    const { app } = setup();
    const res = await app.inject({ url: `${BASE}/logs` });
    assert.equal(res.statusCode, 200);
    const values = res.body.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(values.map((v) => ('warning' in v ? 'warning' : v.text)), ['warning', 'one']);
    const warning = StreamWarningSchema.parse(values[0]);
    assert.equal(warning.warning.code, 'LOGS_UNAVAILABLE');
    assert.deepEqual(warning.warning.details, { node: 'vm-b', reason: 'connect ECONNREFUSED 10.0.0.3:10250', instances: ['web-2-a'] });
    assert.equal(warning.warning.message, 'node vm-b did not answer (connect ECONNREFUSED 10.0.0.3:10250): the logs of its instance are not shown');
    // With events, too.
    const timeline = await app.inject({ url: `${BASE}/logs?events=true` });
    assert.ok(timeline.body.split('\n').some((l) => l.startsWith('{"warning":')), timeline.body);
  });

  it("is named in stats' unreachable, and its instances are left out", async () => {
    const { app, store } = setup();
    store.setInstanceStatuses([{ id: 'web-1-a', status: { state: 'running' } }, { id: 'web-2-a', status: { state: 'running' } }] as never, []);
    const res = await app.inject({ url: `${BASE}/stats` });
    assert.equal(res.statusCode, 200);
    const body = res.json() as { items: { instance: string }[]; unreachable: unknown[] };
    assert.deepEqual(body.items.map((i) => i.instance), ['web-1-a']);
    assert.deepEqual(body.unreachable, [{ node: 'vm-b', reason: 'connect ECONNREFUSED 10.0.0.3:10250', instances: ['web-2-a'] }]);
  });
});
