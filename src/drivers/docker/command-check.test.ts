import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { missingCommand } from './command-check.js';
import { dockerForTests } from './engine-gate.js';
import { testImage } from './test-images.js';

/* The command check against a real engine: what it finds, and that it leaves no connection to the engine in use. */

const docker = await dockerForTests();
const skip = docker ? undefined : 'no Docker engine answers';
const image = testImage('busybox');
const name = `berth-test-cmdcheck-${randomBytes(4).toString('hex')}`;

after(async () => {
  await docker?.getContainer(name).remove({ force: true }).catch(() => undefined);
});

/** Sockets keeping the event loop alive (a drained HEAD's socket is freed or unref'd; an undrained one is neither). */
const pipes = (): number => process.getActiveResourcesInfo().filter((r) => r === 'PipeWrap' || r === 'TCPSocketWrap').length;

describe('missingCommand', { skip }, () => {
  it('finds a command in PATH and at an absolute path, names a missing one, and leaves no request to the engine open', async () => {
    if (!docker) return;
    const container = await docker.createContainer({ name, Image: image, Cmd: ['httpd'] });
    // Warm up the client (its first request may leave a pooled socket behind), then count.
    assert.equal(await missingCommand(docker, container, 'httpd', {}, image), undefined);
    await new Promise((r) => setTimeout(r, 50));
    const before = pipes();
    for (let k = 0; k < 5; k++) assert.equal(await missingCommand(docker, container, 'httpd', {}, image), undefined);
    assert.equal(await missingCommand(docker, container, '/bin/busybox', {}, image), undefined);
    assert.match((await missingCommand(docker, container, 'berth-no-such-command', {}, image)) ?? '', /executable file not found in \$PATH/);
    assert.match((await missingCommand(docker, container, '/berth/no/such', {}, image)) ?? '', /no such file or directory/);
    await new Promise((r) => setTimeout(r, 50));
    // Before the fix every found command left its HEAD's socket in use: 6 more here.
    assert.equal(pipes(), before, `sockets in use went from ${before} to ${pipes()}`);
  });
});
