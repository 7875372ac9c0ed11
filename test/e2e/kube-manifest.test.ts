import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BIN, ROOT, cleanup, cliEnv, startBerth, tempDir, waitFor } from './harness.js';
import type { RunningBerth } from './harness.js';
import { ECHO, askOnce } from './programs.js';

/*
 * `berth apply -f` of Kubernetes objects as the Kubernetes page writes them (docs/cli.md, "Manifests"):
 * an apps/v1 Deployment of real processes and a v1 Service selecting its pods' labels; the Service's
 * virtual IP answers from both replicas, and a wrong document is refused at its line.
 */

function berth(url: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, '--host', url, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...cliEnv(url) }, timeout: 60_000, cwd: ROOT });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const MANIFEST = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: my-nginx
spec:
  selector:
    matchLabels:
      run: my-nginx
  replicas: 2
  template:
    metadata:
      labels:
        run: my-nginx
    spec:
      containers:
      - name: my-nginx
        command: [node, ${JSON.stringify(ECHO)}]
        workingDir: ${JSON.stringify(ROOT)}
        env:
        - name: PORT
          value: "8080"
        ports:
        - containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: my-nginx
  labels:
    run: my-nginx
spec:
  ports:
  - port: 80
    targetPort: 8080
    protocol: TCP
  selector:
    run: my-nginx
`;

/** Asks the virtual IP until two different instances (ids starting with `prefix`) answered. */
async function expectBothReplicas(vip: string, prefix: string): Promise<void> {
  const seen = new Set<string>();
  await waitFor(`both replicas answer through ${vip}:80`, async () => {
    const text = await askOnce(vip, 80);
    if (text) seen.add(text);
    return seen.size === 2;
  }, { timeoutMs: 30_000 });
  assert.ok([...seen].every((id) => id.startsWith(prefix)), [...seen].join(', '));
}

describe('Kubernetes manifests through berth apply', () => {
  let server: RunningBerth;
  before(async () => {
    server = await startBerth({ instanceRange: '127.11.131.0/24' });
  });
  after(async () => {
    await cleanup(server);
  });

  it('the page\'s Deployment and Service of one name become one service: the virtual IP answers from both replicas', async () => {
    const file = join(tempDir(), 'nginx.yaml');
    writeFileSync(file, MANIFEST);
    const applied = berth(server.url, ['apply', '-f', file]);
    assert.equal(applied.status, 0, applied.stderr);
    const svc = await server.client.getService('default', 'my-nginx');
    assert.equal(svc.spec.replicas, 2);
    assert.deepEqual(svc.spec.labels, { run: 'my-nginx' });
    assert.deepEqual(svc.spec.ports.map((p) => [p.port, p.targetPort, p.protocol]), [[80, 8080, 'TCP']]);
    assert.equal(svc.spec.selector, undefined, 'it serves its own instances');
    await expectBothReplicas(svc.spec.clusterIP as string, 'my-nginx-');
  });

  it('a Service of another name selects the Deployment\'s pods by their labels', async () => {
    const file = join(tempDir(), 'front.yaml');
    writeFileSync(file, MANIFEST.replace('metadata:\n  name: my-nginx\n  labels:', 'metadata:\n  name: front\n  labels:'));
    const applied = berth(server.url, ['apply', '-f', file]);
    assert.equal(applied.status, 0, applied.stderr);
    const front = await server.client.getService('default', 'front');
    assert.deepEqual(front.spec.selector, { run: 'my-nginx' });
    assert.deepEqual(front.spec.containers, []);
    await expectBothReplicas(front.spec.clusterIP as string, 'my-nginx-');
  });

  it('a StatefulSet runs stable slots in order, a DaemonSet one instance per node', async () => {
    const file = join(tempDir(), 'sets.yaml');
    const stateful = MANIFEST.split('---')[0]?.replace('kind: Deployment', 'kind: StatefulSet').replace('  name: my-nginx\n', '  name: db\n').replace('  replicas: 2\n', '  replicas: 2\n  serviceName: db\n') ?? '';
    const daemon = MANIFEST.split('---')[0]?.replace('kind: Deployment', 'kind: DaemonSet').replace('  name: my-nginx\n', '  name: agentd\n').replace('  replicas: 2\n', '') ?? '';
    writeFileSync(file, `${stateful}---\n${daemon}`);
    const applied = berth(server.url, ['apply', '-f', file]);
    assert.equal(applied.status, 0, applied.stderr);
    const db = await server.client.getService('default', 'db');
    assert.equal(db.spec.stateful, true);
    assert.equal((await server.client.getService('default', 'agentd')).spec.mode, 'global');
    await waitFor('db-1 and db-2 run, and agentd on the one node', async () => {
      const running = async (name: string): Promise<number[]> => (await server.client.listInstances('default', name, { active: true })).filter((i) => i.status.state === 'running').map((i) => i.slot).sort();
      const [slots, daemons] = [await running('db'), await running('agentd')];
      return slots.join() === '1,2' && daemons.length === 1 ? true : undefined;
    }, { timeoutMs: 30_000 });
  });

  it('refuses a kind berth does not read, and a selector that does not match the template, naming the line', () => {
    const file = join(tempDir(), 'bad.yaml');
    writeFileSync(file, 'apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: once\n');
    const job = berth(server.url, ['apply', '-f', file]);
    assert.notEqual(job.status, 0);
    assert.match(job.stderr, /bad\.yaml:2:7: document 1: apiVersion "batch\/v1" kind "Job" is not read: berth reads `v1` `Service` and `apps\/v1` `Deployment`/);
    writeFileSync(file, MANIFEST.replace('      run: my-nginx\n  replicas', '      run: other\n  replicas'));
    const mismatch = berth(server.url, ['apply', '-f', file]);
    assert.notEqual(mismatch.status, 0);
    assert.match(mismatch.stderr, /bad\.yaml:8:\d+: document 1: selector matchLabels run: "other" does not match the template's labels/);
  });
});
