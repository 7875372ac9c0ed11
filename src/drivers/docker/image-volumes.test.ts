import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type Dockerode from 'dockerode';
import { imageVolumeMounts } from './image-volumes.js';

/* The image's VOLUME paths a stateful slot keeps: an image is anyone's, so its paths are not trusted. */

const root = mkdtempSync(join(tmpdir(), 'berth-image-volumes-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** An engine whose one image declares these VOLUME paths. */
const engineWith = (volumes: Record<string, object>): Dockerode => ({ getImage: () => ({ inspect: async () => ({ Config: { Volumes: volumes } }) }) }) as unknown as Dockerode;

describe('imageVolumeMounts', () => {
  it('binds each declared path from a directory of the slot, normalized, and none a spec mount covers', async () => {
    const dir = join(root, 'slot-1', 'image-volumes');
    const mounts = await imageVolumeMounts(engineWith({ '/data/': {}, '/var/lib//cache': {}, '/srv': {} }), 'sha256:x', { imageVolumesDir: dir, mounts: [{ type: 'volume', target: '/srv/' }] });
    assert.deepEqual(mounts, [
      { type: 'bind', source: join(dir, 'data'), target: '/data' },
      { type: 'bind', source: join(dir, 'var_lib_cache'), target: '/var/lib/cache' },
    ]);
    assert.deepEqual(readdirSync(dir).sort(), ['data', 'var_lib_cache']);
  });

  it('leaves to the engine a path that would bind from above the slot\'s directory: the root, a climb, a relative one', async () => {
    const dir = join(root, 'slot-2', 'image-volumes');
    const mounts = await imageVolumeMounts(engineWith({ '/..': {}, '/../../etc': {}, '/': {}, '..': {}, 'relative/x': {} }), 'sha256:x', { imageVolumesDir: dir });
    // `/../../etc` is `/etc` once normalized: a directory of the slot, like any other.
    assert.deepEqual(mounts, [{ type: 'bind', source: join(dir, 'etc'), target: '/etc' }]);
    assert.deepEqual(readdirSync(dir), ['etc']);
    assert.equal(existsSync(join(root, 'etc')), false);
  });

  it('binds nothing without a directory for them (not a stateful slot)', async () => {
    assert.deepEqual(await imageVolumeMounts(engineWith({ '/data': {} }), 'sha256:x', {}), []);
  });
});
