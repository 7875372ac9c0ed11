import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maxReplicasOf } from './server.js';

test('the replica limit is the flag\'s, else BERTH_MAX_REPLICAS, else 1000', () => {
  assert.equal(maxReplicasOf(undefined, {}), 1000);
  assert.equal(maxReplicasOf(undefined, { BERTH_MAX_REPLICAS: ' 5000 ' }), 5000);
  assert.equal(maxReplicasOf(20, { BERTH_MAX_REPLICAS: '5000' }), 20);
  assert.equal(maxReplicasOf(undefined, { BERTH_MAX_REPLICAS: '' }), 1000);
});

test('a replica limit that is not a whole number from 1 to 100000 stops the server with the setting named', () => {
  assert.throws(() => maxReplicasOf(undefined, { BERTH_MAX_REPLICAS: 'lots' }), /^Error: BERTH_MAX_REPLICAS must be a whole number from 1 to 100000, got "lots"$/);
  assert.throws(() => maxReplicasOf(undefined, { BERTH_MAX_REPLICAS: '0' }), /BERTH_MAX_REPLICAS/);
  assert.throws(() => maxReplicasOf(undefined, { BERTH_MAX_REPLICAS: '-5' }), /BERTH_MAX_REPLICAS/);
  assert.throws(() => maxReplicasOf(100_001, {}), /^Error: --max-replicas must be a whole number from 1 to 100000, got "100001"$/);
});
