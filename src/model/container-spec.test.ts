import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FieldError } from './field-error.js';
import { SpecInvalidError } from './errors.js';
import { parseServiceSpec } from './validate-service-spec.js';

/* Swarm's ContainerSpec fields (issue 10 §4): shapes, defaults, normalization, and every refusal naming its field and the fix. */

function causes(input: unknown): FieldError[] {
  try {
    parseServiceSpec(input);
  } catch (e) {
    assert.ok(e instanceof SpecInvalidError, String(e));
    return [...e.causes];
  }
  assert.fail('expected the spec to be refused');
}

const image = (extra: Record<string, unknown> = {}) => ({ name: 'web', containers: [{ image: 'nginx:1.27', ...extra }] });
const proc = (extra: Record<string, unknown> = {}) => ({ name: 'web', containers: [{ command: ['x'], ...extra }] });
const fields = (found: FieldError[]) => found.map((c) => [c.field, c.type]);

describe('container fields of the docker driver', () => {
  it('stores every field in its normalized form', () => {
    const [c] = parseServiceSpec(
      image({
        imagePullPolicy: 'Always',
        hostname: 'web-1',
        labels: { 'com.example.tier': 'front' },
        mounts: [
          { type: 'bind', source: '/srv/site', target: '/usr/share/nginx/html', readOnly: true },
          { type: 'volume', source: 'cache', target: '/var/cache/nginx' },
          { type: 'volume', target: '/data' },
          { type: 'tmpfs', target: '/tmp', tmpfsSize: '64Mi' },
        ],
        resources: { limits: { cpus: '500m', memory: '256Mi' }, reservations: { cpus: 0.25, memory: 64 * 1024 * 1024 } },
      }),
    ).containers;
    assert.equal(c?.imagePullPolicy, 'Always');
    assert.equal(c?.hostname, 'web-1');
    assert.deepEqual(c?.labels, { 'com.example.tier': 'front' });
    assert.deepEqual(c?.mounts, [
      { type: 'bind', source: '/srv/site', target: '/usr/share/nginx/html', readOnly: true },
      { type: 'volume', source: 'cache', target: '/var/cache/nginx', readOnly: false },
      { type: 'volume', target: '/data', readOnly: false },
      { type: 'tmpfs', target: '/tmp', readOnly: false, tmpfsSize: 64 * 1024 * 1024 },
    ]);
    assert.deepEqual(c?.resources, { limits: { cpus: 0.5, memory: 268435456 }, reservations: { cpus: 0.25, memory: 67108864 } });
  });

  it('defaults imagePullPolicy to IfNotPresent for a container with an image, and sets none for a process', () => {
    assert.equal(parseServiceSpec(image()).containers[0]?.imagePullPolicy, 'IfNotPresent');
    assert.equal('imagePullPolicy' in (parseServiceSpec(proc()).containers[0] ?? {}), false);
  });

  it('leaves out empty labels, mounts and resources, so a spec stored before these fields compares equal', () => {
    const plain = parseServiceSpec(proc());
    const empty = parseServiceSpec(proc({ labels: {} }));
    assert.deepEqual(empty, plain);
    const [c] = parseServiceSpec(image({ labels: {}, mounts: [], resources: { limits: {}, reservations: {} } })).containers;
    assert.deepEqual(Object.keys(c ?? {}).filter((k) => ['labels', 'mounts', 'resources'].includes(k)), []);
    const [limitsOnly] = parseServiceSpec(image({ resources: { limits: { memory: '1Gi' }, reservations: {} } })).containers;
    assert.deepEqual(limitsOnly?.resources, { limits: { memory: 1073741824 } });
  });

  it('round-trips: the stored spec parsed again is the same spec', () => {
    const stored = parseServiceSpec(image({ hostname: 'h', labels: { a: 'b' }, mounts: [{ type: 'tmpfs', target: '/run', tmpfsSize: '1Mi' }], resources: { limits: { cpus: 2, memory: '1G' } } }));
    assert.deepEqual(parseServiceSpec(JSON.parse(JSON.stringify(stored)) as unknown), stored);
  });

  it('refuses a service whose containers mix images and processes, on each container without an image', () => {
    const found = causes({ name: 'web', containers: [{ name: 'app', image: 'nginx' }, { name: 'side', command: ['x'] }, { name: 'more', command: ['y'] }] });
    assert.deepEqual(fields(found), [['spec.containers[1].image', 'Required value'], ['spec.containers[2].image', 'Required value']]);
    assert.match(found[0]?.detail ?? '', /share one instance sandbox, so either every container has an image or none does; containers\[0\] \(app\) has one/);
  });

  it('refuses an image reference Docker would refuse, with the fix', () => {
    const [cause] = causes(image({ image: 'Nginx:1.27' }));
    assert.deepEqual([cause?.field, cause?.type, cause?.value], ['spec.containers[0].image', 'Invalid value', 'Nginx:1.27']);
    assert.match(cause?.detail ?? '', /repository name must be lowercase \(nginx:1\.27\)/);
  });

  it('refuses the docker-only fields on a process container, naming each', () => {
    const found = causes(proc({ imagePullPolicy: 'Never', hostname: 'h', mounts: [{ type: 'tmpfs', target: '/t' }], resources: { limits: { cpus: 1 } } }));
    assert.deepEqual(fields(found), [
      ['spec.containers[0].imagePullPolicy', 'Forbidden'],
      ['spec.containers[0].hostname', 'Forbidden'],
      ['spec.containers[0].mounts', 'Forbidden'],
      ['spec.containers[0].resources', 'Forbidden'],
    ]);
    assert.match(found[0]?.detail ?? '', /may only be set on a container with an image/);
    assert.deepEqual(parseServiceSpec(proc({ labels: { a: 'b' } })).containers[0]?.labels, { a: 'b' }, 'labels are metadata: a process may carry them');
  });

  it('refuses an unknown pull policy and a hostname that is not an RFC 1123 label', () => {
    const [policy] = causes(image({ imagePullPolicy: 'Sometimes' }));
    assert.deepEqual([policy?.field, policy?.type], ['spec.containers[0].imagePullPolicy', 'Unsupported value']);
    assert.match(policy?.detail ?? '', /"IfNotPresent", "Always", "Never"/);
    for (const hostname of ['Web', 'web_1', '-web', 'a'.repeat(64)]) {
      const [cause] = causes(image({ hostname }));
      assert.equal(cause?.field, 'spec.containers[0].hostname', hostname);
      assert.match(`${cause?.type}: ${cause?.detail}`, hostname.length > 63 ? /no more than 63 characters/ : /RFC 1123 label/, hostname);
    }
  });

  it('refuses container label keys of berth\'s own io.berth. prefix, and bad keys as service labels are', () => {
    const [reserved] = causes(image({ labels: { 'io.berth.service': 'x' } }));
    assert.deepEqual([reserved?.field, reserved?.type], ['spec.containers[0].labels["io.berth.service"]', 'Invalid value']);
    assert.match(reserved?.detail ?? '', /berth's own/);
    const [bad] = causes(image({ labels: { 'bad key': 'x' } }));
    assert.equal(bad?.field, 'spec.containers[0].labels["bad key"]');
    assert.match(bad?.detail ?? '', /a label key must be/);
  });

  describe('mounts', () => {
    const refusals: [string, Record<string, unknown>[], string, string, RegExp][] = [
      ['a bind mount without a source', [{ type: 'bind', target: '/x' }], 'spec.containers[0].mounts[0].source', 'Required value', /absolute host path/],
      ['a bind mount of a relative path', [{ type: 'bind', source: 'data', target: '/x' }], 'spec.containers[0].mounts[0].source', 'Invalid value', /absolute host path .*type: volume/],
      ['a volume named by a path', [{ type: 'volume', source: '/srv', target: '/x' }], 'spec.containers[0].mounts[0].source', 'Invalid value', /use type: bind/],
      ['a volume name Docker refuses', [{ type: 'volume', source: 'a', target: '/x' }], 'spec.containers[0].mounts[0].source', 'Invalid value', /at least 2 characters/],
      ['a tmpfs with a source', [{ type: 'tmpfs', source: 'x', target: '/x' }], 'spec.containers[0].mounts[0].source', 'Forbidden', /has no source/],
      ['tmpfsSize on a volume', [{ type: 'volume', target: '/x', tmpfsSize: 1024 }], 'spec.containers[0].mounts[0].tmpfsSize', 'Forbidden', /tmpfs mounts only/],
      ['a relative target', [{ type: 'tmpfs', target: 'tmp' }], 'spec.containers[0].mounts[0].target', 'Invalid value', /absolute path/],
      ['the root as target', [{ type: 'tmpfs', target: '/./' }], 'spec.containers[0].mounts[0].target', 'Invalid value', /may not be "\/"/],
      ['two mounts at one target', [{ type: 'tmpfs', target: '/data' }, { type: 'volume', target: '/data/' }], 'spec.containers[0].mounts[1].target', 'Duplicate value', /mounts\[0\] mounts at \/data already/],
      ['an unknown type', [{ type: 'npipe', target: '/x' }], 'spec.containers[0].mounts[0].type', 'Unsupported value', /"bind", "volume", "tmpfs"/],
      ['a bad tmpfs size', [{ type: 'tmpfs', target: '/x', tmpfsSize: 'big' }], 'spec.containers[0].mounts[0].tmpfsSize', 'Invalid value', /256Mi/],
      ['an unknown field', [{ type: 'tmpfs', target: '/x', readonly: true }], 'spec.containers[0].mounts[0].readonly', 'Unknown field', /no field "readonly"/],
    ];
    for (const [what, mounts, field, type, says] of refusals) {
      it(`refuses ${what}, naming ${field}`, () => {
        const found = causes(image({ mounts }));
        const cause = found.find((c) => c.field === field);
        assert.ok(cause, JSON.stringify(fields(found)));
        assert.equal(cause.type, type);
        assert.match(cause.detail ?? '', says);
      });
    }
  });

  describe('resources', () => {
    it('refuses a memory limit under Docker\'s 6 MiB minimum, and takes 6Mi', () => {
      const [cause] = causes(image({ resources: { limits: { memory: '5Mi' } } }));
      assert.deepEqual([cause?.field, cause?.value], ['spec.containers[0].resources.limits.memory', 5 * 1024 * 1024]);
      assert.match(cause?.detail ?? '', /at least 6Mi/);
      assert.equal(parseServiceSpec(image({ resources: { limits: { memory: '6Mi' } } })).containers[0]?.resources?.limits?.memory, 6 * 1024 * 1024);
    });

    it('refuses a reservation past its limit, naming the reservation and the limit', () => {
      const found = causes(image({ resources: { limits: { cpus: 1, memory: '128Mi' }, reservations: { cpus: 2, memory: '256Mi' } } }));
      assert.deepEqual(fields(found), [['spec.containers[0].resources.reservations.memory', 'Invalid value'], ['spec.containers[0].resources.reservations.cpus', 'Invalid value']]);
      assert.match(found[0]?.detail ?? '', /at most the memory limit \(128Mi\)/);
      assert.match(found[1]?.detail ?? '', /at most the CPU limit \(1\)/);
    });

    it('refuses CPUs that are not a positive count of at most 1024 with 3 decimals, and bad memory', () => {
      for (const cpus of [0, -1, 2000, 0.0001, 'lots']) {
        const [cause] = causes(image({ resources: { limits: { cpus } } }));
        assert.equal(cause?.field, 'spec.containers[0].resources.limits.cpus', String(cpus));
        assert.match(cause?.detail ?? '', /greater than 0 and at most 1024, with at most 3 decimals/);
      }
      const [memory] = causes(image({ resources: { reservations: { memory: '1 gigabyte' } } }));
      assert.equal(memory?.field, 'spec.containers[0].resources.reservations.memory');
      assert.match(memory?.detail ?? '', /256Mi, 512m, 1G or 1Gi/);
    });

    it('refuses unknown resource names', () => {
      const [cause] = causes(image({ resources: { limits: { gpus: 1 } } }));
      assert.deepEqual([cause?.field, cause?.type], ['spec.containers[0].resources.limits.gpus', 'Unknown field']);
    });
  });
});

describe('published service ports', () => {
  const withPorts = (ports: unknown[], extra: Record<string, unknown> = {}) => ({ ...proc(), ports, ...extra });

  it('stores published on the service port, for any service type but ExternalName', () => {
    for (const type of ['ClusterIP', 'NodePort', 'LoadBalancer']) {
      const spec = parseServiceSpec(withPorts([{ port: 80, targetPort: 8080, published: 38080 }], { type }));
      assert.deepEqual(spec.ports, [{ protocol: 'TCP', port: 80, targetPort: 8080, published: 38080 }], type);
    }
    const low = parseServiceSpec(withPorts([{ port: 80, published: 80 }]));
    assert.equal(low.ports[0]?.published, 80, 'any port 1-65535, not only the node-port range');
  });

  it('refuses a published port out of range, or on an ExternalName service', () => {
    assert.deepEqual(fields(causes(withPorts([{ port: 80, published: 70000 }]))), [['spec.ports[0].published', 'Invalid value']]);
    assert.deepEqual(fields(causes(withPorts([{ port: 80, published: 0 }]))), [['spec.ports[0].published', 'Invalid value']]);
    const alias = causes({ name: 'db', containers: [], type: 'ExternalName', externalName: 'db.example.org', ports: [{ port: 5432, published: 35432 }] });
    assert.deepEqual(fields(alias), [['spec.ports[0].published', 'Forbidden']]);
  });
});
