import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import { parseServicePortFlag } from './service-port-flag.js';
import type { SpecFlags } from './spec-flags.js';
import { addSpecOptions, mergeSpecFlags, specFromFlags } from './spec-flags.js';
import { serviceSpec } from './testing/fixtures.js';

/** Parses flags exactly as `service create|update` does. */
function flags(which: 'create' | 'update', args: string[]): SpecFlags {
  const command = addSpecOptions(new Command('x').exitOverride().configureOutput({ writeErr: () => undefined }), which);
  command.parse(args, { from: 'user' });
  return command.opts<SpecFlags>();
}

function create(args: string[]): Record<string, unknown> {
  return specFromFlags({ name: 'web' }, flags('create', ['--cmd', 'srv', ...args]), { cwd: '/w' }).spec as Record<string, unknown>;
}

describe('--port values', () => {
  const cases: [string, ReturnType<typeof parseServicePortFlag>][] = [
    ['80', { port: 80, protocol: 'TCP' }],
    ['80:8080', { port: 80, targetPort: 8080, protocol: 'TCP' }],
    ['80:http', { port: 80, targetPort: 'http', protocol: 'TCP' }],
    ['web:80', { name: 'web', port: 80, protocol: 'TCP' }],
    ['http:80:8080:30080', { name: 'http', port: 80, targetPort: 8080, nodePort: 30080, protocol: 'TCP' }],
    ['dns:53:dns-udp/udp', { name: 'dns', port: 53, targetPort: 'dns-udp', protocol: 'UDP' }],
  ];
  for (const [value, expected] of cases) {
    it(`reads ${value}`, () => assert.deepEqual(parseServicePortFlag(value), expected));
  }

  for (const [value, why] of [
    ['http', /expected \[NAME:\]PORT/],
    ['80:8080:30080:1', /expected \[NAME:\]PORT/],
    ['HTTP:80', /port name "HTTP"/],
    ['80:8080/sctp', /protocol must be tcp or udp/],
    ['70000', /service port must be a number 1-65535/],
    ['80:Bad_Name', /target must be a port number or a container port's name/],
  ] as const) {
    it(`refuses ${value}`, () => assert.throws(() => parseServicePortFlag(value), why));
  }
});

describe('network flags → spec', () => {
  it('maps every network flag onto its Kubernetes Service field', () => {
    const spec = create([
      '--type', 'NodePort', '--port', 'http:80:web:30080', '--port', 'metrics:9090', '--cluster-ip', '127.96.0.10',
      '--session-affinity', 'ClientIP', '--session-affinity-timeout', '600', '--external-ip', '127.0.0.8', '--external-ip', '127.0.0.9',
      '--publish-not-ready',
    ]);
    assert.deepEqual(
      { ...spec, containers: undefined },
      {
        name: 'web',
        containers: undefined,
        type: 'NodePort',
        ports: [
          { name: 'http', port: 80, targetPort: 'web', nodePort: 30080, protocol: 'TCP' },
          { name: 'metrics', port: 9090, protocol: 'TCP' },
        ],
        clusterIP: '127.96.0.10',
        externalIPs: ['127.0.0.8', '127.0.0.9'],
        publishNotReadyAddresses: true,
        sessionAffinity: 'ClientIP',
        sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } },
      },
    );
  });

  it('reads --cluster-ip none as a headless service', () => {
    assert.equal(create(['--cluster-ip', 'none'])['clusterIP'], 'None');
  });

  it('makes --external-name an ExternalName service when no --type is given', () => {
    const spec = create(['--external-name', 'db.example.org.']);
    assert.equal(spec['type'], 'ExternalName');
    assert.equal(spec['externalName'], 'db.example.org');
  });

  it('creates an ExternalName service and a service with hand-set endpoints without containers', () => {
    const alias = specFromFlags({ name: 'mail' }, flags('create', ['--external-name', 'smtp.example.org']), { cwd: '/w' }).spec;
    assert.deepEqual(alias, { name: 'mail', containers: [], type: 'ExternalName', externalName: 'smtp.example.org' });
    const db = specFromFlags({ name: 'db' }, flags('create', ['--port', '5432', '--endpoint', '127.0.0.5:5432', '--endpoint', '127.0.0.6']), { cwd: '/w' }).spec;
    assert.deepEqual(db, { name: 'db', containers: [], ports: [{ port: 5432, protocol: 'TCP' }], endpoints: ['127.0.0.5:5432', '127.0.0.6'] });
  });

  it('refuses container flags for a service without containers', () => {
    assert.throws(
      () => specFromFlags({ name: 'db' }, flags('create', ['--endpoint', '127.0.0.5', '-e', 'A=1']), { cwd: '/w' }),
      /--env need a container: give an IMAGE or --cmd/,
    );
  });

  it('names -p ports when --port values join them, and lists -p ports first', () => {
    const spec = create(['-p', '8080:80', '--port', 'admin:9000']);
    assert.deepEqual(spec['ports'], [
      { name: 'tcp-80', port: 80, targetPort: 80, published: 8080, protocol: 'TCP' },
      { name: 'admin', port: 9000, protocol: 'TCP' },
    ]);
  });

  for (const [args, message] of [
    [['--port', '80:x_y'], /option '--port .*' argument '80:x_y' is invalid/],
    [['--cluster-ip', '10.0.0'], /option '--cluster-ip .*' argument '10\.0\.0' is invalid/],
    [['--external-ip', 'localhost'], /option '--external-ip .*' argument 'localhost' is invalid/],
    [['--session-affinity-timeout', '86401'], /option '--session-affinity-timeout .*' argument '86401' is invalid/],
    [['--type', 'Ingress'], /option '--type <type>' argument 'Ingress' is invalid/],
    [['--endpoint', '127.0.0.5:0'], /option '--endpoint .*' argument '127\.0\.0\.5:0' is invalid/],
    [['--external-name', 'Not A Name'], /option '--external-name .*' argument 'Not A Name' is invalid/],
  ] as const) {
    it(`refuses ${args.join(' ')} naming the flag`, () => {
      assert.throws(() => flags('create', [...args]), message);
    });
  }

  it('refuses a session affinity timeout without ClientIP affinity, and --external-name with another type', () => {
    assert.throws(() => create(['--session-affinity-timeout', '60']), /--session-affinity-timeout applies with --session-affinity ClientIP/);
    assert.throws(() => create(['--type', 'NodePort', '--external-name', 'db.example.org']), /--external-name applies to --type ExternalName, not NodePort/);
  });
});

describe('network flags merged into a stored spec', () => {
  const stored = serviceSpec({
    type: 'NodePort',
    clusterIP: '127.96.0.4',
    ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080, protocol: 'TCP' }],
    sessionAffinity: 'ClientIP',
    sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } },
  });
  const merge = (args: string[]) => mergeSpecFlags(stored, flags('update', args), { cwd: '/w' }).spec;

  it('switches type keeping the ports, and keeps node ports for LoadBalancer', () => {
    const spec = merge(['--type', 'LoadBalancer']);
    assert.equal(spec.type, 'LoadBalancer');
    assert.deepEqual(spec.ports, stored.ports);
    assert.equal(spec.clusterIP, '127.96.0.4');
  });

  it('drops node ports when switching to ClusterIP, as the Kubernetes API server does', () => {
    const spec = merge(['--type', 'ClusterIP']);
    assert.deepEqual(spec.ports, [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }]);
  });

  it('drops the clusterIP and node ports when becoming ExternalName', () => {
    const spec = merge(['--type', 'ExternalName', '--external-name', 'web.example.org']);
    assert.equal(spec.clusterIP, undefined);
    assert.equal(spec.externalName, 'web.example.org');
    assert.equal(spec.ports?.[0]?.nodePort, undefined);
  });

  it('drops the affinity config with --session-affinity None, and --no-publish-not-ready clears the flag', () => {
    const spec = merge(['--session-affinity', 'None', '--no-publish-not-ready']);
    assert.equal(spec.sessionAffinity, 'None');
    assert.equal(spec.sessionAffinityConfig, undefined);
    assert.equal(spec.publishNotReadyAddresses, false);
  });

  it('replaces the port list with --port and leaves the rest as stored', () => {
    const spec = merge(['--port', 'http:8000']);
    assert.deepEqual(spec.ports, [{ name: 'http', port: 8000, protocol: 'TCP' }]);
    assert.equal(spec.type, 'NodePort');
    assert.deepEqual(spec.sessionAffinityConfig, { clientIP: { timeoutSeconds: 60 } });
  });

  it('changes nothing of the network face when no network flag is given', () => {
    const spec = merge(['-e', 'A=1']);
    for (const k of ['type', 'ports', 'clusterIP', 'sessionAffinity', 'sessionAffinityConfig', 'externalIPs', 'publishNotReadyAddresses'] as const) {
      assert.deepEqual(spec[k], stored[k], k);
    }
  });
});
