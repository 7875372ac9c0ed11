import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseManifest } from './manifest.js';

/* Kubernetes objects in a berth manifest (kube-manifest.ts), parsed as `berth apply -f` reads them. */

const at = { source: 'k8s.yaml', dir: '/srv/shop' };

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: { tier: deployment-only }
spec:
  replicas: 3
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web, version: v1 } }
    spec:
      containers:
      - name: web
        image: nginx:latest
        args: [nginx, -g, daemon off;]
        ports: [{ name: http, containerPort: 80 }]
        resources:
          limits: { cpu: 500m, memory: 128Mi }
          requests: { cpu: "0.25", memory: 64Mi }
`;

const SERVICE = `apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
  labels: { team: a }
spec:
  type: NodePort
  selector: { app: web }
  ports:
  - name: http
    port: 8080
    targetPort: http
`;

describe('Kubernetes objects in a manifest', () => {
  it('a v1 Service is a service without containers: metadata moves to the top, its spec as written', () => {
    const [s] = parseManifest(SERVICE, at).services;
    assert.equal(s?.grid, 'shop');
    assert.deepEqual(s?.spec, { name: 'web', labels: { team: 'a' }, type: 'NodePort', selector: { app: 'web' }, ports: [{ name: 'http', port: 8080, targetPort: 'http' }] });
    assert.equal(s?.locate('spec.ports[0].port'), 'k8s.yaml:12:11');
    assert.equal(s?.locate('spec.name'), 'k8s.yaml:4:9');
    assert.equal(s?.locate('spec.labels.team'), 'k8s.yaml:6:19');
  });

  it('an apps/v1 Deployment is a replicated service with the pod template\'s labels and containers, resources in berth\'s words', () => {
    const [s] = parseManifest(DEPLOYMENT, at).services;
    assert.deepEqual(s?.spec, {
      name: 'web',
      labels: { app: 'web', version: 'v1' },
      replicas: 3,
      containers: [{ name: 'web', image: 'nginx:latest', args: ['nginx', '-g', 'daemon off;'], ports: [{ name: 'http', containerPort: 80 }], resources: { limits: { cpus: 0.5, memory: '128Mi' }, reservations: { cpus: 0.25, memory: '64Mi' } } }],
    });
    assert.equal(s?.locate('spec.containers[0].image'), 'k8s.yaml:15:16');
    assert.equal(s?.locate('spec.replicas'), 'k8s.yaml:8:13');
  });

  it('a Deployment and its Service of one name are one service, in either order; each field is located in its document', () => {
    for (const text of [`${DEPLOYMENT}---\n${SERVICE}`, `${SERVICE}---\n${DEPLOYMENT}`]) {
      const { services } = parseManifest(text, at);
      assert.equal(services.length, 1);
      const [s] = services;
      assert.equal(s?.grid, 'shop');
      assert.equal(s?.spec.replicas, 3);
      assert.equal(s?.spec.type, 'NodePort');
      assert.deepEqual(s?.spec.ports, [{ name: 'http', port: 8080, targetPort: 'http' }]);
      assert.equal((s?.spec as Record<string, unknown>)['selector'], undefined, 'it serves its own instances');
      assert.deepEqual(s?.spec.labels, { team: 'a', app: 'web', version: 'v1' });
      // The second document starts after the first one's lines and the `---` line.
      const serviceFirst = text.startsWith(SERVICE);
      const serviceOffset = serviceFirst ? 0 : DEPLOYMENT.split('\n').length;
      const deploymentOffset = serviceFirst ? SERVICE.split('\n').length : 0;
      assert.equal(s?.locate('spec.ports[0].port'), `k8s.yaml:${12 + serviceOffset}:11`);
      assert.equal(s?.locate('spec.containers[0].image'), `k8s.yaml:${15 + deploymentOffset}:16`);
    }
  });

  it('refuses two Deployments of one name, a Service whose selector does not select the pods, and a selector that does not match the template', () => {
    assert.throws(() => parseManifest(`${DEPLOYMENT}---\n${DEPLOYMENT}`, at), /service web is declared twice \(documents 1 and 2\): two Deployments have this name/);
    assert.throws(() => parseManifest(`${DEPLOYMENT}---\n${SERVICE.replace('selector: { app: web }', 'selector: { app: api }')}`, at), /declared twice \(documents 1 and 2\): the Service's selector does not select the Deployment's pods/);
    assert.throws(() => parseManifest(DEPLOYMENT.replace('matchLabels: { app: web }', 'matchLabels: { app: api }'), at), /k8s\.yaml:9:\d+: document 1: selector matchLabels app: "api" does not match the template's labels/);
  });

  it('refuses kinds and versions it does not read, and an object without a name, naming where', () => {
    assert.throws(() => parseManifest('apiVersion: batch/v1\nkind: Job\nmetadata: { name: once }\n', at), /k8s\.yaml:2:7: document 1: apiVersion "batch\/v1" kind "Job" is not read/);
    assert.throws(() => parseManifest('apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: { name: old }\n', at), /apiVersion "extensions\/v1beta1" kind "Deployment" is not read/);
    assert.throws(() => parseManifest('apiVersion: v1\nkind: Service\nmetadata: {}\n', at), /k8s\.yaml:3:11: document 1: a Kubernetes object needs metadata.name/);
    assert.throws(() => parseManifest(DEPLOYMENT.replace('cpu: 500m', 'cpu: lots'), at), /cpu "lots" is not a CPU quantity such as 500m or 0\.5/);
  });

  it('refuses odd shapes naming where they are, and leaves odd values to the server', () => {
    assert.throws(() => parseManifest('apiVersion: v1\nkind: Service\nmetadata: 3\n', at), /k8s\.yaml:3:11: document 1: metadata must be a mapping/);
    assert.throws(() => parseManifest('apiVersion: v1\nkind: Service\nmetadata: { name: [a] }\n', at), /needs metadata\.name/);
    assert.throws(() => parseManifest('apiVersion: v1\nkind: Service\nmetadata: { name: a }\nspec: [1, 2]\n', at), /k8s\.yaml:4:7: document 1: spec must be a mapping/);
    assert.throws(() => parseManifest(DEPLOYMENT.replace(/ {6}containers:[\s\S]*$/, '      containers: []\n'), at), /a Deployment runs one container or more/);
    assert.throws(() => parseManifest(DEPLOYMENT.replace('template:', 'template: 7\n  x:'), at), /spec\.template must be a mapping/);
    assert.throws(() => parseManifest(DEPLOYMENT.replace('cpu: 500m', `cpu: ${'9'.repeat(400)}e9m`), at), /is not a CPU quantity/);
    // A container that is not a mapping, or a label of another type, is the server's to name (SPEC_INVALID, at its line).
    const [s] = parseManifest(DEPLOYMENT.replace('      - name: web\n', '      - 7\n      - name: web\n'), at).services;
    assert.equal(s?.spec.containers?.[0], 7);
  });

  it('passes on what else a Deployment and its pod spec say, so that the server names it where it is written', () => {
    const text = DEPLOYMENT.replace('  replicas: 3\n', '  replicas: 3\n  strategy: { type: Recreate }\n').replace('    spec:\n      containers:', '    spec:\n      nodeSelector: { disk: ssd }\n      containers:');
    const [s] = parseManifest(text, at).services;
    const spec = s?.spec as Record<string, unknown>;
    assert.deepEqual(spec['strategy'], { type: 'Recreate' });
    assert.deepEqual(spec['nodeSelector'], { disk: 'ssd' });
    assert.equal(s?.locate('spec.strategy'), 'k8s.yaml:9:13');
    assert.equal(s?.locate('spec.nodeSelector.disk'), 'k8s.yaml:14:29');
  });

  it('a StatefulSet is a stateful service (its serviceName dropped), a DaemonSet a global one; either merges with its Service', () => {
    const stateful = DEPLOYMENT.replace('kind: Deployment', 'kind: StatefulSet').replace('  replicas: 3\n', '  replicas: 3\n  serviceName: web-headless\n');
    const [set] = parseManifest(stateful, at).services;
    assert.equal(set?.spec.stateful, true);
    assert.equal(set?.spec.replicas, 3);
    assert.equal((set?.spec as Record<string, unknown>)['serviceName'], undefined);
    const daemon = DEPLOYMENT.replace('kind: Deployment', 'kind: DaemonSet').replace('  replicas: 3\n', '');
    const [ds] = parseManifest(daemon, at).services;
    assert.equal(ds?.spec.mode, 'global');
    assert.equal(ds?.spec.replicas, undefined);
    const merged = parseManifest(`${daemon}---\n${SERVICE}`, at).services;
    assert.equal(merged.length, 1);
    assert.equal(merged[0]?.spec.mode, 'global');
    assert.equal(merged[0]?.spec.type, 'NodePort');
    assert.throws(() => parseManifest(`${daemon}---\n${DEPLOYMENT}`, at), /declared twice \(documents 1 and 2\): a DaemonSet and a Deployment have this name/);
  });

  it('gives a process container of a Deployment the manifest directory, as a berth document\'s', () => {
    const [s] = parseManifest(DEPLOYMENT.replace('        image: nginx:latest\n', '        command: [node, web.mjs]\n').replace(/ {8}resources:\n.*\n.*\n/, ''), at).services;
    assert.equal(s?.spec.containers?.[0]?.workingDir, '/srv/shop');
  });
});
