import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import type { SpecFlags } from './spec-flags.js';
import { addSpecOptions, mergeSpecFlags, specFromFlags } from './spec-flags.js';
import { serviceSpec } from './testing/fixtures.js';

/** Parses flags exactly as `service create|update` does; a bad value throws commander's error. */
function flags(which: 'create' | 'update', args: string[]): SpecFlags {
  const command = addSpecOptions(new Command('x').exitOverride().configureOutput({ writeErr: () => undefined }), which);
  command.parse(args, { from: 'user' });
  return command.opts<SpecFlags>();
}

describe('Kontena health-check flags → readiness and liveness probes', () => {
  it('makes one HTTP probe of the first container, used for readiness and liveness, with the timing given', () => {
    const parsed = flags('create', [
      '--cmd', 'srv', '-p', '80:8080', '--health-check-uri', '/health', '--health-check-timeout', '2',
      '--health-check-interval', '5', '--health-check-initial-delay', '0.5',
    ]);
    const { spec } = specFromFlags({ name: 'web' }, parsed, { cwd: '/w' });
    const probe = { httpGet: { path: '/health', port: 8080 }, timeoutSeconds: 2, periodSeconds: 5, initialDelaySeconds: 0.5 };
    assert.deepEqual(spec.containers[0]?.readinessProbe, probe);
    assert.deepEqual(spec.containers[0]?.livenessProbe, probe);
  });

  it('makes a TCP probe on the port given when there is no URI', () => {
    const { spec } = specFromFlags({ name: 'db' }, flags('create', ['--cmd', 'srv', '--health-check-port', '5432']), { cwd: '/' });
    assert.deepEqual(spec.containers[0]?.readinessProbe, { tcpSocket: { port: 5432 } });
  });

  it('changes only what the flags say on update, and replaces the handler on a protocol switch', () => {
    const current = serviceSpec({
      containers: [{ ...serviceSpec().containers[0]!, ports: [{ containerPort: 8080, protocol: 'TCP' }], readinessProbe: { httpGet: { path: '/ready', port: 8080, scheme: 'HTTP', httpHeaders: [] }, initialDelaySeconds: 0, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 5 } }],
    });
    const slower = mergeSpecFlags(current, flags('update', ['--health-check-interval', '30']), { cwd: '/' }).spec;
    assert.deepEqual(slower.containers[0]?.readinessProbe, { httpGet: { path: '/ready', port: 8080 }, timeoutSeconds: 1, periodSeconds: 30, initialDelaySeconds: 0, failureThreshold: 5 });
    assert.deepEqual(slower.containers[0]?.livenessProbe, slower.containers[0]?.readinessProbe);
    const tcp = mergeSpecFlags(current, flags('update', ['--health-check-protocol', 'tcp']), { cwd: '/' }).spec;
    assert.deepEqual(tcp.containers[0]?.readinessProbe?.tcpSocket, { port: 8080 });
    assert.equal(tcp.containers[0]?.readinessProbe?.httpGet, undefined);
  });

  it("probes the one service port's target when the container declares no port", () => {
    const { spec } = specFromFlags({ name: 'web' }, flags('create', ['--cmd', 'srv', '--port', 'http:80:8080', '--health-check-uri', '/h']), { cwd: '/' });
    assert.deepEqual(spec.containers[0]?.readinessProbe, { httpGet: { path: '/h', port: 8080 } });
  });

  it('asks for --health-check-port when the container has no single port to default to', () => {
    assert.throws(() => specFromFlags({ name: 'web' }, flags('create', ['--cmd', 'srv', '--health-check-uri', '/h']), { cwd: '/' }), /--health-check-port is needed: the container has no ports/);
    assert.throws(() => specFromFlags({ name: 'web' }, flags('create', ['--cmd', 'srv', '--health-check-uri', '/h', '--health-check-protocol', 'tcp', '--health-check-port', '80']), { cwd: '/' }), /--health-check-uri applies to --health-check-protocol http/);
  });

  it('refuses health checks for a service without containers, naming the flag', () => {
    assert.throws(() => specFromFlags({ name: 'ext' }, flags('create', ['--external-name', 'db.example.org', '--health-check-port', '80']), { cwd: '/' }), /--health-check-port need a container/);
  });

  it('refuses malformed values as it reads them', () => {
    assert.throws(() => flags('create', ['--health-check-uri', 'health']), /expected a path starting with \//);
    assert.throws(() => flags('create', ['--health-check-port', '70000']), /expected a port number 1-65535 or a container port name/);
    assert.throws(() => flags('create', ['--health-check-interval', 'often']), /expected seconds/);
    assert.throws(() => flags('create', ['--health-check-protocol', 'udp']), /Allowed choices are http, tcp/);
  });
});

describe('Swarm update and rollback flags, Kontena min health, drain timeout', () => {
  it('maps every flag onto updateConfig, rollbackConfig and drainTimeout', () => {
    const parsed = flags('create', [
      '--cmd', 'srv', '--update-parallelism', '2', '--update-delay', '1s', '--update-failure-action', 'rollback', '--update-monitor', '10',
      '--update-max-failure-ratio', '0.25', '--update-order', 'start-first', '--deploy-min-health', '0.8',
      '--rollback-parallelism', '0', '--rollback-delay', '0s', '--rollback-failure-action', 'continue', '--rollback-monitor', '2s',
      '--rollback-max-failure-ratio', '0.5', '--rollback-order', 'stop-first', '--drain-timeout', '30s',
    ]);
    const { spec } = specFromFlags({ name: 'web' }, parsed, { cwd: '/' });
    assert.deepEqual(spec.updateConfig, { parallelism: 2, delay: '1s', failureAction: 'rollback', monitor: '10s', maxFailureRatio: 0.25, order: 'start-first', minHealth: 0.8 });
    assert.deepEqual(spec.rollbackConfig, { parallelism: 0, delay: '0s', failureAction: 'continue', monitor: '2s', maxFailureRatio: 0.5, order: 'stop-first' });
    assert.equal(spec.drainTimeout, '30s');
  });

  it('keeps the other fields of the update config on update', () => {
    const { spec } = mergeSpecFlags(serviceSpec(), flags('update', ['--update-monitor', '30s']), { cwd: '/' });
    assert.deepEqual(spec.updateConfig, { ...serviceSpec().updateConfig, monitor: '30s' });
    assert.deepEqual(spec.rollbackConfig, serviceSpec().rollbackConfig);
  });

  it('refuses a fraction outside 0-1 and a rollback failure action of rollback', () => {
    assert.throws(() => flags('create', ['--deploy-min-health', '1.5']), /expected a fraction from 0 to 1/);
    assert.throws(() => flags('create', ['--update-max-failure-ratio', 'half']), /expected a fraction from 0 to 1/);
    assert.throws(() => flags('create', ['--rollback-failure-action', 'rollback']), /Allowed choices are pause, continue/);
  });
});
