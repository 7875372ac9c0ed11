import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { service } from './testing/fixtures.js';
import { CapturedStream, FakeInterrupts, runCli } from './testing/run-cli.js';
import { StubApi } from './testing/stub-api.js';

const SHOP = `# two services
name: api
replicas: 2
containers:
  - command: [node, api.mjs]
    ports: [{ containerPort: 8080 }]
---
kind: Service
name: web
containers:
  - command: [node, web.mjs]
    workingDir: site
    ports: [{ containerPort: 3000 }]
`;

const until = async (what: () => boolean): Promise<void> => {
  while (!what()) await new Promise((r) => setTimeout(r, 5));
};

describe('apply, up and down against a stub API', () => {
  const stub = new StubApi();
  let dir: string;
  let file: string;

  before(async () => {
    await stub.start();
    dir = mkdtempSync(join(tmpdir(), 'berth-apply-'));
    file = join(dir, 'shop.yaml');
    writeFileSync(file, SHOP);
  });
  after(async () => {
    await stub.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => stub.reset());

  it('apply creates and deploys, then reports unchanged, then configured', async () => {
    const env = { BERTH_HOST: stub.url };
    const first = await runCli(['apply', '-f', 'shop.yaml'], { env, cwd: dir });
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, 'service/api created\nservice/api deploying generation 1\nservice/web created\nservice/web deploying generation 1\n');
    assert.equal(stub.service('web')?.spec.containers[0]?.workingDir, join(dir, 'site'));
    assert.equal(stub.service('web')?.spec.containers[0]?.name, 'web');

    const again = await runCli(['apply', '-f', file], { env });
    assert.equal(again.stdout, 'service/api unchanged\nservice/web unchanged\n');
    assert.deepEqual(stub.writes.filter((w) => w.path.endsWith('/deploy')).length, 2, 'nothing deployed the second time');

    const changed = await runCli(['apply', '-f', '-'], { env, cwd: dir, stdinText: SHOP.replace('replicas: 2', 'replicas: 3') });
    assert.equal(changed.stdout, 'service/api configured\nservice/api deploying generation 2\nservice/web unchanged\n');
    const put = stub.writes.find((w) => w.method === 'PUT' && w.path.endsWith('/api'));
    assert.equal(typeof (put?.body as { version?: unknown }).version, 'number', 'the update names the version it read');
  });

  it('apply --wait waits until every service runs', async () => {
    const r = await runCli(['apply', '-f', file, '--wait'], { env: { BERTH_HOST: stub.url } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /service api is running: 2\/2 instances \(generation 1\)\nservice web is running: 1\/1 instances \(generation 1\)\n$/);
  });

  it('apply has every document validated by the server first: with one invalid, nothing is applied and every error is listed', async () => {
    const text = 'name: bad\ncontainers:\n  - name: x\n---\nname: good\ncontainers: [{ command: x }]\n---\nname: worse\ncontainers: []\n';
    const r = await runCli(['apply', '-f', '-'], { env: { BERTH_HOST: stub.url }, stdinText: text });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(
      r.stderr,
      'error: 2 of the 3 services of <stdin> are invalid; nothing was changed:\n' +
        '  service/bad (<stdin>, document 1) is invalid:\n' +
        '    <stdin>:3:5: spec.containers[0].command: Required value\n' +
        '  service/worse (<stdin>, document 3) is invalid:\n' +
        '    <stdin>:9:13: spec.containers: Required value\n',
    );
    assert.deepEqual(stub.writes, [], 'nothing was written');
    assert.equal(stub.service('good'), undefined);
    assert.equal(stub.requests.filter((q) => q.query.get('dryRun') === 'All').length, 3, 'each document had its dry run');
  });

  it('apply reports a YAML error with its location and sends nothing', async () => {
    const r = await runCli(['apply', '-f', '-'], { env: { BERTH_HOST: stub.url }, stdinText: 'name: a\n  bad: [\n' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: <stdin>:\d+:\d+: /);
    assert.equal(stub.writes.length, 0);
  });

  it('up starts an embedded server when none answers, follows logs, and on Ctrl-C stops services and server', async () => {
    const embedded = new StubApi();
    const started: { dataDir: string; listen: string }[] = [];
    let stopped = false;
    embedded.logs.set('default/web', [{ time: 't', stream: 'stdout', text: 'listening on 3000', instance: 'web-1-x', slot: 1, container: 'web' }]);
    const interrupts = new FakeInterrupts();
    const stdout = new CapturedStream();
    const running = runCli(['up', '-f', file], {
      stdout,
      env: { BERTH_HOST: 'http://127.0.0.1:9', BERTH_DATA_DIR: '/tmp/berth-data' },
      interrupts,
      launcher: {
        async start(options) {
          started.push(options);
          const url = await embedded.start();
          return {
            url,
            token: 'berth_000000000000_test',
            notices: ['virtual IPs are in 127.96.0.0/16, loopback addresses a container cannot reach'],
            stop: async () => {
              stopped = true;
              await embedded.stop();
            },
          };
        },
      },
    });
    await until(() => stdout.text.includes('listening on 3000') && embedded.requests.filter((r) => r.path.endsWith('/logs')).length === 2);
    assert.deepEqual(started, [{ dataDir: '/tmp/berth-data', listen: '127.0.0.1:9' }]);
    interrupts.fire();
    const r = await running;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /no berth server answers at http:\/\/127\.0\.0\.1:9: starting one in this process \(data in \/tmp\/berth-data\)/);
    // What the operator must hear of at start (berth server prints the same as warnings).
    assert.match(r.stderr, /\nwarning: virtual IPs are in 127\.96\.0\.0\/16, loopback addresses a container cannot reach\n/);
    assert.match(r.stdout, /^service\/api created\n/);
    assert.match(r.stdout, /^api {2}instances: http:\/\/127\.10\.0\.2:8080 http:\/\/127\.10\.0\.3:8080$/m);
    assert.match(r.stdout, /^web {2}instances: http:\/\/127\.10\.0\.2:3000$/m);
    assert.match(r.stdout, /^web-1 \| listening on 3000$/m);
    assert.match(r.stdout, /service api is stopped\nservice web is stopped\n$/);
    assert.deepEqual(embedded.writes.filter((w) => w.path.endsWith('/stop')).map((w) => w.path), [
      '/v1/grids/default/services/api/stop',
      '/v1/grids/default/services/web/stop',
    ]);
    assert.equal(stopped, true, 'the embedded server was stopped');
    assert.equal(interrupts.count, 0);
  });

  it('up --no-follow against a running server returns once the services run, leaving them running', async () => {
    const r = await runCli(['up', '-f', file, '--no-follow'], { env: { BERTH_HOST: stub.url }, interrupts: new FakeInterrupts() });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^web {2}instances: http:\/\/127\.10\.0\.2:3000\n$/m);
    assert.equal(stub.writes.filter((w) => w.path.endsWith('/stop')).length, 0);
    assert.equal(stub.service('web')?.status.phase, 'running');
  });

  it('up starts services of the file that were stopped', async () => {
    stub.seed(service({ spec: { name: 'api', replicas: 2, containers: [{ ...service().spec.containers[0]!, name: 'api' }] }, deployedGeneration: 1, desired: 'stopped', status: { phase: 'stopped' } }));
    const r = await runCli(['up', '-f', file, '--no-follow'], { env: { BERTH_HOST: stub.url }, interrupts: new FakeInterrupts() });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(stub.writes.some((w) => w.path.endsWith('/api/start')));
  });

  it('down removes every service of the file and waits, reporting those not found', async () => {
    stub.seed(service({ spec: { name: 'api' }, deployedGeneration: 1 }));
    const r = await runCli(['down', '-f', file], { env: { BERTH_HOST: stub.url } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^service\/api removing\nservice\/web not found\n/);
    assert.match(r.stdout, /service api removed\n$/);
    assert.equal(stub.services.size, 0);
  });
});
