import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { service } from './testing/fixtures.js';
import type { RunOptions } from './testing/run-cli.js';
import { runCli } from './testing/run-cli.js';
import { StubApi } from './testing/stub-api.js';

/*
 * `berth service edit` with scripted editors: each editor is a shell script that saves a copy of what
 * it was given (seen.N.yaml) and edits the file the way the test says, per call.
 */
describe('berth service edit', () => {
  const stub = new StubApi();
  const dir = mkdtempSync(join(tmpdir(), 'berth-edit-test-'));
  const run = (args: string[], options: RunOptions = {}) => runCli(args, { ...options, env: { BERTH_HOST: stub.url, PATH: process.env['PATH'], ...options.env } });

  /** An editor whose Nth call runs the Nth shell snippet on "$1" (the last one for later calls). */
  const editor = (...steps: string[]): string => {
    const script = join(dir, 'editor.sh');
    const lines = ['#!/bin/sh', `n=$(cat "${dir}/count" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "${dir}/count"`, `cp "$1" "${dir}/seen.$n.yaml"`, 'case $n in'];
    steps.forEach((step, k) => lines.push(`  ${k === steps.length - 1 ? '*' : String(k + 1)}) ${step} ;;`));
    lines.push('esac');
    writeFileSync(script, `${lines.join('\n')}\n`);
    chmodSync(script, 0o755);
    return script;
  };
  const seen = (n: number): string => readFileSync(join(dir, `seen.${n}.yaml`), 'utf8');
  const calls = (): number => Number(existsSync(join(dir, 'count')) ? readFileSync(join(dir, 'count'), 'utf8') : 0);

  before(() => stub.start());
  after(async () => {
    await stub.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    stub.reset();
    rmSync(join(dir, 'count'), { force: true });
    stub.seed(service({ spec: { name: 'web' }, version: 40, deployedGeneration: 1 }));
  });

  it('opens the service as show -o yaml prints it, in $VISUAL before $EDITOR, and applies the saved spec with the version read', async () => {
    const ed = editor(`sed -i 's/^  replicas: 1$/  replicas: 3/' "$1"`);
    const r = await run(['service', 'edit', 'web'], { env: { VISUAL: ed, EDITOR: '/bin/false' } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(seen(1), /^# Please edit the service below/);
    assert.match(seen(1), /^name: web$/m);
    assert.match(seen(1), /^version: 40$/m);
    assert.match(seen(1), /^spec:\n {2}name: web\n/m);
    assert.doesNotMatch(seen(1), /^explanation:/m);
    const put = stub.writes.find((w) => w.method === 'PUT');
    assert.equal((put?.body as { version: number }).version, 40, 'compare-and-set on the version the editor opened');
    assert.equal(stub.service('web')?.spec.replicas, 3);
    assert.equal(r.stdout, 'service web edited, deploying generation 2\n', 'a workload change is deployed, as apply does');
  });

  it('an unchanged file cancels the edit: "Edit cancelled, no changes made." and exit 0, nothing sent', async () => {
    const r = await run(['service', 'edit', 'web'], { env: { EDITOR: 'true' } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Edit cancelled, no changes made.\n');
    assert.equal(stub.writes.length, 0);
    const reformatted = await run(['service', 'edit', 'web'], { env: { EDITOR: editor(`sed -i 's/^  replicas: 1$/  replicas: 01/' "$1"`) } });
    assert.equal(reformatted.stdout, 'Edit cancelled, no changes made.\n', 'the same spec written differently is no change either');
  });

  it('an emptied file cancels the edit', async () => {
    const r = await run(['service', 'edit', 'web'], { env: { EDITOR: editor(': > "$1"') } });
    assert.deepEqual([r.code, r.stdout], [0, 'Edit cancelled, saved file was empty.\n']);
    assert.equal(stub.writes.length, 0);
  });

  it('reopens a refused file with the errors as comments at the top, then applies the fixed one', async () => {
    // The stub refuses a container without a command, as the real schema does.
    const ed = editor(`sed -i '/^ *command:/,/^ *- server.js/d' "$1"`, `sed -i 's/^      args: \\[\\]/      command: [node, fixed.js]\\n      args: []/' "$1"`);
    const r = await run(['service', 'edit', 'web', '--no-deploy'], { env: { EDITOR: ed } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(calls(), 2);
    assert.match(seen(2), /^# The service could not be saved:\n# Service "web" is invalid:\n# {3}spec\.containers\[0\]\.command: Required value\n#\n/m);
    assert.deepEqual(stub.service('web')?.spec.containers[0]?.command, ['node', 'fixed.js']);
    assert.equal(r.stdout, 'service web updated to generation 2 (not deployed): run `berth service deploy web`\n');
  });

  it('gives up when a refused file is saved again unchanged, keeping it (exit 1)', async () => {
    const r = await run(['service', 'edit', 'web'], { env: { EDITOR: editor(`sed -i '/^ *command:/,/^ *- server.js/d' "$1"`, 'true') } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: edit cancelled: the file was saved without fixing the errors\n/);
    const kept = /your changes are kept in (\S+)/.exec(r.stderr)?.[1];
    assert.ok(kept && existsSync(kept), r.stderr);
    rmSync(join(kept, '..'), { recursive: true, force: true });
    assert.equal(stub.service('web')?.generation, 1, 'nothing stored');
  });

  it('a change made while the editor was open is not overwritten unseen: the file reopens saying so', async () => {
    const bump = `"${process.execPath}" -e "fetch(process.env.STUB + '/v1/grids/default/services/web/stop', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }).then((r) => r.text())"`;
    const ed = editor(`${bump} && sed -i 's/^  replicas: 1$/  replicas: 2/' "$1"`, 'true');
    const r = await run(['service', 'edit', 'web', '--no-deploy'], { env: { EDITOR: ed, STUB: stub.url } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(seen(2), /^# service web was changed by someone else while you edited it \(version 40 → \d+\):$/m);
    const puts = stub.writes.filter((w) => w.method === 'PUT').map((w) => (w.body as { version: number }).version);
    assert.equal(puts.length, 2);
    assert.notEqual(puts[1], 40, 'the second save names the latest version');
    assert.equal(stub.service('web')?.spec.replicas, 2);
  });

  it('refuses a rename in the file and says which field', async () => {
    const r = await run(['service', 'edit', 'web'], { env: { EDITOR: editor(`sed -i 's/^  name: web$/  name: other/; s/^name: web$/name: other/' "$1"`, 'true') } });
    assert.equal(r.code, 1);
    assert.match(seen(2), /^# spec\.name: Invalid value: "other": a service cannot be renamed \(it is web\)$/m);
  });

  it('fails without applying when the editor exits non-zero', async () => {
    const r = await run(['service', 'edit', 'web'], { env: { EDITOR: 'false' } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: the editor `false` exited with code 1: nothing applied\n/);
    assert.equal(stub.writes.length, 0);
  });
});
