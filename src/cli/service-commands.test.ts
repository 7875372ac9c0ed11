import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { instance, service } from './testing/fixtures.js';
import type { RunOptions } from './testing/run-cli.js';
import { runCli } from './testing/run-cli.js';
import { StubApi } from './testing/stub-api.js';

describe('berth service commands against a stub API', () => {
  const stub = new StubApi();
  const run = (args: string[], options: RunOptions = {}) => runCli(args, { ...options, env: { BERTH_HOST: stub.url, ...options.env } });

  before(() => stub.start());
  after(() => stub.stop());
  beforeEach(() => stub.reset());

  describe('create', () => {
    it('creates without deploying and says how to deploy', async () => {
      const r = await run(['service', 'create', 'web', '--cmd', 'node server.js', '-p', '8080:80']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'service web created (not deployed): run `berth service deploy web`\n');
      const [post] = stub.writes;
      assert.deepEqual(post?.body, {
        spec: {
          name: 'web',
          containers: [{ workingDir: '/work/app', command: ['node', 'server.js'], args: [], ports: [{ containerPort: 80, protocol: 'TCP' }] }],
          ports: [{ port: 80, targetPort: 80, published: 8080, protocol: 'TCP' }],
        },
        deploy: false,
      });
      assert.equal(stub.service('web')?.deployment, null);
    });

    it('names the grid in the hint when it is not the default', async () => {
      const r = await run(['service', 'create', 'web', '--cmd', 'x'], { env: { BERTH_GRID: 'shop' } });
      assert.match(r.stdout, /run `berth service deploy web --grid shop`/);
      assert.ok(stub.service('web', 'shop'));
    });

    it('creates and deploys with --deploy, waiting with one line per instance change when piped', async () => {
      const r = await run(['service', 'create', 'web', '--cmd', 'x', '--instances', '2', '--deploy']);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trim().split('\n');
      assert.equal(lines[0], 'service web created, deploying generation 1');
      assert.ok(lines.includes('web-1 running') && lines.includes('web-2 running'), r.stdout);
      assert.equal(lines[lines.length - 1], 'service web is running: 2/2 instances (generation 1)');
    });

    it('exits 2 naming the flag for a malformed -p, sending nothing', async () => {
      const r = await run(['service', 'create', 'web', '--cmd', 'x', '-p', '80']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /option '-p, --ports .*' argument '80' is invalid/);
      assert.equal(stub.writes.length, 0);
    });

    it('exits 2 when neither IMAGE nor --cmd is given', async () => {
      const r = await run(['service', 'create', 'web']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /^error: --cmd is required when no IMAGE is given/);
    });

    it('prints each cause of an invalid spec on its own line and exits 1', async () => {
      // The stub refuses a container with neither command nor image, as the real schema does.
      const r = await run(['service', 'create', 'db', 'redis:7']);
      assert.equal(r.code, 0, r.stderr);
      const bad = await run(['apply', '-f', '-'], { stdinText: 'name: cache\ncontainers:\n  - name: x\n    user: bob\n' });
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /^error: service\/cache \(<stdin>, document 1\) is invalid:\n {2}<stdin>:3:\d+: spec\.containers\[0\]\.command: Required value\n/);
    });
  });

  describe('update', () => {
    it('merges flags into the current spec, sends the version read, and does not deploy', async () => {
      stub.seed(service({ spec: { name: 'web' }, version: 40, deployedGeneration: 1 }));
      const r = await run(['service', 'update', 'web', '-e', 'GREETING=hi']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'service web updated to generation 2 (not deployed): run `berth service deploy web`\n');
      const put = stub.writes[0];
      assert.equal(put?.method, 'PUT');
      assert.equal((put?.body as { version: number }).version, 40);
      assert.deepEqual(stub.service('web')?.spec.containers[0]?.env, [{ name: 'GREETING', value: 'hi' }]);
      assert.equal(stub.service('web')?.deployment?.generation, 1);
    });

    it('refuses with the 409 message when --version is stale, and exits 1', async () => {
      stub.seed(service({ spec: { name: 'web' }, version: 9 }));
      const r = await run(['service', 'update', 'web', '--env', 'GREETING=hi', '--version', '7']);
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        'error: Operation cannot be fulfilled on service "web": the object has been modified (you sent version 7, it is now at version 9); read it again and apply your changes to the latest version\n',
      );
      assert.equal(stub.service('web')?.generation, 1, 'nothing changed');
    });

    it('says unchanged when the flags change nothing', async () => {
      stub.seed(service({ spec: { name: 'web', replicas: 2 }, deployedGeneration: 1 }));
      const r = await run(['service', 'update', 'web', '--instances', '2']);
      assert.equal(r.stdout, 'service web unchanged (generation 1)\n');
    });

    it('reports an unknown service as not found', async () => {
      const r = await run(['service', 'update', 'nope', '-e', 'A=1']);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, 'error: service "nope" not found in grid "default"\n');
    });
  });

  describe('deploy, scale, start, stop, restart', () => {
    it('deploy waits and shows per-instance lines, then the converged summary', async () => {
      stub.seed(service({ spec: { name: 'web', replicas: 3 } }));
      const r = await run(['service', 'deploy', 'web']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^deploying web generation 1\n/);
      for (const slot of [1, 2, 3]) assert.match(r.stdout, new RegExp(`^web-${slot} running$`, 'm'));
      assert.match(r.stdout, /service web is running: 3\/3 instances \(generation 1\)\n$/);
    });

    it('deploy --no-wait returns at once', async () => {
      stub.converges = false;
      try {
        stub.seed(service({ spec: { name: 'web' } }));
        const r = await run(['service', 'deploy', 'web', '--no-wait', '--force']);
        assert.equal(r.code, 0);
        assert.equal(r.stdout, 'deploying web generation 1 (forced: replacing every instance)\n');
        assert.deepEqual(stub.writes[0]?.body, { force: true });
      } finally {
        stub.converges = true;
      }
    });

    it('exits 1 when the service does not converge within --timeout', async () => {
      stub.converges = false;
      try {
        stub.seed(service({ spec: { name: 'web' } }));
        const r = await run(['service', 'deploy', 'web', '--timeout', '200ms']);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /^error: timed out after 200ms waiting for web to be running/);
      } finally {
        stub.converges = true;
      }
    });

    it('redraws progress in place on a terminal', async () => {
      stub.seed(service({ spec: { name: 'web', replicas: 2 } }));
      stub.stepMs = 100; // slow enough that the wait sees more than one frame, even on a busy machine
      const r = await run(['service', 'deploy', 'web'], { tty: true, env: { NO_COLOR: '1' } }).finally(() => (stub.stepMs = 5));
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /⊛ running/);
      assert.ok(r.stdout.includes('\u001b[2K'), 'erases lines to redraw in place');
    });

    it('scale sets replicas and waits', async () => {
      stub.seed(service({ spec: { name: 'web' }, deployedGeneration: 1 }));
      const r = await run(['service', 'scale', 'web', '4']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(stub.writes[0]?.body, { replicas: 4 });
      assert.match(r.stdout, /service web is running: 4\/4 instances/);
    });

    it('stop and start act on several services and wait for each goal', async () => {
      stub.seed(service({ spec: { name: 'a' }, deployedGeneration: 1 }), [instance({ service: 'a' })]);
      stub.seed(service({ spec: { name: 'b' }, deployedGeneration: 1 }), [instance({ service: 'b' })]);
      const stopped = await run(['service', 'stop', 'a', 'b']);
      assert.equal(stopped.code, 0, stopped.stderr);
      assert.match(stopped.stdout, /service a is stopped\nservice b is stopped\n$/);
      const started = await run(['service', 'start', 'a', 'b']);
      assert.equal(started.code, 0, started.stderr);
      assert.match(started.stdout, /service a is running: 1\/1 instances \(generation 1\)\nservice b is running/);
    });

    it('restart waits until instances of the new restart generation run', async () => {
      stub.seed(service({ spec: { name: 'web' }, deployedGeneration: 1 }), [instance({ service: 'web', id: 'web-1-old' })]);
      const r = await run(['service', 'restart', 'web']);
      assert.equal(r.code, 0, r.stderr);
      const running = stub.instances.get('default/web')?.filter((i) => i.status.state === 'running');
      assert.deepEqual(running?.map((i) => i.restartGeneration), [1]);
    });
  });

  describe('rm', () => {
    it('refuses without --force when stdin is not a terminal, removing nothing', async () => {
      stub.seed(service({ spec: { name: 'web' } }));
      const r = await run(['service', 'rm', 'web']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^error: refusing to remove web without confirmation: stdin is not a terminal; pass --force/);
      assert.equal(stub.writes.length, 0);
    });

    it('asks on a terminal and keeps the service on no', async () => {
      stub.seed(service({ spec: { name: 'web' } }));
      const r = await run(['service', 'rm', 'web'], { stdinTty: true, stdinText: 'n\n' });
      assert.equal(r.code, 0);
      assert.match(r.stderr, /Destroy service web\? \[y\/N\] kept web/);
      assert.equal(stub.writes.length, 0);
    });

    it('removes on yes and waits until the service is gone', async () => {
      stub.seed(service({ spec: { name: 'web' }, deployedGeneration: 1 }), [instance()]);
      const r = await run(['service', 'rm', 'web'], { stdinTty: true, stdinText: 'y\n' });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^removing web\n[\s\S]*service web removed\n$/);
      assert.equal(stub.service('web'), undefined);
    });

    it('removes several with --force without asking', async () => {
      stub.seed(service({ spec: { name: 'a' } }));
      stub.seed(service({ spec: { name: 'b' } }));
      const r = await run(['service', 'rm', '--force', 'a', 'b']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(stub.services.size, 0);
    });
  });
});
