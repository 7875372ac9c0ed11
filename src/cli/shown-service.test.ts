import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { instance, service } from './testing/fixtures.js';
import type { RunOptions } from './testing/run-cli.js';
import { runCli } from './testing/run-cli.js';
import { StubApi } from './testing/stub-api.js';

describe('apply takes back what show prints', () => {
  const stub = new StubApi();
  const run = (args: string[], options: RunOptions = {}) => runCli(args, { ...options, env: { BERTH_HOST: stub.url, ...options.env } });
  before(() => stub.start());
  after(() => stub.stop());
  beforeEach(() => {
    stub.reset();
    stub.seed(service({ spec: { name: 'web', replicas: 2 }, deployedGeneration: 1 }), [instance({ slot: 1 }), instance({ slot: 2 })]);
  });

  for (const format of ['yaml', 'json'] as const) {
    it(`show -o ${format} | apply -f - changes nothing, and an edited copy applies`, async () => {
      const shown = await run(['service', 'show', 'web', '-o', format]);
      assert.equal(shown.code, 0, shown.stderr);
      const same = await run(['apply', '-f', '-'], { stdinText: shown.stdout });
      assert.equal(same.code, 0, same.stderr);
      assert.equal(same.stdout, 'service/web unchanged\n');

      const edited = format === 'yaml' ? shown.stdout.replace(/^ {2}replicas: 2$/m, '  replicas: 4') : shown.stdout.replace('"replicas": 2', '"replicas": 4');
      assert.notEqual(edited, shown.stdout);
      const applied = await run(['apply', '-f', '-'], { stdinText: edited });
      assert.equal(applied.code, 0, applied.stderr);
      assert.match(applied.stdout, /^service\/web configured\nservice\/web deploying generation 2\n$/);
      assert.equal(stub.service('web')?.spec.replicas, 4);
    });
  }
});
