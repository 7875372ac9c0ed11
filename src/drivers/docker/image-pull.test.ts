import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Dockerode from 'dockerode';
import { hasCode } from '../../lib/index.js';
import { ensureImage, type PullProgress } from './image-pull.js';
import { engineGate, importBusyboxImage, removeImage, TEST_PREFIX } from './io-test-support.js';

const gate = engineGate('image-pull.test.ts');

/** A port nothing listens on right now (the kernel's pick, closed again). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Debian's docker-registry on 127.0.0.1:port, storing in a temp dir. */
async function startRegistry(): Promise<{ port: number; child: ChildProcess; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), `${TEST_PREFIX}-registry-`));
  let log = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const config = join(dir, 'config.yml');
    writeFileSync(
      config,
      `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'store')}\nhttp:\n  addr: 127.0.0.1:${port}\n`,
    );
    // Its log (stderr) reports every 404 these tests cause: kept, and shown only if it does not start.
    const child = spawn('/usr/bin/docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', (b: Buffer) => (log = (log + b.toString()).slice(-4096)));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + 10_000;
    let up = false;
    while (!up && Date.now() < deadline && child.exitCode === null) {
      up = await fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.ok, () => false);
      if (!up) await Promise.race([exited, new Promise((r) => setTimeout(r, 50))]);
    }
    if (up) return { port, child, dir };
    if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    await exited; // the port was taken meanwhile: try another
  }
  throw new Error(`docker-registry did not start: ${log}`);
}

/** Ports the silent servers of this file had: the engine keeps its own pull from such a "registry" going after its client left (until its 15 s ping timeout), so a later server must not get the same port and inherit that pull's failure. */
const silentPorts = new Set<number>();

/** A TCP server that accepts connections and never answers: a registry that hangs. On a port no earlier one of this file had. */
async function silentServer(): Promise<{ port: number; server: Server; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  if (silentPorts.has(port)) {
    await new Promise((resolve) => server.close(resolve));
    return silentServer();
  }
  silentPorts.add(port);
  return {
    port,
    server,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function consume(docker: Dockerode, stream: NodeJS.ReadableStream): Promise<void> {
  await new Promise<void>((resolve, reject) =>
    docker.modem.followProgress(
      stream,
      (err: Error | null, out: { error?: string }[]) => {
        const failed = out.find((m) => m.error !== undefined);
        if (err || failed) reject(err ?? new Error(failed?.error));
        else resolve();
      },
      () => {},
    ),
  );
}

const pullFailure = (reason: string) => (e: unknown) => {
  assert.ok(hasCode(e, 'IMAGE_PULL_FAILED'), `got ${String(e)}`);
  assert.equal((e as { details: { reason: string } }).details.reason, reason, (e as Error).message);
  return true;
};

describe('ensureImage, against Debian’s docker-registry on 127.0.0.1', { skip: gate.skip, timeout: 120_000 }, () => {
  const docker = gate.docker as Dockerode;
  let registry: Awaited<ReturnType<typeof startRegistry>>;
  let ref = '';
  const made: string[] = [];

  before(async () => {
    registry = await startRegistry();
    ref = `127.0.0.1:${registry.port}/berth-test-${process.pid}/bb:1`;
    made.push(ref);
    await importBusyboxImage(docker, ref);
    // The engine wants an X-Registry-Auth header, even an empty one.
    await consume(docker, await docker.getImage(ref).push({ authconfig: {} }));
    await removeImage(docker, ref);
  });

  after(async () => {
    for (const r of made) await removeImage(docker, r);
    if (registry?.child.pid !== undefined && registry.child.exitCode === null) {
      const exited = new Promise((resolve) => registry.child.once('exit', resolve));
      process.kill(registry.child.pid, 'SIGKILL');
      await exited;
    }
    if (registry) rmSync(registry.dir, { recursive: true, force: true });
  });

  it('pulls an absent image through the engine with per-layer progress, then finds it present and pulls nothing', async () => {
    const progress: PullProgress[] = [];
    const first = await ensureImage(docker, ref, 'IfNotPresent', { onProgress: (p) => progress.push(p) });
    assert.equal(first.pulled, true);
    assert.equal(first.imageId, (await docker.getImage(ref).inspect()).Id);
    const layer = progress.find((p) => p.layer !== undefined && p.status === 'Downloading');
    assert.ok(layer, `a Downloading message of a layer: ${JSON.stringify(progress)}`);
    assert.ok(layer.total !== undefined && layer.total > 0 && layer.current !== undefined);
    assert.ok(progress.some((p) => p.layer === layer.layer && p.status === 'Pull complete'), JSON.stringify(progress));
    assert.ok(progress.some((p) => p.layer === undefined && /Pulling from/.test(p.status)));

    const seen: PullProgress[] = [];
    const second = await ensureImage(docker, ref, 'IfNotPresent', { onProgress: (p) => seen.push(p) });
    assert.deepEqual(second, { pulled: false, imageId: first.imageId });
    assert.deepEqual(seen, []);
    assert.deepEqual(await ensureImage(docker, ref, 'Never'), { pulled: false, imageId: first.imageId });
  });

  it('never reaches a registry for a present image unless the policy is Always', async () => {
    // A present image whose registry does not exist: any contact would fail.
    const dead = `127.0.0.1:${await freePort()}/berth-test-${process.pid}/present:1`;
    made.push(dead);
    await importBusyboxImage(docker, dead);
    assert.equal((await ensureImage(docker, dead, 'IfNotPresent')).pulled, false);
    assert.equal((await ensureImage(docker, dead, 'Never')).pulled, false);
    await assert.rejects(ensureImage(docker, dead, 'Always', { timeoutMs: 20_000 }), pullFailure('unreachable'));
  });

  it('pulls a present image again with Always', async () => {
    await ensureImage(docker, ref, 'IfNotPresent');
    const progress: PullProgress[] = [];
    const r = await ensureImage(docker, ref, 'Always', { onProgress: (p) => progress.push(p) });
    assert.equal(r.pulled, true);
    assert.ok(progress.some((p) => /Image is up to date|Downloaded newer image/.test(p.status)), JSON.stringify(progress));
  });

  it('shares one pull between concurrent calls for the same image', async () => {
    await removeImage(docker, ref);
    const counting = new Dockerode();
    let pulls = 0;
    const pull = counting.pull.bind(counting);
    counting.pull = ((...args: Parameters<typeof pull>) => {
      pulls += 1;
      return pull(...args);
    }) as typeof counting.pull;
    const seenA: PullProgress[] = [];
    const results = await Promise.all([
      ensureImage(counting, ref, 'IfNotPresent', { onProgress: (p) => seenA.push(p) }),
      ensureImage(counting, ref, 'IfNotPresent'),
      ensureImage(counting, ref, 'Always'),
    ]);
    assert.equal(pulls, 1);
    assert.deepEqual(results.map((r) => r.pulled), [true, true, true]);
    assert.equal(new Set(results.map((r) => r.imageId)).size, 1);
    assert.ok(seenA.length > 0);
  });

  it('refuses an absent image under Never with IMAGE_NOT_PRESENT, naming the image and the fix', async () => {
    const absent = `127.0.0.1:${registry.port}/berth-test-${process.pid}/bb:absent`;
    await assert.rejects(ensureImage(docker, absent, 'Never'), (e: unknown) => {
      assert.ok(hasCode(e, 'IMAGE_NOT_PRESENT'), String(e));
      assert.match((e as Error).message, new RegExp(`image ${absent.replace(/[.]/g, '\\.')} is not present on node and imagePullPolicy is Never: .*IfNotPresent`));
      return true;
    });
  });

  it('fails a tag the registry does not have as not-found, quoting the registry', async () => {
    const missing = `127.0.0.1:${registry.port}/berth-test-${process.pid}/bb:nosuchtag`;
    await assert.rejects(ensureImage(docker, missing, 'IfNotPresent'), (e: unknown) => {
      pullFailure('not-found')(e);
      assert.equal((e as Error).message, `image ${missing} not found: the registry answered 'manifest unknown'; check the image name and tag`);
      return true;
    });
  });

  it('fails a registry port nothing listens on as unreachable, within its bound', async () => {
    const nowhere = `127.0.0.1:${await freePort()}/berth-test-${process.pid}/bb:1`;
    const t0 = Date.now();
    await assert.rejects(ensureImage(docker, nowhere, 'IfNotPresent', { timeoutMs: 10_000 }), (e: unknown) => {
      pullFailure('unreachable')(e);
      assert.match((e as Error).message, /is unreachable \(.*connection refused\)/);
      return true;
    });
    assert.ok(Date.now() - t0 < 10_000);
  });

  it('cancels a pull that makes no progress at the stall bound, and one that runs past the overall bound', async () => {
    const hang = await silentServer();
    try {
      const hanging = `127.0.0.1:${hang.port}/berth-test-${process.pid}/bb:1`;
      let t0 = Date.now();
      await assert.rejects(ensureImage(docker, hanging, 'IfNotPresent', { stallMs: 1000 }), (e: unknown) => {
        pullFailure('unreachable')(e);
        assert.match((e as Error).message, /no progress for 1 s/);
        return true;
      });
      let took = Date.now() - t0;
      assert.ok(took >= 900 && took < 5000, `stalled pull failed after ${took} ms`);

      t0 = Date.now();
      await assert.rejects(ensureImage(docker, hanging, 'IfNotPresent', { timeoutMs: 1500 }), (e: unknown) => {
        pullFailure('unreachable')(e);
        assert.match((e as Error).message, /did not finish within 2 s/);
        return true;
      });
      took = Date.now() - t0;
      assert.ok(took >= 1400 && took < 5000, `pull failed after ${took} ms`);
    } finally {
      await hang.close();
    }
  });

  it('rejects with the abort reason when the caller aborts, at once', async () => {
    const hang = await silentServer();
    try {
      const hanging = `127.0.0.1:${hang.port}/berth-test-${process.pid}/bb:2`;
      const ac = new AbortController();
      const t0 = Date.now();
      const other = ensureImage(docker, hanging, 'IfNotPresent', { stallMs: 1500 }); // starts the shared pull
      other.catch(() => {});
      // The same stall bound for both: whichever call's local-image check answers first starts the
      // shared pull with its own bound (the other's could be the 30 s default: a CI flake, past the
      // engine's own 25 s deadline).
      const aborted = ensureImage(docker, hanging, 'IfNotPresent', { signal: ac.signal, stallMs: 1500 });
      setTimeout(() => ac.abort(new Error('caller gave up')), 300);
      await assert.rejects(aborted, /caller gave up/);
      assert.ok(Date.now() - t0 < 1000, `aborted after ${Date.now() - t0} ms`);
      // The other caller still waits for the shared pull, which runs on until its own stall bound.
      await assert.rejects(other, (e: unknown) => pullFailure('unreachable')(e) && /no progress/.test((e as Error).message));
      assert.ok(Date.now() - t0 >= 1400);
    } finally {
      await hang.close();
    }
  });
});

describe('ensureImage with a reference pinned to the local image id (what the docker CLI sends through berth’s Docker face)', { skip: gate.skip, timeout: 60_000 }, () => {
  const docker = gate.docker as Dockerode;
  const name = `berth-test-${process.pid}/pin`;
  let id = '';
  before(async () => {
    await importBusyboxImage(docker, `${name}:1`);
    id = (await docker.getImage(`${name}:1`).inspect()).Id;
  });
  after(async () => removeImage(docker, `${name}:1`));

  it('finds name:tag@<image id> locally and pulls nothing, under every policy but Always', async () => {
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(await ensureImage(docker, `${name}:1@${id}`, 'IfNotPresent'), { pulled: false, imageId: id });
    assert.deepEqual(await ensureImage(docker, `${name}:1@${id}`, 'Never'), { pulled: false, imageId: id });
    assert.deepEqual(await ensureImage(docker, `${name}@${id}`, 'Never'), { pulled: false, imageId: id }, 'a name without a tag matches any of its tags');
  });

  it('finds <image id>@<image id> locally (docker service create sha256:<id> through the face) and pulls nothing', async () => {
    assert.deepEqual(await ensureImage(docker, `${id}@${id}`, 'Never'), { pulled: false, imageId: id });
    const other = `sha256:${'0'.repeat(64)}`;
    await assert.rejects(ensureImage(docker, `${other}@${id}`, 'Never'), (e: unknown) => hasCode(e, 'IMAGE_NOT_PRESENT'), 'another id as the name is not this image');
  });

  it('does not take the id for another name, nor another tag of the name', async () => {
    await assert.rejects(ensureImage(docker, `berth-test-${process.pid}/other:1@${id}`, 'Never'), (e: unknown) => hasCode(e, 'IMAGE_NOT_PRESENT'));
    await assert.rejects(ensureImage(docker, `${name}:2@${id}`, 'Never'), (e: unknown) => hasCode(e, 'IMAGE_NOT_PRESENT'));
    const wrong = `sha256:${'0'.repeat(64)}`;
    await assert.rejects(ensureImage(docker, `${name}:1@${wrong}`, 'Never'), (e: unknown) => hasCode(e, 'IMAGE_NOT_PRESENT'));
  });
});
