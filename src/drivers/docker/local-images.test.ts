import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dockerForTests } from './engine-gate.js';
import { DockerLocalImages } from './local-images.js';
import { testImage } from './test-images.js';

const docker = await dockerForTests();
const skip = docker ? undefined : 'no Docker engine answers';

describe('DockerLocalImages', { skip }, () => {
  it('finds a local image by its reference, with the engine\'s id and platform, and never pulls a missing one', async () => {
    const images = new DockerLocalImages(docker!);
    const ref = testImage('busybox');
    const found = await images.inspect(ref);
    const engine = await docker!.getImage(ref).inspect();
    assert.deepEqual(found, { id: engine.Id, os: engine.Os, architecture: engine.Architecture, size: engine.Size });
    assert.match(found?.id ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.equal(await images.inspect('berth-test-no-such-image:never'), undefined);
    await assert.rejects(docker!.getImage('berth-test-no-such-image:never').inspect(), /no such image/i);
  });

  it('counts the images as docker images lists them (docker info\'s Images)', async () => {
    const count = await new DockerLocalImages(docker!).count();
    assert.ok(count >= 1, 'the test image is there');
    assert.equal(count, (await docker!.listImages()).length);
  });
});
