import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { service } from './testing/fixtures.js';
import type { RunOptions } from './testing/run-cli.js';
import { runCli } from './testing/run-cli.js';
import { StubApi } from './testing/stub-api.js';

describe('berth service rm and the data directories of a stateful service', () => {
  const stub = new StubApi();
  const run = (args: string[], options: RunOptions = {}) => runCli(args, { ...options, env: { BERTH_HOST: stub.url, ...options.env } });
  before(() => stub.start());
  after(() => stub.stop());
  beforeEach(() => {
    stub.reset();
    stub.seed(service({ spec: { name: 'db', replicas: 2, stateful: true }, deployedGeneration: 1 }));
    stub.volumes.push(
      { grid: 'default', service: 'db', slot: 1, node: 'node-1', path: '/data/volumes/default/db/1' },
      { grid: 'default', service: 'db', slot: 2, node: 'node-1', path: '/data/volumes/default/db/2' },
      { grid: 'default', service: 'other', slot: 1, node: 'node-1', path: '/data/volumes/default/other/1' },
    );
  });

  it('lists the data directories it keeps, and says how to remove a service with its data', async () => {
    const r = await run(['service', 'rm', '--force', 'db']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^removing db; its data directories are kept \(a new service named db would find and use them\):\n {2}node-1:\/data\/volumes\/default\/db\/1\n {2}node-1:\/data\/volumes\/default\/db\/2\n/);
    assert.match(r.stderr, /`berth service rm --volumes db` removes a service together with its data/);
    const del = stub.writes.find((w) => w.method === 'DELETE');
    assert.equal(del?.query.get('volumes'), null, 'the data is kept by default');
    assert.equal(stub.volumes.length, 3);
  });

  it('--volumes removes them with the service', async () => {
    const r = await run(['service', 'rm', '--force', '--volumes', 'db']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^removing db and its data directories:\n {2}node-1:\/data\/volumes\/default\/db\/1\n {2}node-1:\/data\/volumes\/default\/db\/2\n[\s\S]*service db removed\n$/);
    assert.equal(stub.writes.find((w) => w.method === 'DELETE')?.query.get('volumes'), 'true');
    assert.deepEqual(stub.volumes.map((v) => v.service), ['other']);
  });

  it('says nothing about data for a service that has none', async () => {
    stub.seed(service({ spec: { name: 'web' }, deployedGeneration: 1 }));
    const r = await run(['service', 'rm', '--force', 'web']);
    assert.match(r.stdout, /^removing web\n/);
    assert.equal(r.stderr, '');
  });

  it('refuses --volumes with --instance (a slot keeps its data across instances)', async () => {
    const r = await run(['service', 'rm', '--force', '--volumes', '--instance', '1', 'db']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error: --volumes removes the data of whole services/);
  });
});
