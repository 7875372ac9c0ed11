import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import * as model from '../model/index.js';
import { WORKLOAD_FIELDS, deployStateOf, describeNetworkOnly } from './deploy-state-view.js';
import { service } from './testing/fixtures.js';
import type { RunOptions } from './testing/run-cli.js';
import { runCli } from './testing/run-cli.js';
import { StubApi } from './testing/stub-api.js';

describe('the CLI\'s copy of model/deploy-state.ts', () => {
  it('names the same workload fields and gives the same answers', () => {
    assert.deepEqual(WORKLOAD_FIELDS, model.WORKLOAD_FIELDS);
    const deployed = service({ deployedGeneration: 1 });
    const cases = [
      service(),
      deployed,
      { ...deployed, spec: { ...deployed.spec, replicas: 3, type: 'NodePort' as const } },
      { ...deployed, spec: { ...deployed.spec, externalIPs: ['127.0.0.9'], labels: { a: 'b' } } },
      service({ spec: { containers: [], endpoints: ['10.0.0.1:5432'] } }),
      service({ spec: { containers: [], selector: { app: 'shop' } } }),
      service({ spec: { containers: [], type: 'ExternalName', externalName: 'db.example.org' } }),
    ];
    for (const s of cases) {
      assert.deepEqual(deployStateOf(s), model.deployStateOf(s));
      assert.equal(describeNetworkOnly(s.spec), model.describeNetworkOnly(s.spec));
    }
    assert.deepEqual(deployStateOf(cases[2]!), { kind: 'behind', fields: ['replicas'] });
    assert.deepEqual(deployStateOf(cases[3]!), { kind: 'deployed' });
  });
});

describe('what the CLI says a change did', () => {
  const stub = new StubApi();
  const run = (args: string[], options: RunOptions = {}) => runCli(args, { ...options, env: { BERTH_HOST: stub.url, ...options.env } });
  before(() => stub.start());
  after(() => stub.stop());
  beforeEach(() => stub.reset());

  it('a network change of a deployed service is in effect now, not "(not deployed)"', async () => {
    stub.seed(service({ spec: { name: 'web' }, deployedGeneration: 1 }));
    const typed = await run(['service', 'update', 'web', '--type', 'NodePort']);
    assert.equal(typed.code, 0, typed.stderr);
    assert.equal(typed.stdout, 'service web updated to generation 2: network changed, in effect now (nothing to deploy)\n');
    const ips = await run(['service', 'update', 'web', '--external-ip', '127.0.0.55']);
    assert.equal(ips.stdout, 'service web updated to generation 3: network changed, in effect now (nothing to deploy)\n');
    assert.equal(stub.service('web')?.deployment?.generation, 1, 'nothing was deployed');

    const ls = await run(['service', 'ls']);
    assert.match(ls.stdout, /^web +1\/1 +running +3 +NodePort/m, 'no "(deployed 1)": nothing waits for a deploy');
    const shown = await run(['service', 'show', 'web']);
    assert.match(shown.stdout, / {2}deployed generation: 1, requested \S+ ago; generation 3 changed only what is in effect at once \(network, labels\)\n/);
  });

  it('a workload change still waits for deploy, and a network change made with it is said to be in effect', async () => {
    stub.seed(service({ spec: { name: 'web' }, deployedGeneration: 1 }));
    const r = await run(['service', 'update', 'web', '-e', 'A=1', '--external-ip', '127.0.0.56']);
    assert.equal(r.stdout, 'service web updated to generation 2 (not deployed): run `berth service deploy web`; its network change is in effect now\n');
    const ls = await run(['service', 'ls']);
    assert.match(ls.stdout, /^web +1\/1 +running +2 \(deployed 1\)/m);
    const shown = await run(['service', 'show', 'web']);
    assert.match(shown.stdout, / {2}deployed generation: 1, requested \S+ ago; generation 2 not deployed \(containers changed\): run `berth service deploy web`\n/);
  });

  it('a placement change waits for deploy: the controllers place and move instances by the deployed placement (docs/rollouts.md)', async () => {
    stub.seed(service({ spec: { name: 'web' }, deployedGeneration: 1 }));
    const r = await run(['service', 'update', 'web', '--constraint', 'node.labels.zone==b']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'service web updated to generation 2 (not deployed): run `berth service deploy web`\n');
    const shown = await run(['service', 'show', 'web']);
    assert.match(shown.stdout, / {2}deployed generation: 1, requested \S+ ago; generation 2 not deployed \(placement changed\): run `berth service deploy web`\n/);
  });

  it('a service without containers is serving from its creation, not "not deployed"', async () => {
    const created = await run(['service', 'create', 'ext', '--endpoint', '127.0.0.1:5432', '--port', '5432']);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stdout, 'service ext created: no containers: serves 1 endpoint set by hand, in effect now (nothing to deploy)\n');
    const shown = await run(['service', 'show', 'ext']);
    assert.doesNotMatch(shown.stdout, /not deployed/);
    assert.match(shown.stdout, / {2}deployed generation: - \(no containers: the network face is in effect as stored, nothing to deploy\)\n/);
    assert.match(shown.stdout, / {2}instances: none \(no containers\)\n$/);
    const ls = await run(['service', 'ls']);
    assert.match(ls.stdout, /^ext +\S+ +\S+ +1 +ClusterIP/m);
    const updated = await run(['service', 'update', 'ext', '--external-ip', '127.0.0.57']);
    assert.equal(updated.stdout, 'service ext updated to generation 2: network changed, in effect now (nothing to deploy)\n');
  });
});
