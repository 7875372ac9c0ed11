import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { instance } from '../../test/fixtures.js';
import { imageFields, slotMountDir } from './instance-sandbox.js';

describe('imageFields', () => {
  const inst = instance({ slot: 2 });
  const image = { ...inst.spec.containers[0]!, image: 'redis:latest', mounts: [{ type: 'volume' as const, target: '/var/lib/x', readOnly: false }] };

  it("gives a stateful slot's image container the slot's mounts directory for the image's own VOLUMEs, the one its source-less volume mounts use", () => {
    const fields = imageFields(image, inst, '/data/volumes/default/db/2');
    assert.equal(fields.imageVolumesDir, '/data/volumes/default/db/2/mounts');
    assert.deepEqual(fields.mounts, [{ type: 'bind', source: slotMountDir('/data/volumes/default/db/2', '/var/lib/x'), target: '/var/lib/x' }]);
    assert.equal(slotMountDir('/data/volumes/default/db/2', '/var/lib/x'), '/data/volumes/default/db/2/mounts/var_lib_x');
  });

  it('gives a stateless one none: the engine makes such volumes anonymous', () => {
    const fields = imageFields(image, inst, undefined);
    assert.equal(fields.imageVolumesDir, undefined);
    assert.deepEqual(fields.mounts, [{ type: 'volume', target: '/var/lib/x' }]);
  });
});
