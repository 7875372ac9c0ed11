import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { fieldPath } from '../lib/index.js';
import { parseManifest, readManifest } from './manifest.js';

const at = { source: 'app.yaml', dir: '/srv/shop' };

describe('parseManifest', () => {
  it('reads one service per document and skips empty documents', () => {
    const m = parseManifest('name: web\ncontainers: [{ command: [node, web.mjs] }]\n---\n# nothing here\n---\nname: api\ncontainers: [{ image: api:1 }]\n---\n', at);
    assert.deepEqual(
      m.services.map((s) => [s.index, s.name]),
      [
        [1, 'web'],
        [3, 'api'],
      ],
    );
  });

  it('removes kind and grid, keeping grid as the service grid', () => {
    const [s] = parseManifest('kind: Service\ngrid: shop\nname: web\ncontainers: [{ image: web:1 }]\n', at).services;
    assert.equal(s?.grid, 'shop');
    assert.deepEqual(s?.spec, { name: 'web', containers: [{ image: 'web:1' }] });
  });

  it('gives process containers the manifest directory, resolves relative ones, and leaves images alone', () => {
    const text = [
      'name: web',
      'containers:',
      '  - { name: a, command: x }',
      '  - { name: b, command: x, workingDir: ./sub }',
      '  - { name: c, command: x, workingDir: /abs }',
      '  - { name: d, image: nginx }',
      '  - { name: e, image: nginx, workingDir: rel }',
    ].join('\n');
    const containers = parseManifest(text, at).services[0]?.spec.containers.map((c) => [c.name, c.workingDir]);
    assert.deepEqual(containers, [
      ['a', '/srv/shop'],
      ['b', '/srv/shop/sub'],
      ['c', '/abs'],
      ['d', undefined],
      ['e', 'rel'],
    ]);
  });

  it('reports a YAML error as file:line:col', () => {
    assert.throws(() => parseManifest('name: web\ncontainers:\n  - command: x\n   bad: 1\n', at), (e: Error) => /^app\.yaml:4:\d+: \S/.test(e.message));
    assert.throws(() => parseManifest('name: web\nname: api\n', at), (e: Error) => e.message === 'app.yaml:2:1: Map keys must be unique');
  });

  it('reports the line of an error in a later document', () => {
    assert.throws(() => parseManifest('name: a\ncontainers: [{ image: x }]\n---\nname: b\nname: c\n', at), (e: Error) => e.message === 'app.yaml:5:1: Map keys must be unique');
  });

  it('refuses another kind, naming where it is written', () => {
    assert.throws(() => parseManifest('name: a\n---\nkind: Deployment\nname: b\n', at), (e: Error) => e.message.startsWith('app.yaml:3:7: document 2 has kind "Deployment"'));
  });

  it('refuses a document without a name and one that is not a mapping', () => {
    assert.throws(() => parseManifest('containers: []\n', at), /app\.yaml:1:1: document 1 has no name/);
    assert.throws(() => parseManifest('- a\n- b\n', at), /app\.yaml:1:1: document 1 is not a mapping/);
  });

  it('refuses the same service twice', () => {
    assert.throws(() => parseManifest('name: a\n---\nname: a\n', at), /app\.yaml:3:7: service a is declared twice \(documents 1 and 2\)/);
  });

  it('locates an API field path in the file, or its nearest written parent', () => {
    const text = 'name: web\ncontainers:\n  - command: x\n    ports:\n      - containerPort: 70000\n';
    const [s] = parseManifest(text, at).services;
    assert.equal(s?.locate('spec.containers[0].ports[0].containerPort'), 'app.yaml:5:24');
    assert.equal(s?.locate('spec.containers[0].ports[0].name'), 'app.yaml:5:9');
    assert.equal(s?.locate('spec.replicas'), 'app.yaml:1:1');
  });

  it('turns field paths into document paths', () => {
    assert.deepEqual(fieldPath('spec.containers[0].ports[12].name'), ['containers', 0, 'ports', 12, 'name']);
  });
});

describe('parseManifest: a service as `show -o yaml` prints it', () => {
  const shown = [
    'id: 0ede1951-80a3-4fd3-8ab2-0c9bbe06f495',
    'grid: shop',
    'name: web',
    'version: 876',
    'generation: 4',
    'createdAt: 2026-12-04T12:38:15.347Z',
    'updatedAt: 2026-12-04T13:09:37.125Z',
    'spec:',
    '  name: web',
    '  replicas: 3',
    '  containers:',
    '    - name: web',
    '      command: [sleep, "300"]',
    '      workingDir: /srv/web',
    '      ports:',
    '        - containerPort: 70000',
    'deployment:',
    '  generation: 4',
    '  spec: { name: web }',
    'desired: running',
    'status:',
    '  phase: running',
    '  message: 3/3 running',
    'explanation: { verdict: healthy }',
  ].join('\n');

  it('takes the spec from spec: and the grid, and ignores the fields the server writes (id, version, status …)', () => {
    const [s] = parseManifest(shown, at).services;
    assert.equal(s?.name, 'web');
    assert.equal(s?.grid, 'shop');
    assert.deepEqual(s?.spec, { name: 'web', replicas: 3, containers: [{ name: 'web', command: ['sleep', '300'], workingDir: '/srv/web', ports: [{ containerPort: 70000 }] }] });
  });

  it('locates an API field path under spec:', () => {
    const [s] = parseManifest(shown, at).services;
    assert.equal(s?.locate('spec.containers[0].ports[0].containerPort'), 'app.yaml:16:26');
    assert.equal(s?.locate('spec.replicas'), 'app.yaml:10:13');
  });

  it('refuses a spec field written beside spec: instead of under it, naming the line', () => {
    assert.throws(() => parseManifest(`${shown}\nreplicas: 5\n`, at), (e: Error) => e.message === 'app.yaml:25:11: document 1: `replicas` is not a field of a service object: this document has its spec under `spec:`, so `replicas` belongs there');
  });

  it('refuses a name that differs from spec.name', () => {
    assert.throws(() => parseManifest(shown.replace('name: web\nversion', 'name: api\nversion'), at), /app\.yaml:3:7: document 1: name "api" and spec\.name "web" differ: a service cannot be renamed/);
  });

  it('takes the name from the top when spec: has none', () => {
    const [s] = parseManifest('name: web\nspec:\n  containers: [{ image: x }]\n', at).services;
    assert.deepEqual(s?.spec, { name: 'web', containers: [{ image: 'x' }] });
  });
});

describe('readManifest', () => {
  it('reads a file relative to the current directory and resolves against its directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-manifest-'));
    try {
      writeFileSync(join(dir, 'app.yaml'), 'name: web\ncontainers: [{ command: x }]\n');
      const m = await readManifest('app.yaml', { cwd: dir, stdin: Readable.from([]) });
      assert.equal(m.source, 'app.yaml');
      assert.equal(m.services[0]?.spec.containers[0]?.workingDir, dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads stdin for -, resolving against the current directory', async () => {
    const m = await readManifest('-', { cwd: '/here', stdin: Readable.from(['name: web\ncontainers: [{ command: x }]\n']) });
    assert.equal(m.source, '<stdin>');
    assert.equal(m.services[0]?.spec.containers[0]?.workingDir, '/here');
  });

  it('says when the file does not exist', async () => {
    await assert.rejects(readManifest('missing.yaml', { cwd: '/nonexistent', stdin: Readable.from([]) }), /cannot read missing\.yaml: no such file/);
  });
});
