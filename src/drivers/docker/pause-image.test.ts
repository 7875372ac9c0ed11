import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { hasCode, nativeBinaryPath } from '../../lib/index.js';
import { dockerForTests } from './engine-gate.js';
import { ensurePauseImage } from './pause-image.js';

/*
 * The sandbox image against the real engine: content-addressed, imported once, and a container of it
 * holds on until SIGTERM, then exits 0 at once.
 */

const built = spawnSync(process.execPath, ['scripts/build-native.mjs'], { stdio: 'inherit' });
if (built.status !== 0) throw new Error('scripts/build-native.mjs failed');

const docker = await dockerForTests();
const TIMEOUT = { timeout: 30_000 };
const unique = `berth-test-pause-${process.pid}-${randomBytes(3).toString('hex')}`;
const scratch = mkdtempSync(join(tmpdir(), 'berth-pause-image-'));
const containers: string[] = [];
const images: string[] = [];
after(async () => {
  if (docker) {
    for (const name of containers) await docker.getContainer(name).remove({ force: true }).catch(() => {});
    // Only the images made from this test's own variant of the program; the real one is shared.
    for (const ref of images) await docker.getImage(ref).remove({ force: true }).catch(() => {});
  }
  rmSync(scratch, { recursive: true, force: true });
});

// The reaping case runs busybox:local beside the sandbox (scripts/build-images.sh builds it). In CI
// (.ci/run builds it) the case runs regardless, and fails naming the image when it is absent.
const busyboxPresent = docker !== undefined && (await docker.getImage('busybox:local').inspect().then(() => true, () => false));
const busyboxMissing = busyboxPresent || process.env.CI ? false : 'busybox:local is absent: run scripts/build-images.sh';

const shortHash = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 12);

describe('ensurePauseImage', { skip: docker === undefined }, () => {
  const engine = docker!;

  it('names the image after the hash of build/berth-pause and answers the same reference twice', TIMEOUT, async () => {
    const first = await ensurePauseImage(engine);
    const second = await ensurePauseImage(engine);
    assert.equal(first, `berth-pause:${shortHash(nativeBinaryPath('berth-pause'))}`);
    assert.equal(second, first);
    const image = await engine.getImage(first).inspect();
    assert.deepEqual(image.Config.Entrypoint, ['/pause']);
    assert.equal(image.Config.Labels?.['io.berth.built-by'], 'berth');
  });

  it('runs a container that stays up and exits 0 within 1 s of SIGTERM', TIMEOUT, async () => {
    const ref = await ensurePauseImage(engine);
    const name = `${unique}-run`;
    containers.push(name);
    const container = await engine.createContainer({ name, Image: ref, HostConfig: { NetworkMode: 'none' } });
    await container.start();
    // No event says "still running a while later": give an early exit 300 ms to show.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await container.inspect()).State.Running, true, 'the pause container ended on its own');
    const exited = container.wait() as Promise<{ StatusCode: number }>;
    const t0 = performance.now();
    await container.kill({ signal: 'SIGTERM' });
    const { StatusCode } = await exited;
    const ms = performance.now() - t0;
    assert.equal(StatusCode, 0);
    assert.ok(ms < 1000, `took ${ms.toFixed(0)} ms to stop`);
    assert.equal((await container.inspect()).State.OOMKilled, false);
  });

  it('reaps an orphan that exits in its PID namespace (it is PID 1 there)', { ...TIMEOUT, skip: busyboxMissing }, async () => {
    const ref = await ensurePauseImage(engine);
    const name = `${unique}-reap`;
    containers.push(name);
    const sandbox = await engine.createContainer({ name, Image: ref, HostConfig: { NetworkMode: 'none' } });
    await sandbox.start();
    // A container in the sandbox's PID namespace leaves an orphan `sleep` (re-parented to PID 1, the
    // pause program), waits until it runs, then until it is gone: a zombie left unreaped stays listed (Z).
    const script = [
      '(sleep 0.3 &)',
      'i=0; until ps -o comm | grep -qx sleep; do i=$((i+1)); [ $i -ge 200 ] && { echo "the orphan never ran"; exit 2; }; usleep 10000; done',
      'i=0; while ps -o comm | grep -qx sleep; do i=$((i+1)); [ $i -ge 50 ] && { ps -o pid,ppid,stat,comm; exit 1; }; usleep 100000; done',
    ].join('\n');
    const probe = `${unique}-reap-probe`;
    containers.push(probe);
    const prober = await engine.createContainer({
      name: probe,
      Image: 'busybox:local',
      Cmd: ['sh', '-c', script],
      HostConfig: { NetworkMode: 'none', PidMode: `container:${name}` },
    });
    const done = prober.wait() as Promise<{ StatusCode: number }>;
    await prober.start();
    const { StatusCode } = await done;
    const output = (await prober.logs({ stdout: true, stderr: true })).toString('utf8');
    assert.equal(StatusCode, 0, `the orphan was not reaped:\n${output}`);
  });

  it('imports a program it has not seen once for concurrent callers, then only inspects', TIMEOUT, async () => {
    // A variant of the program (trailing bytes do not change an ELF file's meaning) whose image cannot exist yet.
    const variant = join(scratch, 'berth-pause');
    copyFileSync(nativeBinaryPath('berth-pause'), variant);
    await appendFile(variant, randomBytes(16));
    const expected = `berth-pause:${shortHash(variant)}`;
    images.push(expected);
    let imports = 0;
    const importImage = engine.importImage.bind(engine);
    const counting = Object.assign(Object.create(engine) as typeof engine, {
      importImage: ((...args: Parameters<typeof importImage>) => {
        imports++;
        return importImage(...args);
      }) as typeof importImage,
    });
    const refs = await Promise.all([1, 2, 3].map(() => ensurePauseImage(counting, { binaryPath: variant })));
    assert.deepEqual(refs, [expected, expected, expected]);
    assert.equal(imports, 1);
    assert.equal(await ensurePauseImage(counting, { binaryPath: variant }), expected);
    assert.equal(imports, 1);
    const image = await engine.getImage(expected).inspect();
    assert.deepEqual(image.Config.Entrypoint, ['/pause']);
  });

  it('says to run npm run build when the program is missing', TIMEOUT, async () => {
    await assert.rejects(ensurePauseImage(engine, { binaryPath: join(scratch, 'absent') }), (e: Error) => {
      assert.ok(hasCode(e, 'CONTAINER_START_FAILED'));
      assert.match(e.message, /npm run build/);
      return true;
    });
  });
});
