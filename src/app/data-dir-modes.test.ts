import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { secureDataDir } from './data-dir-modes.js';

const mode = (path: string): number => statSync(path).mode & 0o7777;

describe('secureDataDir', () => {
  const base = mkdtempSync(join(tmpdir(), 'berth-modes-'));
  after(() => rmSync(base, { recursive: true, force: true }));

  it('tightens what an older berth left loose: data dir 0700, database and WAL 0600, handle and exit files 0600', () => {
    const data = join(base, 'loose');
    mkdirSync(join(data, 'instances', 'web-1-abc'), { recursive: true, mode: 0o755 });
    mkdirSync(join(data, 'exits'), { mode: 0o755 });
    mkdirSync(join(data, 'volumes', 'default', 'db', '1'), { recursive: true, mode: 0o755 });
    for (const f of ['berth.db', 'berth.db-wal', 'berth.db-shm', 'server.log', 'instances/web-1-abc/web.handle.json', 'instances/web-1-abc/web.log', 'exits/web-1-abc.web.exit.json']) {
      writeFileSync(join(data, f), 'x', { mode: 0o644 });
    }
    chmodSync(data, 0o755);
    secureDataDir(data, { traverse: false });
    assert.equal(mode(data), 0o700);
    for (const f of ['berth.db', 'berth.db-wal', 'berth.db-shm', 'server.log', 'instances/web-1-abc/web.handle.json', 'instances/web-1-abc/web.log', 'exits/web-1-abc.web.exit.json']) {
      assert.equal(mode(join(data, f)), 0o600, f);
    }
    assert.equal(mode(join(data, 'exits')), 0o700);
    assert.equal(mode(join(data, 'instances')), 0o711);
    assert.equal(mode(join(data, 'instances', 'web-1-abc')), 0o711);
    assert.equal(mode(join(data, 'volumes', 'default', 'db')), 0o711);
    assert.equal(mode(join(data, 'volumes', 'default', 'db', '1')), 0o755, "a slot's own directory is the agent's to hand over");
  });

  it('makes the data dir passable but not listable (0711) when instances run as another user', () => {
    const data = join(base, 'traverse');
    secureDataDir(data, { traverse: true });
    assert.equal(mode(data), 0o711);
    secureDataDir(data, { traverse: false });
    assert.equal(mode(data), 0o700, 'and closes it again when they no longer do');
  });

  it('creates the database file 0600 before SQLite opens it', () => {
    const data = join(base, 'fresh');
    secureDataDir(data, { traverse: false });
    assert.equal(mode(join(data, 'berth.db')), 0o600);
    assert.equal(readFileSync(join(data, 'berth.db')).length, 0);
  });

  it('leaves symbolic links and their targets alone', () => {
    const data = join(base, 'links');
    const outside = join(base, 'outside.txt');
    writeFileSync(outside, 'x', { mode: 0o644 });
    mkdirSync(join(data, 'exits'), { recursive: true });
    symlinkSync(outside, join(data, 'exits', 'planted.exit.json'));
    secureDataDir(data, { traverse: false });
    assert.equal(mode(outside), 0o644);
  });
});
