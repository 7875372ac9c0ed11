import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SWARM_ID_LENGTH, networkIdOf, nodeIdOf } from './swarm-ids.js';
import { nodeId } from './swarm-objects.js';

test('a node id is 25 base-36 characters, the same for the same name and the same as /nodes shows', () => {
  const id = nodeIdOf('node-a');
  assert.match(id, /^[0-9a-z]{25}$/);
  assert.equal(id.length, SWARM_ID_LENGTH);
  assert.equal(nodeIdOf('node-a'), id);
  assert.equal(nodeId('node-a'), id, 'the id of the node in /nodes');
});

test('different node names give different ids', () => {
  assert.notEqual(nodeIdOf('node-a'), nodeIdOf('node-b'));
});

test('a network id is 25 base-36 characters and differs from the node id of the same name', () => {
  assert.match(networkIdOf('berth'), /^[0-9a-z]{25}$/);
  assert.notEqual(networkIdOf('berth'), nodeIdOf('berth'));
});
