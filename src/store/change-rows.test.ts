import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fillChangeJson, withoutDerivableJson } from './change-rows.js';

const instanceRow = { id: 'web-1-a', mod_revision: 7, json: '{"id":"web-1-a","version":7}' };
const history = { revision: 7, kind: 'instance', op: 'put', key: 'web-1-a', json: instanceRow.json };
const rowOf = (row: Record<string, unknown> | undefined) => (table: string, key: readonly (string | number)[]) => (table === 'instances' && key[0] === 'web-1-a' ? row : undefined);

test('a history put loses its object only when the same commit holds that row at that revision with that text', () => {
  assert.equal(withoutDerivableJson(history, rowOf(instanceRow))['json'], undefined);
  assert.equal(withoutDerivableJson(history, rowOf({ ...instanceRow, mod_revision: 8 }))['json'], history.json, 'the row moved on');
  assert.equal(withoutDerivableJson(history, rowOf({ ...instanceRow, json: '{"id":"web-1-a","version":7,"x":1}' }))['json'], history.json, 'another text');
  assert.equal(withoutDerivableJson(history, rowOf(undefined))['json'], history.json, 'not in the commit');
  assert.equal(withoutDerivableJson({ ...history, op: 'delete' }, rowOf(instanceRow))['json'], history.json, 'a delete keeps the object it deleted');
  assert.equal(withoutDerivableJson({ ...history, kind: 'service', key: 'no-slash' }, rowOf(instanceRow))['json'], history.json, 'a malformed key');
});

test('a replica fills what it can from the same batch, and says up to where its history is incomplete', () => {
  const stripped = { revision: 7, kind: 'instance', op: 'put', key: 'web-1-a' };
  const orphan = { revision: 5, kind: 'instance', op: 'put', key: 'gone' };
  const { rows, unfilledUpTo } = fillChangeJson([
    { table: 'instances', key: ['web-1-a'], row: instanceRow },
    { table: 'changes', key: [7], row: stripped },
    { table: 'changes', key: [5], row: orphan },
    { table: 'changes', key: [4], row: null },
  ]);
  assert.deepEqual(rows.find((r) => r.table === 'changes' && r.key[0] === 7)?.row, history);
  assert.equal(rows.some((r) => r.key[0] === 5), false, 'the orphan is left out');
  assert.ok(rows.some((r) => r.key[0] === 4 && r.row === null), 'deletes pass');
  assert.equal(unfilledUpTo, 5);
});
