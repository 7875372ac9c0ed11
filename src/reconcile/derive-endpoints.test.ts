import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { deriveEndpoints } from './derive-endpoints.js';
import { instance, service } from '../../test/fixtures.js';

describe('deriveEndpoints', () => {
  it('lists running instances as ready and starting or draining ones apart, and leaves ended ones out', () => {
    const list = [
      instance({ slot: 1 }),
      instance({ slot: 2, state: 'starting' }),
      instance({ slot: 3, desiredState: 'shutdown' }),
      instance({ slot: 4, state: 'failed', exitCode: 1 }),
    ];
    const e = deriveEndpoints(service({ replicas: 4 }), list, { clusterIP: '127.96.0.10' });
    assert.deepEqual(e.endpoints.map((x) => [x.slot, x.ready]), [[1, true], [2, false], [3, false]]);
    assert.equal(e.clusterIP, '127.96.0.10');
    assert.equal(e.headless, false);
  });

  it('serves the containers\' ports when the service declares none', () => {
    const e = deriveEndpoints(service(), [instance({ slot: 1 })], { clusterIP: '127.96.0.1' });
    assert.deepEqual(e.ports, [{ name: '', protocol: 'TCP', port: 8080 }]);
    assert.deepEqual(e.endpoints[0]?.ports, { '': 8080 });
  });

  it('carries a published port to the data plane with the service port it serves', () => {
    const e = deriveEndpoints(service({ ports: [{ port: 80, targetPort: 8080, published: 38080 }] }), [instance({ slot: 1 })], { clusterIP: '127.96.0.1' });
    assert.deepEqual(e.ports, [{ name: '', protocol: 'TCP', port: 80, published: 38080 }]);
    assert.deepEqual(e.endpoints[0]?.ports, { '': 8080 });
  });

  it('resolves a named targetPort against each instance\'s container ports', () => {
    const svc = service({
      containers: [{ command: ['srv'], ports: [{ name: 'http', containerPort: 8080 }, { name: 'admin', containerPort: 9090 }] }],
      ports: [{ name: 'web', port: 80, targetPort: 'http' }, { name: 'ops', port: 9000, targetPort: 'admin' }],
    });
    const inst = instance({ slot: 1 });
    const withPorts = { ...inst, spec: { ...inst.spec, containers: svc.spec.containers } };
    const e = deriveEndpoints(svc, [withPorts], { clusterIP: '127.96.0.2' });
    assert.deepEqual(e.ports.map((p) => [p.name, p.port]), [['web', 80], ['ops', 9000]]);
    assert.deepEqual(e.endpoints[0]?.ports, { web: 8080, ops: 9090 });
  });

  it('is headless without a cluster IP, and has no endpoints for an ExternalName service', () => {
    assert.equal(deriveEndpoints(service(), [instance()]).headless, true);
    const ext = deriveEndpoints(service({ type: 'ExternalName', externalName: 'db.example.org' }), [instance()]);
    assert.equal(ext.headless, false);
    assert.equal(ext.externalName, 'db.example.org');
    assert.deepEqual(ext.endpoints, []);
  });

  it('serves the endpoints set by hand for a service without containers', () => {
    const e = deriveEndpoints(service({ containers: [], endpoints: ['127.0.0.5:9000', '127.0.0.6'], ports: [{ port: 80, targetPort: 8080 }] }), [], { clusterIP: '127.96.0.9' });
    assert.deepEqual(e.endpoints.map((x) => [x.ip, x.ports[''], x.ready]), [['127.0.0.5', 9000, true], ['127.0.0.6', 8080, true]]);
  });
});

describe('deriveEndpoints: readiness', () => {
  it('lists an instance whose readiness probe fails as not ready, and one that passes as ready', () => {
    const base = instance({ slot: 1 });
    const failing = { ...base, status: { ...base.status, health: { started: true, ready: false, live: true, probes: [] } } };
    const passing = { ...instance({ slot: 2 }), status: { ...instance({ slot: 2 }).status, health: { started: true, ready: true, live: true, probes: [] } } };
    const e = deriveEndpoints(service({ replicas: 2 }), [failing, passing]);
    assert.deepEqual(e.endpoints.map((x) => [x.slot, x.ready]), [[1, false], [2, true]]);
  });
});
