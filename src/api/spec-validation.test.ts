import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { openSqliteStore } from '../store/index.js';
import { FakeTelemetry, createApi } from './index.js';
import { adminAuthenticator } from './testing/fixtures.js';

/*
 * Every invalid spec is answered 400 SPEC_INVALID naming the offending field(s) in details.causes[].field,
 * and nothing is stored (no service, no event, no revision), both on create and on update.
 */

type Spec = Record<string, unknown>;
const container = (extra: Record<string, unknown> = {}) => ({ command: ['node', 'server.js'], ...extra });
const base = (extra: Spec = {}): Spec => ({ name: 'web', containers: [container()], ...extra });
const web = (ports: unknown[], extra: Spec = {}): Spec => base({ containers: [container({ ports: [{ name: 'http', containerPort: 8080 }, { name: 'admin', containerPort: 9090 }] })], ports, ...extra });

const CASES: ReadonlyArray<{ readonly name: string; readonly spec: unknown; readonly fields: readonly string[] }> = [
  { name: 'upper-case name', spec: base({ name: 'Web' }), fields: ['spec.name'] },
  { name: 'name starting with a digit', spec: base({ name: '1web' }), fields: ['spec.name'] },
  { name: 'name longer than 63 characters', spec: base({ name: `a${'b'.repeat(63)}` }), fields: ['spec.name'] },
  { name: 'missing name', spec: { containers: [container()] }, fields: ['spec.name'] },
  { name: 'missing containers', spec: { name: 'web' }, fields: ['spec.containers'] },
  { name: 'empty containers', spec: base({ containers: [] }), fields: ['spec.containers'] },
  { name: 'container without command or image', spec: base({ containers: [{ args: ['x'] }] }), fields: ['spec.containers[0].command'] },
  { name: 'bad env name', spec: base({ containers: [container({ env: [{ name: '1BAD', value: 'x' }] })] }), fields: ['spec.containers[0].env[0].name'] },
  { name: 'container port out of range', spec: base({ containers: [container({ ports: [{ containerPort: 70000 }] })] }), fields: ['spec.containers[0].ports[0].containerPort'] },
  { name: 'duplicate container port', spec: base({ containers: [container({ ports: [{ containerPort: 80 }, { containerPort: 80 }] })] }), fields: ['spec.containers[0].ports[1].containerPort'] },
  { name: 'multi-port service without port names', spec: web([{ port: 80, targetPort: 8080 }, { port: 81, targetPort: 9090 }]), fields: ['spec.ports[0].name', 'spec.ports[1].name'] },
  { name: 'nodePort with type ClusterIP', spec: web([{ port: 80, nodePort: 30080 }]), fields: ['spec.ports[0].nodePort'] },
  // A port number outside the node-port range is the allocator's 422 (network-allocation.test.ts); this is no port at all.
  { name: 'nodePort that is no port number', spec: web([{ port: 80, nodePort: 70000 }], { type: 'NodePort' }), fields: ['spec.ports[0].nodePort'] },
  { name: 'unknown stop signal', spec: base({ containers: [container({ stopSignal: 'SIGFOO' })] }), fields: ['spec.containers[0].stopSignal'] },
  { name: 'bad duration', spec: base({ containers: [container({ stopGracePeriod: 'ten seconds' })] }), fields: ['spec.containers[0].stopGracePeriod'] },
  { name: 'negative replicas', spec: base({ replicas: -1 }), fields: ['spec.replicas'] },
  { name: 'fractional replicas', spec: base({ replicas: 1.5 }), fields: ['spec.replicas'] },
  { name: 'replicas with mode global', spec: base({ mode: 'global', replicas: 2 }), fields: ['spec.replicas'] },
  { name: 'replicas and instances together', spec: base({ replicas: 2, instances: 2 }), fields: ['spec.instances'] },
  { name: 'unknown field', spec: base({ replica: 3 }), fields: ['spec.replica'] },
  { name: 'two unknown fields, one cause each', spec: base({ replica: 3, imagee: 'x' }), fields: ['spec.replica', 'spec.imagee'] },
  { name: 'unknown field in a container', spec: base({ containers: [container({ cmd: 'x' })] }), fields: ['spec.containers[0].cmd'] },
  { name: 'bad restart condition', spec: base({ restartPolicy: { condition: 'always' } }), fields: ['spec.restartPolicy.condition'] },
  { name: 'bad failureAction', spec: base({ updateConfig: { failureAction: 'explode' } }), fields: ['spec.updateConfig.failureAction'] },
  { name: 'parallelism -1', spec: base({ updateConfig: { parallelism: -1 } }), fields: ['spec.updateConfig.parallelism'] },
  { name: 'maxFailureRatio above 1', spec: base({ updateConfig: { maxFailureRatio: 2 } }), fields: ['spec.updateConfig.maxFailureRatio'] },
  { name: 'relative workingDir', spec: base({ containers: [container({ workingDir: 'app' })] }), fields: ['spec.containers[0].workingDir'] },
  { name: 'targetPort naming no container port', spec: web([{ port: 80, targetPort: 'https' }]), fields: ['spec.ports[0].targetPort'] },
  { name: 'targetPort that is not a port name', spec: web([{ port: 80, targetPort: 'Not_A_Name' }]), fields: ['spec.ports[0].targetPort'] },
  { name: 'duplicate service port name', spec: web([{ name: 'http', port: 80 }, { name: 'http', port: 81 }]), fields: ['spec.ports[1].name'] },
  { name: 'duplicate service port', spec: web([{ name: 'a', port: 80 }, { name: 'b', port: 80 }]), fields: ['spec.ports[1]'] },
  { name: 'bad protocol', spec: web([{ port: 80, protocol: 'SCTP' }]), fields: ['spec.ports[0].protocol'] },
  { name: 'bad service type', spec: base({ type: 'Ingress' }), fields: ['spec.type'] },
  { name: 'bad label key', spec: base({ labels: { 'bad key!': 'x' } }), fields: ['spec.labels["bad key!"]'] },
  { name: 'bad label value', spec: base({ labels: { tier: 'not ok' } }), fields: ['spec.labels.tier'] },
  { name: 'duplicate container names', spec: base({ containers: [container({ name: 'a' }), container({ name: 'a' })] }), fields: ['spec.containers[1].name'] },
  { name: 'unnamed container among several', spec: base({ containers: [container({ name: 'a' }), container()] }), fields: ['spec.containers[1].name'] },
  { name: 'port name too long', spec: base({ containers: [container({ ports: [{ name: 'a-very-long-port-name', containerPort: 80 }] })] }), fields: ['spec.containers[0].ports[0].name'] },
  { name: 'stateful with mode global', spec: base({ mode: 'global', stateful: true }), fields: ['spec.stateful'] },
  { name: 'spec that is not an object', spec: 'web', fields: ['spec'] },
  { name: 'no spec at all', spec: undefined, fields: ['spec'] },
];

describe('API: invalid specs', () => {
  const store = openSqliteStore(':memory:');
  const app = createApi({ authenticator: adminAuthenticator, store, telemetry: new FakeTelemetry(), node: 'node-1', version: 'test' });
  after(() => app.close());

  it('has at least twenty cases', () => {
    assert.ok(CASES.length >= 20);
  });

  for (const c of CASES) {
    it(`answers 400 naming ${c.fields.join(' and ')} for ${c.name}, and stores nothing`, async () => {
      const revision = store.revision();
      const res = await app.inject({ method: 'POST', url: '/v1/grids/default/services', payload: c.spec === undefined ? {} : { spec: c.spec } });
      assert.equal(res.statusCode, 400, res.body);
      const body = res.json() as { code: string; message: string; details: { causes: { field: string; message: string }[] } };
      assert.equal(body.code, 'SPEC_INVALID');
      assert.deepEqual(body.details.causes.map((cause) => cause.field), c.fields, body.message);
      for (const cause of body.details.causes) assert.ok(cause.message.startsWith(`${cause.field}: `), cause.message);
      assert.equal(store.revision(), revision);
      assert.deepEqual(store.listServices(), []);
    });
  }

  it('refuses the same specs on update and leaves the stored service untouched', async () => {
    const created = await app.inject({ method: 'POST', url: '/v1/grids/default/services', payload: { spec: base() } });
    assert.equal(created.statusCode, 201);
    const before = store.getService('default', 'web');
    for (const c of CASES) {
      const candidate = typeof c.spec === 'object' && c.spec !== null && 'name' in c.spec ? { ...c.spec, name: 'web' } : c.spec;
      if (c.fields.includes('spec.name')) continue;
      const res = await app.inject({ method: 'PUT', url: '/v1/grids/default/services/web', payload: candidate === undefined ? {} : { spec: candidate } });
      assert.equal(res.statusCode, 400, `${c.name}: ${res.body}`);
    }
    assert.deepEqual(store.getService('default', 'web'), before);
  });
});
