import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createPalette } from './palette.js';
import { renderServiceTable } from './service-ls.js';
import { renderTable } from './table.js';
import { service } from './testing/fixtures.js';
import { runCli } from './testing/run-cli.js';
import { StubApi } from './testing/stub-api.js';

// Built from a string: eslint's no-control-regex forbids the escape character in a literal.
const ANSI = new RegExp(String.raw`\u001b\[`);
const NOW = Date.parse('2026-11-21T15:03:00.000Z');

describe('renderTable', () => {
  it('lines columns up three spaces apart with no borders, colours or trailing blanks', () => {
    const text = renderTable(['NAME', 'STATE'], [['web', 'running'], ['api-long', 'stopped']]);
    assert.equal(text, ['NAME       STATE', 'web        running', 'api-long   stopped'].join('\n'));
    assert.doesNotMatch(text, ANSI);
  });
});

describe('service table', () => {
  const services = [
    service({
      spec: { name: 'api', replicas: 3, type: 'NodePort', clusterIP: '127.96.0.7', ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080, protocol: 'TCP' }, { name: 'dns', port: 53, targetPort: 53, protocol: 'UDP' }] },
      deployedGeneration: 1,
      status: { runningInstances: 2, phase: 'deploying' },
    }),
    service({ spec: { name: 'db', clusterIP: 'None', ports: [{ port: 5432, targetPort: 5432, protocol: 'TCP' }], externalIPs: ['127.0.0.9'] }, deployedGeneration: 1 }),
    service({ spec: { name: 'edge', type: 'LoadBalancer', clusterIP: '127.96.0.8', ports: [{ port: 80, targetPort: 80, nodePort: 30000, protocol: 'TCP' }] }, deployedGeneration: 1 }),
    service({ spec: { name: 'mail', type: 'ExternalName', externalName: 'mail.example.org' }, deployedGeneration: 1 }),
    service({ spec: { name: 'web' }, generation: 2 }),
  ];

  it('shows instances, phase, generation, then type, cluster IP, external IP and ports as kubectl get svc', () => {
    const text = renderServiceTable(services, { now: NOW, palette: createPalette(false), loadBalancers: new Map([['edge', ['127.0.0.1']]]) });
    assert.deepEqual(text.split('\n'), [
      'NAME   INSTANCES   STATE         GENERATION         TYPE           CLUSTER-IP   EXTERNAL-IP        PORTS                 AGE',
      'api    2/3         deploying     1                  NodePort       127.96.0.7   <none>             80:30080/TCP,53/UDP   3m',
      'db     1/1         running       1                  ClusterIP      None         127.0.0.9          5432/TCP              3m',
      'edge   1/1         running       1                  LoadBalancer   127.96.0.8   127.0.0.1          80:30000/TCP          3m',
      'mail   1/1         running       1                  ExternalName   <none>       mail.example.org   <none>                3m',
      'web    0/0         initialized   2 (not deployed)   ClusterIP      <none>       <none>             <none>                3m',
    ]);
  });

  it('shows <pending> for a load balancer whose addresses are not known', () => {
    const text = renderServiceTable(services.slice(2, 3), { now: NOW, palette: createPalette(false) });
    assert.match(text, /LoadBalancer +127\.96\.0\.8 +<pending> +80:30000\/TCP/);
  });

  it('colours the state only with a colour palette', () => {
    assert.match(renderServiceTable(services, { now: NOW, palette: createPalette(true) }), ANSI);
  });
});

describe('berth service ls output', () => {
  const stub = new StubApi();
  before(async () => {
    await stub.start();
    stub.seed(service({ spec: { name: 'web' }, deployedGeneration: 1 }));
  });
  after(() => stub.stop());

  it('has no ANSI codes when stdout is not a terminal', async () => {
    const r = await runCli(['service', 'ls'], { env: { BERTH_HOST: stub.url } });
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^NAME +INSTANCES +STATE/);
    assert.match(r.stdout, /web +1\/1 +running/);
    assert.doesNotMatch(r.stdout, ANSI);
  });

  it('has no ANSI codes on a terminal with NO_COLOR', async () => {
    const r = await runCli(['service', 'ls'], { env: { BERTH_HOST: stub.url, NO_COLOR: '1' }, tty: true });
    assert.doesNotMatch(r.stdout, ANSI);
  });

  it('colours the state on a terminal', async () => {
    const r = await runCli(['service', 'ls'], { env: { BERTH_HOST: stub.url }, tty: true });
    assert.ok(r.stdout.includes('\u001b[32mrunning\u001b[39m'), r.stdout);
  });

  it('prints names only with -q and the objects with -o json', async () => {
    assert.equal((await runCli(['service', 'ls', '-q'], { env: { BERTH_HOST: stub.url } })).stdout, 'web\n');
    const json = JSON.parse((await runCli(['service', 'ls', '-o', 'json'], { env: { BERTH_HOST: stub.url } })).stdout) as { name: string }[];
    assert.deepEqual(json.map((s) => s.name), ['web']);
  });

  it('sends --label filters to the server', async () => {
    await runCli(['service', 'ls', '--label', 'tier=front', '--grid', 'shop'], { env: { BERTH_HOST: stub.url } });
    const last = stub.requests[stub.requests.length - 1];
    assert.equal(last?.path, '/v1/grids/shop/services');
    assert.deepEqual(last?.query.getAll('label'), ['tier=front']);
  });
});
