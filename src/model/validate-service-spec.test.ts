import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FieldError } from './field-error.js';
import { SpecInvalidError } from './errors.js';
import { parseServiceSpec } from './validate-service-spec.js';

function causes(input: unknown): FieldError[] {
  try {
    parseServiceSpec(input);
  } catch (e) {
    assert.ok(e instanceof SpecInvalidError, String(e));
    return [...e.causes];
  }
  assert.fail('expected the spec to be refused');
}

const base = { name: 'web', containers: [{ command: ['node', 'server.js'] }] };

describe('parseServiceSpec', () => {
  it('fills in defaults and normalizes the lenient input forms', () => {
    const spec = parseServiceSpec({ name: 'web', instances: 3, containers: [{ command: 'node server.js', env: { PORT: 8080, DEBUG: true } }] });
    assert.equal(spec.replicas, 3, "Kontena's instances is read as replicas");
    assert.equal(spec.mode, 'replicated');
    assert.equal(spec.type, 'ClusterIP');
    const [c] = spec.containers;
    assert.equal(c?.name, 'web', 'a single container is named after the service');
    assert.deepEqual(c?.command, ['/bin/sh', '-c', 'node server.js']);
    assert.deepEqual(c?.env, [{ name: 'PORT', value: '8080' }, { name: 'DEBUG', value: 'true' }]);
    assert.equal(c?.stopSignal, 'SIGTERM');
    assert.equal(c?.stopGracePeriod, '10s');
    assert.equal(spec.restartPolicy.condition, 'any');
    assert.equal(spec.updateConfig.parallelism, 1);
    assert.equal(parseServiceSpec({ ...base, mode: 'global' }).replicas, 0, 'global services have no replica count');
  });

  it('takes a service without containers as a Kubernetes Service is written, with no containers field: a selector, endpoints or an ExternalName', () => {
    const selector = parseServiceSpec({ name: 'shop', selector: { app: 'shop' }, ports: [{ port: 8080, targetPort: 80 }] });
    assert.deepEqual([selector.containers, selector.selector], [[], { app: 'shop' }]);
    const named = parseServiceSpec({ name: 'shop', selector: { app: 'shop' }, ports: [{ name: 'http', port: 8080, targetPort: 'http' }] });
    assert.equal(named.ports[0]?.targetPort, 'http', "with a selector a named targetPort names the selected instances' container port, as in Kubernetes");
    assert.deepEqual(
      causes({ name: 'db', endpoints: ['10.0.0.1'], ports: [{ port: 5432, targetPort: 'pg' }] }).map((c) => `${c.field}: ${c.type}`),
      ['spec.ports[0].targetPort: Invalid value'],
      'hand-set endpoints have no container ports to name',
    );
    assert.deepEqual(parseServiceSpec({ name: 'db', endpoints: ['10.0.0.1:5432'], ports: [{ port: 5432 }] }).containers, []);
    assert.deepEqual(parseServiceSpec({ name: 'ext', type: 'ExternalName', externalName: 'db.example.org' }).containers, []);
    assert.deepEqual(
      causes({ name: 'web', ports: [{ port: 80 }] }).map((c) => `${c.field}: ${c.type}`),
      ['spec.containers: Required value'],
      'a service that says nothing of what serves it still needs its containers',
    );
  });

  it('reads a stop signal without SIG and in lower case', () => {
    assert.equal(parseServiceSpec({ name: 'web', containers: [{ command: ['x'], stopSignal: 'quit' }] }).containers[0]?.stopSignal, 'SIGQUIT');
  });

  it('reports every unknown field, not only the first', () => {
    const found = causes({ ...base, replica: 3, imagee: 'x' });
    assert.deepEqual(found.map((c) => [c.field, c.type]), [['spec.replica', 'Unknown field'], ['spec.imagee', 'Unknown field']]);
    assert.match(found[0]?.detail ?? '', /no field "replica"/);
  });

  it('keeps free-text annotations and refuses a bad key, a value too long and too many, naming each', () => {
    const alias = 'Boutique — front (été)\nsecond line';
    assert.deepEqual(parseServiceSpec({ ...base, annotations: { 'berth.io/alias': alias } }).annotations, { 'berth.io/alias': alias });
    assert.equal(parseServiceSpec(base).annotations, undefined);
    assert.equal(causes({ ...base, annotations: { 'bad key!': 'x' } })[0]?.field, 'spec.annotations["bad key!"]');
    assert.equal(causes({ ...base, annotations: { note: 'x'.repeat(4097) } })[0]?.field, 'spec.annotations.note');
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
    assert.equal(causes({ ...base, annotations: many })[0]?.field, 'spec.annotations');
  });

  it('names a bad label key in brackets and says what a label key looks like', () => {
    const [cause] = causes({ ...base, labels: { 'bad key!': 'x' } });
    assert.equal(cause?.field, 'spec.labels["bad key!"]');
    assert.equal(cause?.value, 'bad key!');
    assert.match(cause?.detail ?? '', /a label key must be/);
  });

  it('explains a bad label value even when the key ends in "name"', () => {
    const [cause] = causes({ ...base, labels: { 'app-name': 'not ok' } });
    assert.equal(cause?.field, 'spec.labels["app-name"]');
    assert.match(cause?.detail ?? '', /a label value must be/);
  });

  it('explains a targetPort that is neither a number nor a port name', () => {
    const [cause] = causes({ ...base, ports: [{ port: 80, targetPort: 'Not_A_Name' }] });
    assert.equal(cause?.field, 'spec.ports[0].targetPort');
    assert.match(cause?.detail ?? '', /port number \(1-65535\) or the name of a container port/);
  });

  it('gives DNS-1035 advice for a bad service name and port-name advice for a bad port name', () => {
    assert.match(causes({ ...base, name: 'Web' })[0]?.detail ?? '', /DNS-1035 label/);
    const [port] = causes({ name: 'web', containers: [{ command: ['x'], ports: [{ name: 'HTTP', containerPort: 80 }] }] });
    assert.equal(port?.field, 'spec.containers[0].ports[0].name');
    assert.match(port?.detail ?? '', /a port name must be/);
  });

  it('asks for a name on every port of a multi-port service', () => {
    const found = causes({ ...base, ports: [{ port: 80 }, { port: 81 }] });
    assert.deepEqual(found.map((c) => `${c.field}: ${c.type}`), ['spec.ports[0].name: Required value', 'spec.ports[1].name: Required value']);
  });

  it('renders each cause as a kubectl-style message in the error details', () => {
    try {
      parseServiceSpec({ ...base, replicas: -1 });
      assert.fail('expected a refusal');
    } catch (e) {
      assert.ok(e instanceof SpecInvalidError);
      assert.deepEqual((e.details['causes'] as { message: string }[]).map((c) => c.message), ['spec.replicas: Invalid value: -1: must be greater than or equal to 0']);
      assert.match(e.message, /^Service "web" is invalid: spec\.replicas/);
    }
  });

  it('uses the given root in field paths', () => {
    assert.equal(causes({ name: 'web' })[0]?.field, 'spec.containers');
    try {
      parseServiceSpec({ name: 'web' }, 'services[2]');
      assert.fail('expected a refusal');
    } catch (e) {
      assert.equal((e as SpecInvalidError).causes[0]?.field, 'services[2].containers');
    }
  });
});

describe('parseServiceSpec: probes', () => {
  const withProbe = (container: Record<string, unknown>) => ({ name: 'web', containers: [{ command: ['node', 'server.js'], ports: [{ name: 'http', containerPort: 8080 }], ...container }] });

  it("fills in Kubernetes' probe defaults", () => {
    const spec = parseServiceSpec(withProbe({ readinessProbe: { httpGet: { port: 'http' } } }));
    assert.deepEqual(spec.containers[0]?.readinessProbe, {
      httpGet: { path: '/', port: 'http', scheme: 'HTTP', httpHeaders: [] },
      initialDelaySeconds: 0, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3,
    });
  });

  it('refuses a probe without a handler, or with two', () => {
    const none = causes(withProbe({ livenessProbe: { periodSeconds: 5 } }));
    assert.ok(none.some((c) => c.field === 'spec.containers[0].livenessProbe' && /handler/.test(c.detail ?? '')), JSON.stringify(none));
    const two = causes(withProbe({ livenessProbe: { tcpSocket: { port: 8080 }, exec: { command: ['true'] } } }));
    assert.ok(two.some((c) => c.field === 'spec.containers[0].livenessProbe' && c.type === 'Forbidden'), JSON.stringify(two));
  });

  it('refuses a named probe port the container does not have, and successThreshold ≠ 1 on liveness', () => {
    const errors = causes(withProbe({ livenessProbe: { tcpSocket: { port: 'metrics' }, successThreshold: 2 } }));
    assert.deepEqual(errors.map((c) => c.field).sort(), ['spec.containers[0].livenessProbe.successThreshold', 'spec.containers[0].livenessProbe.tcpSocket.port']);
  });

  it("stores Docker's healthcheck as exec readiness and liveness probes", () => {
    const spec = parseServiceSpec(withProbe({ healthcheck: { test: ['CMD-SHELL', 'curl -f localhost:8080'], interval: '5s', timeout: '2s', retries: 2, startPeriod: '10s' } }));
    const c = spec.containers[0];
    assert.equal(c?.healthcheck, undefined);
    assert.deepEqual(c?.readinessProbe?.exec?.command, ['/bin/sh', '-c', 'curl -f localhost:8080']);
    assert.equal(c?.livenessProbe?.periodSeconds, 5);
    assert.equal(c?.livenessProbe?.timeoutSeconds, 2);
    assert.equal(c?.livenessProbe?.failureThreshold, 2);
    assert.equal(c?.livenessProbe?.initialDelaySeconds, 10);
    assert.equal(c?.readinessProbe?.initialDelaySeconds, 0);
    assert.equal(parseServiceSpec(withProbe({ healthcheck: { test: ['NONE'] } })).containers[0]?.livenessProbe, undefined);
  });

  it('refuses a healthcheck next to probes, and an unknown test form', () => {
    const both = causes(withProbe({ healthcheck: { test: 'true' }, livenessProbe: { exec: { command: ['true'] } } }));
    assert.ok(both.some((c) => c.field === 'spec.containers[0].healthcheck' && c.type === 'Forbidden'));
    const bad = causes(withProbe({ healthcheck: { test: ['RUN', 'true'] } }));
    assert.ok(bad.some((c) => c.field === 'spec.containers[0].healthcheck.test'));
  });

  it('defaults drainTimeout to 10s and rollbackConfig to Swarm\'s defaults; minHealth is 0..1', () => {
    const spec = parseServiceSpec(base);
    assert.equal(spec.drainTimeout, '10s');
    assert.deepEqual(spec.rollbackConfig, { parallelism: 1, delay: '0s', failureAction: 'pause', monitor: '5s', maxFailureRatio: 0, order: 'stop-first' });
    assert.ok(causes({ ...base, updateConfig: { minHealth: 1.5 } }).some((c) => c.field === 'spec.updateConfig.minHealth'));
  });
});
