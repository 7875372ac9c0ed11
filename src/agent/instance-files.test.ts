import assert from 'node:assert/strict';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { prepareSlotDir } from './instance-files.js';

const asRoot = { skip: process.getuid?.() !== 0 && 'needs root to chown' } as const;

describe('prepareSlotDir', () => {
  const base = mkdtempSync(join(tmpdir(), 'berth-slot-'));
  chmodSync(base, 0o755);
  after(() => rmSync(base, { recursive: true, force: true }));

  it('makes the directory and its parents (0711) when no user is given', () => {
    const dir = join(base, 'plain', 'volumes', 'g', 's', '1');
    prepareSlotDir(dir, undefined);
    assert.ok(statSync(dir).isDirectory());
    assert.equal(statSync(join(dir, '..')).mode & 0o777, 0o711);
  });

  it('hands an old slot directory over to the instance user with everything in it, never following a link', asRoot, () => {
    const dir = join(base, 'old', '1');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    writeFileSync(join(dir, 'sub', 'data'), 'x');
    const outside = join(base, 'outside');
    writeFileSync(outside, 'root only');
    symlinkSync(outside, join(dir, 'link'));
    prepareSlotDir(dir, 'nobody');
    for (const p of [dir, join(dir, 'sub'), join(dir, 'sub', 'data')]) assert.equal(statSync(p).uid, 65534, p);
    assert.equal(lstatSync(join(dir, 'link')).uid, 65534, 'the link itself changes owner');
    assert.equal(statSync(outside).uid, 0, 'its target does not');
    assert.equal(statSync(dir).mode & 0o777, 0o700);
  });

  it('leaves the directory alone for a user /etc/passwd does not know (the start then fails in the shim)', asRoot, () => {
    const dir = join(base, 'ghost', '1');
    prepareSlotDir(dir, 'no-such-user-berth-test');
    assert.equal(statSync(dir).uid, 0);
  });
});
