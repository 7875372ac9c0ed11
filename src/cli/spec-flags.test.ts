import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import type { SpecFlags } from './spec-flags.js';
import { addSpecOptions, mergeSpecFlags, specFromFlags } from './spec-flags.js';
import { serviceSpec } from './testing/fixtures.js';

/** Parses flags exactly as `service create|update` does. */
function flags(which: 'create' | 'update', args: string[]): SpecFlags {
  const command = addSpecOptions(new Command('x').exitOverride().configureOutput({ writeErr: () => undefined }), which);
  command.parse(args, { from: 'user' });
  return command.opts<SpecFlags>();
}

describe('create flags → spec', () => {
  it('runs --cmd as argv in the current directory when there is no image', () => {
    const { spec } = specFromFlags({ name: 'web' }, flags('create', ['--cmd', `node -e 'console.log("hi")'`]), { cwd: '/work/app' });
    assert.deepEqual(spec, { name: 'web', containers: [{ workingDir: '/work/app', command: ['node', '-e', 'console.log("hi")'], args: [] }] });
  });

  it('sets no working directory for an image unless -w is given', () => {
    const { spec } = specFromFlags({ name: 'db', image: 'redis:7' }, flags('create', []), { cwd: '/work/app' });
    assert.deepEqual(spec, { name: 'db', containers: [{ image: 'redis:7' }] });
  });

  it('resolves a relative -w against the current directory', () => {
    const { spec } = specFromFlags({ name: 'web' }, flags('create', ['--cmd', 'x', '-w', '../site']), { cwd: '/work/app' });
    assert.equal(spec.containers[0]?.workingDir, '/work/site');
  });

  it('maps every Kontena flag onto its spec field', () => {
    const parsed = flags('create', [
      '-p', '8080:80', '-p', '53:53/udp', '-e', 'A=1', '-e', 'B=x=y', '--cmd', 'srv', '--instances', '3', '--stateful',
      '-u', 'nobody', '--stop-signal', 'SIGINT', '--stop-timeout', '30', '--label', 'tier=front', '--label', 'team=a',
      '--restart', 'on-failure', '--restart-delay', '2s', '--restart-max-attempts', '5',
      '--update-parallelism', '2', '--update-delay', '1m', '--update-order', 'start-first', '--deploy-strategy', 'ha',
    ]);
    const { spec } = specFromFlags({ name: 'web' }, parsed, { cwd: '/w' });
    assert.deepEqual(spec, {
      name: 'web',
      mode: 'replicated',
      replicas: 3,
      stateful: true,
      labels: { tier: 'front', team: 'a' },
      containers: [
        {
          workingDir: '/w',
          command: ['srv'],
          args: [],
          env: [{ name: 'A', value: '1' }, { name: 'B', value: 'x=y' }],
          user: 'nobody',
          stopSignal: 'SIGINT',
          stopGracePeriod: '30s',
          ports: [{ containerPort: 80, protocol: 'TCP' }, { containerPort: 53, protocol: 'UDP' }],
        },
      ],
      ports: [
        { name: 'tcp-80', port: 80, targetPort: 80, published: 8080, protocol: 'TCP' },
        { name: 'udp-53', port: 53, targetPort: 53, published: 53, protocol: 'UDP' },
      ],
      restartPolicy: { condition: 'on-failure', delay: '2s', maxAttempts: 5 },
      updateConfig: { parallelism: 2, delay: '1m', order: 'start-first' },
    });
  });

  it('leaves a single service port unnamed and lists a shared container port once', () => {
    const one = specFromFlags({ name: 'web' }, flags('create', ['--cmd', 'x', '-p', '80:8080']), { cwd: '/' }).spec;
    assert.deepEqual(one.ports, [{ port: 8080, targetPort: 8080, published: 80, protocol: 'TCP' }]);
    const two = specFromFlags({ name: 'web' }, flags('create', ['--cmd', 'x', '-p', '80:8080', '-p', '8080:8080']), { cwd: '/' }).spec;
    assert.deepEqual(two.containers[0]?.ports, [{ containerPort: 8080, protocol: 'TCP' }]);
    assert.deepEqual(two.ports, [
      { name: 'tcp-80', port: 80, targetPort: 8080, published: 80, protocol: 'TCP' },
      { name: 'tcp-8080', port: 8080, targetPort: 8080, published: 8080, protocol: 'TCP' },
    ], 'one target published twice: 8080:8080 is service port 8080, the other gets its published number as service port');
    assert.throws(() => specFromFlags({ name: 'web' }, flags('create', ['--cmd', 'x', '-p', '8080:80', '-p', '9090:80', '-p', '9000:9090']), { cwd: '/' }), /-p 9090:80: service port 9090 is taken by another -p value/);
  });

  it('publishes -p PUBLISHED:TARGET on the node as service port TARGET (Kontena, Swarm), unlike --port', () => {
    const { spec } = specFromFlags({ name: 'nginx', image: 'nginx:latest' }, flags('create', ['-p', '80:80']), { cwd: '/' });
    assert.deepEqual(spec, { name: 'nginx', containers: [{ image: 'nginx:latest', ports: [{ containerPort: 80, protocol: 'TCP' }] }], ports: [{ port: 80, targetPort: 80, published: 80, protocol: 'TCP' }] });
    const both = specFromFlags({ name: 'web' }, flags('create', ['--cmd', 'x', '--port', 'http:80:8080', '-p', '38080:8080']), { cwd: '/' }).spec;
    assert.deepEqual(both.ports, [{ name: 'http', port: 80, targetPort: 8080, published: 38080, protocol: 'TCP' }], 'a --port serving the target is the one published');
    const clash = specFromFlags({ name: 'web' }, flags('create', ['--cmd', 'x', '--port', 'admin:8080:9000', '-p', '38080:8080']), { cwd: '/' }).spec;
    assert.deepEqual(clash.ports, [
      { name: 'tcp-38080', port: 38080, targetPort: 8080, published: 38080, protocol: 'TCP' },
      { name: 'admin', port: 8080, targetPort: 9000, protocol: 'TCP' },
    ], 'service port TARGET taken by a --port: the published number serves as service port');
    assert.throws(() => specFromFlags({ name: 'web' }, flags('create', ['--cmd', 'x', '-p', '80:80', '-p', '80:81']), { cwd: '/' }), /tcp port 80 is published twice/);
    const udp = specFromFlags({ name: 'dns' }, flags('create', ['--cmd', 'x', '-p', '5353:53/udp', '-p', '5353:53']), { cwd: '/' }).spec;
    assert.deepEqual(udp.ports?.map((p) => [p.name, p.port, p.published, p.protocol]), [['udp-53', 53, 5353, 'UDP'], ['tcp-53', 53, 5353, 'TCP']]);
  });

  it('runs one instance per node for --deploy-strategy daemon', () => {
    const { spec } = specFromFlags({ name: 'agent' }, flags('create', ['--cmd', 'x', '--deploy-strategy', 'daemon']), { cwd: '/' });
    assert.equal(spec.mode, 'global');
    assert.equal(spec.replicas, undefined);
  });

  it('refuses --instances together with --deploy-strategy daemon', () => {
    assert.throws(() => specFromFlags({ name: 'a' }, flags('create', ['--cmd', 'x', '--deploy-strategy', 'daemon', '--instances', '2']), { cwd: '/' }), /--instances does not apply/);
  });

  it('runs a --cmd with shell syntax through /bin/sh -c, and a plain one directly', () => {
    const loop = specFromFlags({ name: 'busy' }, flags('create', ['--cmd', 'while :; do :; done']), { cwd: '/' }).spec;
    assert.deepEqual(loop.containers?.[0]?.command, ['/bin/sh', '-c', 'while :; do :; done']);
    const pipe = specFromFlags({ name: 'p' }, flags('create', ['--cmd', 'yes | head -n 3']), { cwd: '/' }).spec;
    assert.deepEqual(pipe.containers?.[0]?.command, ['/bin/sh', '-c', 'yes | head -n 3']);
    const plain = specFromFlags({ name: 'web' }, flags('create', ['--cmd', 'python3 -m http.server 8000']), { cwd: '/' }).spec;
    assert.deepEqual(plain.containers?.[0]?.command, ['python3', '-m', 'http.server', '8000']);
    const berthVar = specFromFlags({ name: 'web' }, flags('create', ['--cmd', 'srv --bind $(BERTH_INSTANCE_IP)']), { cwd: '/' }).spec;
    assert.deepEqual(berthVar.containers?.[0]?.command, ['srv', '--bind', '$(BERTH_INSTANCE_IP)'], "berth's $(VAR) needs no shell");
    const envVar = specFromFlags({ name: 'web' }, flags('create', ['--cmd', 'echo "$HOME"']), { cwd: '/' }).spec;
    assert.deepEqual(envVar.containers?.[0]?.command, ['/bin/sh', '-c', 'echo "$HOME"']);
  });

  it('requires --cmd when no image is given, with an example', () => {
    assert.throws(() => specFromFlags({ name: 'web' }, flags('create', []), { cwd: '/' }), /--cmd is required when no IMAGE is given.*--cmd "node server.js"/);
  });

  it('warns that an address in -p is ignored', () => {
    const { warnings } = specFromFlags({ name: 'web' }, flags('create', ['--cmd', 'x', '-p', '127.0.0.1:80:80']), { cwd: '/' });
    assert.match(warnings[0] ?? '', /the address 127\.0\.0\.1 is ignored; berth publishes port 80 on the node's addresses/);
  });

  const badValues: [string[], RegExp][] = [
    [['-p', '80'], /option '-p, --ports .*' argument '80' is invalid/],
    [['-e', 'NOEQUALS'], /option '-e, --env .*' argument 'NOEQUALS' is invalid.*KEY=VALUE/],
    [['--cmd', `echo 'oops`], /option '--cmd <command>' argument .* is invalid.*unterminated single quote/],
    [['--instances', '-1'], /option '--instances <n>' argument '-1' is invalid/],
    [['--stop-timeout', 'soon'], /option '--stop-timeout <duration>' argument 'soon' is invalid/],
    [['--restart', 'always'], /Allowed choices are any, on-failure, none/],
  ];
  for (const [args, message] of badValues) {
    it(`names the flag in the error for ${args.join(' ')}`, () => assert.throws(() => flags('create', args), message));
  }
});

describe('update flags merged into the current spec', () => {
  const current = serviceSpec({
    replicas: 2,
    labels: { tier: 'front' },
    containers: [{ ...serviceSpec().containers[0]!, env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }], ports: [{ containerPort: 80, protocol: 'TCP' }] }],
    ports: [{ port: 80, targetPort: 80, protocol: 'TCP' }],
  });

  it('sets or replaces env by name and labels by key, keeping the rest', () => {
    const { spec } = mergeSpecFlags(current, flags('update', ['-e', 'B=3', '-e', 'C=4', '--label', 'team=a']), { cwd: '/' });
    assert.deepEqual(spec.containers[0]?.env, [{ name: 'A', value: '1' }, { name: 'B', value: '3' }, { name: 'C', value: '4' }]);
    assert.deepEqual(spec.labels, { tier: 'front', team: 'a' });
    assert.equal(spec.replicas, 2);
    assert.deepEqual(spec.containers[0]?.command, ['node', 'server.js']);
  });

  it("takes Kontena's --environment KEY=VALUE (the seed's `kontena service update --environment FOO=BAR nginx`) as -e, in order with it", () => {
    const { spec } = mergeSpecFlags(current, flags('update', ['--environment', 'FOO=BAR', '-e', 'B=3', '--environment', 'B=5']), { cwd: '/' });
    assert.deepEqual(spec.containers[0]?.env, [{ name: 'A', value: '1' }, { name: 'B', value: '5' }, { name: 'FOO', value: 'BAR' }]);
    const created = specFromFlags({ name: 'web', image: 'nginx:latest' }, flags('create', ['--environment', 'FOO=BAR']), { cwd: '/' }).spec;
    assert.deepEqual(created.containers?.[0]?.env, [{ name: 'FOO', value: 'BAR' }]);
  });

  it('replaces the whole port list when -p is given', () => {
    const { spec } = mergeSpecFlags(current, flags('update', ['-p', '9090:9000']), { cwd: '/' });
    assert.deepEqual(spec.containers[0]?.ports, [{ containerPort: 9000, protocol: 'TCP' }]);
    assert.deepEqual(spec.ports, [{ port: 9000, targetPort: 9000, published: 9090, protocol: 'TCP' }]);
  });

  it('sets the image and a new command with its arguments cleared', () => {
    const withArgs = serviceSpec({ containers: [{ ...serviceSpec().containers[0]!, args: ['--old'] }] });
    const { spec } = mergeSpecFlags(withArgs, flags('update', ['--image', 'nginx:1', '--cmd', 'nginx -g "daemon off;"']), { cwd: '/' });
    assert.equal(spec.containers[0]?.image, 'nginx:1');
    assert.deepEqual(spec.containers[0]?.command, ['nginx', '-g', 'daemon off;']);
    assert.deepEqual(spec.containers[0]?.args, []);
  });

  it('does not send back the replicas: 0 a global spec is stored with', () => {
    const { spec } = mergeSpecFlags(serviceSpec({ mode: 'global', replicas: 0 }), flags('update', ['-e', 'A=1']), { cwd: '/' });
    assert.equal('replicas' in spec, false);
  });

  it('refuses --instances for a global service unless switching strategy', () => {
    const global = serviceSpec({ mode: 'global', replicas: 0 });
    assert.throws(() => mergeSpecFlags(global, flags('update', ['--instances', '3']), { cwd: '/' }), /one instance per node/);
    const { spec } = mergeSpecFlags(global, flags('update', ['--instances', '3', '--deploy-strategy', 'ha']), { cwd: '/' });
    assert.equal(spec.mode, 'replicated');
    assert.equal(spec.replicas, 3);
  });

  it('refuses container flags for a service with several containers', () => {
    const two = serviceSpec({ containers: [{ ...serviceSpec().containers[0]!, name: 'a' }, { ...serviceSpec().containers[0]!, name: 'b' }] });
    assert.throws(() => mergeSpecFlags(two, flags('update', ['-e', 'A=1']), { cwd: '/' }), /has 2 containers; --env apply to single-container services only/);
    assert.equal(mergeSpecFlags(two, flags('update', ['--instances', '4']), { cwd: '/' }).spec.replicas, 4);
  });

  it('has no --stateful flag (as Kontena: it cannot change)', () => {
    assert.throws(() => flags('update', ['--stateful']), /unknown option '--stateful'/);
  });
});

describe('--constraint (Swarm\'s placement constraints)', () => {
  it('create sets placement.constraints from every --constraint', () => {
    const { spec } = specFromFlags({ name: 'web' }, flags('create', ['--cmd', 'x', '--constraint', 'node.labels.zone==a', '--constraint', ' node.hostname!=n3 ']), { cwd: '/w' });
    assert.deepEqual(spec.placement, { constraints: ['node.labels.zone==a', 'node.hostname!=n3'] });
  });

  it('update adds to the service\'s constraints and --constraint-rm removes one, keeping the rest of placement', () => {
    const current = serviceSpec({ placement: { constraints: ['node.labels.zone==a', 'node.role==manager'], preferences: [{ spread: 'node.labels.zone' }], platforms: [], maxReplicasPerNode: 2 } });
    const { spec } = mergeSpecFlags(current, flags('update', ['--constraint', 'node.hostname!=n3', '--constraint', 'node.labels.zone==a', '--constraint-rm', 'node.role==manager']), { cwd: '/w' });
    assert.deepEqual(spec.placement, { constraints: ['node.labels.zone==a', 'node.hostname!=n3'], preferences: [{ spread: 'node.labels.zone' }], platforms: [], maxReplicasPerNode: 2 });
  });

  it('refuses a value without == or != as it is read, naming the flag', () => {
    assert.throws(() => flags('create', ['--constraint', 'node.labels.zone=a']), /--constraint <expr>' argument 'node\.labels\.zone=a' is invalid\. "node\.labels\.zone=a": expected key==value or key!=value/);
    assert.throws(() => flags('create', ['--constraint-rm', 'x==y']), /unknown option '--constraint-rm'/);
  });
});


describe('--placement-pref (Swarm\'s spread preferences)', () => {
  it('create sets placement.preferences in order; update adds to them and --placement-pref-rm removes one, keeping the rest of placement', () => {
    const { spec } = specFromFlags({ name: 'web' }, flags('create', ['--cmd', 'x', '--placement-pref', 'spread=node.labels.zone', '--placement-pref', 'spread=node.labels.rack']), { cwd: '/w' });
    assert.deepEqual(spec.placement, { preferences: [{ spread: 'node.labels.zone' }, { spread: 'node.labels.rack' }] });

    const current = serviceSpec({ placement: { constraints: ['node.labels.zone!=c'], preferences: [{ spread: 'node.labels.rack' }], platforms: [], maxReplicasPerNode: 2 } });
    const { spec: updated } = mergeSpecFlags(current, flags('update', ['--placement-pref', 'spread=node.labels.zone', '--placement-pref-rm', 'spread=node.labels.rack']), { cwd: '/w' });
    assert.deepEqual(updated.placement, { constraints: ['node.labels.zone!=c'], preferences: [{ spread: 'node.labels.zone' }], platforms: [], maxReplicasPerNode: 2 });
  });

  it('refuses anything but spread=KEY as it is read, naming the flag', () => {
    assert.throws(() => flags('create', ['--placement-pref', 'node.labels.zone']), /--placement-pref <pref>' argument 'node\.labels\.zone' is invalid\. "node\.labels\.zone": expected spread=KEY/);
    assert.throws(() => flags('create', ['--placement-pref-rm', 'spread=x']), /unknown option '--placement-pref-rm'/);
  });
});
