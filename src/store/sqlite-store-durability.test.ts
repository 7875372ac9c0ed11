import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { killMidWrites, moduleUrl } from '../../test/kill-mid-writes.js';
import { openSqliteStore } from './index.js';
import { GRID, fixtures } from './testing/fixtures.js';

describe('SqliteStore: durability', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-store-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps the revision and data across reopen', () => {
    const path = join(dir, 'reopen', 'berth.db');
    const a = openSqliteStore(path);
    a.createService({ grid: GRID, spec: fixtures.spec(), deploy: true });
    const rev = a.revision();
    a.close();
    const b = openSqliteStore(path);
    assert.equal(b.revision(), rev);
    assert.equal(b.getService(GRID, 'web')?.deployment?.generation, 1);
    b.close();
  });

  it('a file from before the covering index gets it on open, keeps its instances, and lists them without sorting', async () => {
    const path = join(dir, 'index.db');
    const a = openSqliteStore(path);
    a.createService({ grid: GRID, spec: fixtures.spec(), deploy: true });
    a.applyControllerWrites({ createInstances: [fixtures.instance({ id: 'web-2-b', slot: 2 }), fixtures.instance({ id: 'web-1-a', slot: 1 })] });
    a.close();
    // As an older berth left it: the index lists used before.
    const { default: Database } = await import('better-sqlite3');
    const raw = new Database(path);
    raw.exec(`DROP INDEX instances_listing; CREATE INDEX instances_by_service ON instances (grid, service, slot, create_revision)`);
    raw.close();
    const b = openSqliteStore(path);
    assert.deepEqual(b.listInstances({ grid: GRID, service: 'web' }).map((i) => i.id), ['web-1-a', 'web-2-b']);
    b.close();
    const check = new Database(path, { readonly: true });
    const indexes = (check.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'instances' AND sql IS NOT NULL ORDER BY name`).all() as { name: string }[]).map((r) => r.name);
    const plan = (check.prepare(`EXPLAIN QUERY PLAN SELECT id, mod_revision FROM instances WHERE grid = ? AND service = ? ORDER BY grid, service, slot, create_revision DESC`).all('g', 's') as { detail: string }[]).map((r) => r.detail);
    check.close();
    assert.deepEqual(indexes, ['instances_by_node', 'instances_listing']);
    assert.deepEqual(plan, ['SEARCH instances USING COVERING INDEX instances_listing (grid=? AND service=?)']);
  });

  it('keeps every acknowledged service when the writing process is killed mid-way', async () => {
    const path = join(dir, 'kill.db');
    const source = `import { openSqliteStore } from ${JSON.stringify(moduleUrl('src/store/index.ts'))};
import { parseServiceSpec } from ${JSON.stringify(moduleUrl('src/model/index.ts'))};
const store = openSqliteStore(process.argv[2]);
for (let k = 0; k < 100000; k++) {
  store.createService({ grid: 'default', spec: parseServiceSpec({ name: 's' + k, containers: [{ command: 'sleep 1' }] }), deploy: true });
  process.stdout.write('ack ' + k + '\\n');
}
`;
    const acks = await killMidWrites({ dir, source, args: [path], killAfter: 201 });
    const acked = Number(acks.at(-1));
    assert.equal(acked, acks.length - 1, 'the acks are s0, s1, … in order');
    const store = openSqliteStore(path);
    try {
      for (let k = 0; k <= acked; k++) assert.ok(store.getService(GRID, `s${k}`), `acknowledged service s${k} survived`);
      assert.ok(store.listServices().length >= acked + 1);
    } finally {
      store.close();
    }
  });
});
