import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { InstanceCache } from './instance-cache.js';
import { prepareDatabase } from './sqlite-schema.js';

function table(): { db: Database.Database; put: (id: string, revision: number, note: string) => void } {
  const db = new Database(':memory:');
  prepareDatabase(db, 1000);
  const insert = db.prepare(`INSERT OR REPLACE INTO instances (id, grid, service, node, slot, state, create_revision, json, mod_revision) VALUES (?, 'g', 's', 'n', 1, 'running', 1, ?, ?)`);
  return { db, put: (id, revision, note) => insert.run(id, JSON.stringify({ id, version: revision, note }), revision) };
}

test('a row rewritten at a revision a rolled-back transaction had used is read as it is now, not as the rolled-back text', () => {
  const { db, put } = table();
  let epoch = 0;
  const cache = new InstanceCache(db, () => epoch);
  put('a', 5, 'first');
  assert.equal((cache.at('a', 5) as unknown as { note: string }).note, 'first');
  // A transaction writes revision 6, is read inside it, then rolls back: revision 6 is given out again.
  const rollback = new Error('rollback');
  assert.throws(
    () =>
      db.transaction(() => {
        put('a', 6, 'rolled back');
        assert.equal((cache.at('a', 6) as unknown as { note: string }).note, 'rolled back');
        throw rollback;
      })(),
    (e) => e === rollback,
  );
  epoch++; // what ChangeLog.rollbacks does on every rollback
  put('a', 6, 'committed');
  assert.equal((cache.at('a', 6) as unknown as { note: string }).note, 'committed');
  assert.equal((cache.get('a') as unknown as { note: string }).note, 'committed');
  assert.equal(cache.get('missing'), undefined);
});

test('an unchanged row comes back as the same frozen object; a changed one is parsed again', () => {
  const { db, put } = table();
  const cache = new InstanceCache(db, () => 0);
  put('a', 1, 'one');
  const first = cache.at('a', 1);
  assert.equal(cache.at('a', 1), first);
  assert.ok(Object.isFrozen(first));
  put('a', 2, 'two');
  assert.notEqual(cache.get('a'), first);
  assert.throws(() => cache.at('a', 1), /no longer at revision 1/);
});

test('entries of deleted rows are pruned: the cache stays within twice the table', () => {
  const { db, put } = table();
  const cache = new InstanceCache(db, () => 0);
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 1000; i++) {
      put(`r${round}-${i}`, round * 1000 + i + 1, 'x');
      cache.at(`r${round}-${i}`, round * 1000 + i + 1);
    }
    db.prepare(`DELETE FROM instances WHERE id LIKE ?`).run(`r${round}-%`);
  }
  assert.ok(cache.size <= 2048, `cache holds ${cache.size} entries for an empty table`);
});
