import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { FakeTelemetry, createApi } from '../api/index.js';
import { adminAuthenticator } from '../api/testing/fixtures.js';
import { openSqliteStore } from '../store/index.js';
import type { SqliteStore } from '../store/index.js';
import { runCli } from './testing/run-cli.js';

/*
 * apply's validation of every document before it changes anything, apply --dry-run and diff, against
 * the real API (in-process, on a loopback port) so that the server's own validation, limits and
 * allocations answer.
 */

const SHOP = `name: api
replicas: 2
containers:
  - command: [node, api.mjs]
---
name: web
containers:
  - command: [node, web.mjs]
    ports: [{ containerPort: 3000 }]
`;

describe('apply --dry-run, diff, and apply validating every document first (real API)', () => {
  let store: SqliteStore;
  let app: FastifyInstance;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const write = (name: string, text: string): string => {
    writeFileSync(join(dir, name), text);
    return name;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-dry-run-'));
  });
  beforeEach(async () => {
    await app?.close();
    store = openSqliteStore(':memory:');
    store.upsertNode({ name: 'node-1', address: '127.0.0.1', drivers: ['process'], ready: true, heartbeatAt: new Date().toISOString() });
    app = createApi({ authenticator: adminAuthenticator, store, telemetry: new FakeTelemetry(), node: 'node-1', version: 'test', instanceRange: '127.12.0.0/28' });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    env = { BERTH_HOST: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}` };
  });
  after(async () => {
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('apply --dry-run says what apply would do and changes nothing', async () => {
    const file = write('shop.yaml', SHOP);
    const revision = store.revision();
    const r = await runCli(['apply', '-f', file, '--dry-run'], { env, cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'service/api created (dry run)\nservice/web created (dry run)\n');
    assert.equal(store.revision(), revision);
    assert.deepEqual(store.listServices(), []);

    assert.equal((await runCli(['apply', '-f', file], { env, cwd: dir })).code, 0);
    const again = await runCli(['apply', '-f', '-', '--dry-run'], { env, cwd: dir, stdinText: SHOP.replace('replicas: 2', 'replicas: 3') });
    assert.equal(again.stdout, 'service/api configured (dry run)\nservice/web unchanged (dry run)\n');
    assert.equal(store.getService('default', 'api')?.spec.replicas, 2);
  });

  it('apply with invalid documents applies none and lists every error with its place in the file', async () => {
    const text = `${SHOP}---
name: big
replicas: 5000
containers: [{ command: x }]
---
name: sneaky
__proto__: { replicas: 3 }
containers: [{ command: x }]
`;
    const file = write('bad.yaml', text);
    const revision = store.revision();
    const r = await runCli(['apply', '-f', file], { env, cwd: dir });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^error: 2 of the 4 services of bad\.yaml are invalid; nothing was changed:\n/);
    assert.match(r.stderr, /\n {2}service\/big \(bad\.yaml, document 3\) is invalid:\n {4}bad\.yaml:12:11: spec\.replicas: Invalid value: 5000: must be an integer from 0 to 1000 \(the server's limit/);
    assert.match(r.stderr, /\n {2}service\/sneaky \(bad\.yaml, document 4\) is invalid:\n {4}bad\.yaml:16:12: spec\.__proto__: a key named "__proto__" is refused/);
    assert.equal(store.revision(), revision, 'not even the valid documents were applied');

    const dry = await runCli(['apply', '-f', file, '--dry-run'], { env, cwd: dir });
    assert.equal(dry.code, 1);
    assert.equal(dry.stderr, r.stderr, 'the dry run reports the same');
  });

  it('apply refuses a file with a deploy the instance range cannot hold, before changing anything', async () => {
    const file = write('wide.yaml', `${SHOP}---\nname: wide\nreplicas: 15\ncontainers: [{ command: x }]\n`);
    const r = await runCli(['apply', '-f', file], { env, cwd: dir });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /service\/wide \(wide\.yaml, document 3\) is invalid:\n {4}wide\.yaml:12:11: spec\.replicas: Invalid value: 15: needs 15 instance address\(es\), but only 14 of the 14 addresses/);
    assert.deepEqual(store.listServices(), []);
  });

  it('diff shows what apply would change: exit 1 with a unified diff, 0 once applied, and changes nothing', async () => {
    const file = write('diff.yaml', SHOP);
    const first = await runCli(['diff', '-f', file], { env, cwd: dir });
    assert.equal(first.code, 1, first.stderr);
    assert.match(first.stdout, /^diff -u -N live\/default\/api merged\/default\/api\n--- live\/default\/api\n\+\+\+ merged\/default\/api\n@@ -0,0 \+1,\d+ @@\n\+name: api\n/);
    assert.match(first.stdout, /\n\+replicas: 2\n/);
    assert.match(first.stdout, /\ndiff -u -N live\/default\/web merged\/default\/web\n/);
    assert.deepEqual(store.listServices(), [], 'diff stored nothing');

    assert.equal((await runCli(['apply', '-f', file], { env, cwd: dir })).code, 0);
    const same = await runCli(['diff', '-f', file], { env, cwd: dir });
    assert.equal(same.code, 0, same.stderr);
    assert.equal(same.stdout, '');

    const revision = store.revision();
    const changed = await runCli(['diff', '-f', '-'], { env, cwd: dir, stdinText: SHOP.replace('replicas: 2', 'replicas: 3') });
    assert.equal(changed.code, 1);
    assert.match(changed.stdout, /^diff -u -N live\/default\/api merged\/default\/api\n--- live\/default\/api\n\+\+\+ merged\/default\/api\n@@ -\d+,\d+ \+\d+,\d+ @@\n/);
    assert.match(changed.stdout, /\n-replicas: 2\n\+replicas: 3\n/);
    assert.doesNotMatch(changed.stdout, /merged\/default\/web/, 'an unchanged service shows no diff');
    assert.doesNotMatch(changed.stdout, /^[-+]clusterIP/m, 'the allocated virtual IP is kept, so it is no change');
    assert.equal(store.revision(), revision);
  });

  it('diff exits 2 on an invalid document, naming it, as kubectl diff does on an error', async () => {
    const r = await runCli(['diff', '-f', '-'], { env, cwd: dir, stdinText: 'name: x\nreplicas: 1001\ncontainers: [{ command: x }]\n' });
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^error: service\/x \(<stdin>, document 1\) is invalid:\n {2}<stdin>:2:11: spec\.replicas: Invalid value: 1001/);
    const unreachable = await runCli(['diff', '-f', '-'], { env: { BERTH_HOST: 'http://127.0.0.1:1' }, cwd: dir, stdinText: SHOP });
    assert.equal(unreachable.code, 2);
  });
});
