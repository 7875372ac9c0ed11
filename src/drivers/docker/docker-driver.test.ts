import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ContainerConfig, ContainerHandle } from '../driver.js';
import { SANDBOX_CONTAINER } from '../driver.js';
import { runDriverConformance, type ConformanceProgram } from '../driver-conformance.js';
import { DockerDriver, type DockerHandle } from './docker-driver.js';
import { ensureNetwork } from './docker-network.js';
import { dockerForTests } from './engine-gate.js';
import { ensurePauseImage } from './pause-image.js';
import { testImage } from './test-images.js';
import { importBusyboxImage, removeImage } from './io-test-support.js';

const docker = await dockerForTests();
const skip = docker ? undefined : 'no Docker engine answers';
const owner = `t${randomBytes(4).toString('hex')}`;
const image = testImage('busybox');
// A network of this test file's own (another test file may run at the same time on the same engine).
const network = `berth-test-${owner}`;
// 10.250–10.254: clear of the e2e files (10.215/10.216), the defaults (10.213/10.214) and the bench.
const subnet = `10.${250 + (process.pid % 5)}.${(process.pid >> 3) % 250}.0/24`;

before(async () => {
  if (docker) await ensureNetwork(docker, { name: network, subnet });
});
after(async () => {
  if (!docker) return;
  for (const c of await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`io.berth.owner=${owner}`] }) })) {
    await docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined);
  }
  await docker.getNetwork(network).remove().catch(() => undefined);
});

const programs: Record<ConformanceProgram, { cmd: string[] }> = {
  runs: { cmd: ['sleep', '1000'] },
  'exits-3': { cmd: ['sh', '-c', 'exit 3'] },
  'ignores-stop': { cmd: ['sh', '-c', 'trap "" TERM; echo ready; while :; do sleep 1; done'] },
  'bad-command': { cmd: ['/berth-no-such-command'] },
  'writes-logs': { cmd: ['sh', '-c', 'echo one; echo two; echo oops >&2; echo three'] },
};

function config(id: string, cmd: readonly string[], extra: Partial<ContainerConfig> = {}): ContainerConfig {
  return {
    instanceId: id,
    containerName: 'main',
    image,
    argv: [],
    cmd,
    env: { PATH: '/bin' },
    workingDir: '/tmp',
    address: '',
    stateDir: '/nonexistent',
    log: { maxBytes: 1 << 20, maxFiles: 2 },
    ...extra,
  };
}

function makeDriver(): DockerDriver {
  if (!docker) throw new Error('no engine');
  return new DockerDriver({ docker, owner, network, pauseImage: () => ensurePauseImage(docker) });
}

runDriverConformance<DockerDriver>({
  name: 'docker',
  ...(skip ? { skip } : {}),
  makeDriver,
  makeConfig: (program, { id }) => config(id, programs[program].cmd),
  execArgv: (program) => (program === 'hangs' ? ['sh', '-c', 'sleep 30 & sleep 30'] : ['sh', '-c', 'echo "$PROBE_VAR"; pwd; exit 3']),
  disposeDriver: (driver) => driver.dispose(),
  timeoutMs: 30_000,
});

void describe('DockerDriver sandboxes', { ...(skip ? { skip } : {}), timeout: 60_000 }, () => {
  const started: { driver: DockerDriver; handle: ContainerHandle }[] = [];
  after(async () => {
    for (const { driver, handle } of started.reverse()) await driver.destroy(handle).catch(() => undefined);
  });

  void it('runs two containers in one sandbox: they share its address and localhost', async () => {
    const driver = makeDriver();
    const id = `sbx-${owner}-1`;
    const address = subnet.replace(/0\/24$/, '10');
    const sandbox = await driver.runSandbox({ instanceId: id, address, hostname: 'web-1' });
    started.push({ driver, handle: sandbox });
    const server = await driver.start(config(id, ['sh', '-c', 'while :; do echo hello-from-app | nc -l -p 8080; done'], { containerName: 'app', sandbox }));
    started.push({ driver, handle: server });
    const sidecar = await driver.start(
      config(id, ['sh', '-c', 'for i in $(seq 1 50); do r=$(nc 127.0.0.1 8080 </dev/null) && [ -n "$r" ] && echo "got $r" && hostname && ip -4 addr show eth0 | grep -o "inet [0-9.]*" && exit 0; sleep 0.1; done; exit 1'], { containerName: 'sidecar', sandbox }),
    );
    started.push({ driver, handle: sidecar });
    const exit = await driver.wait(sidecar, AbortSignal.timeout(20_000));
    const lines: string[] = [];
    for await (const l of driver.logs(sidecar, {})) lines.push(l.text);
    assert.equal(exit.exitCode, 0, lines.join('\n'));
    assert.deepEqual(lines, ['got hello-from-app', 'web-1', `inet ${address}`]);
    const listed = await driver.list();
    const mine = listed.filter((l) => l.instanceId === id).map((l) => l.containerName).sort();
    assert.deepEqual(mine, [SANDBOX_CONTAINER, 'app', 'sidecar'].sort());
    driver.dispose();
  });

  void it('says which address is taken when a second sandbox asks for it', async () => {
    const driver = makeDriver();
    const address = subnet.replace(/0\/24$/, '11');
    const first = await driver.runSandbox({ instanceId: `sbx-${owner}-2`, address });
    started.push({ driver, handle: first });
    await assert.rejects(driver.runSandbox({ instanceId: `sbx-${owner}-3`, address }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'CONTAINER_START_FAILED');
      assert.match(e.message, /address|in use/i);
      return true;
    });
    driver.dispose();
  });

  void it('ends a sandbox with stop (exit 0 on SIGTERM) and removes it with destroy', async () => {
    const driver = makeDriver();
    const sandbox = await driver.runSandbox({ instanceId: `sbx-${owner}-4`, address: subnet.replace(/0\/24$/, '12') });
    const exit = await driver.stop(sandbox, { signal: 'SIGTERM', timeoutMs: 5000 });
    assert.equal(exit.exitCode, 0);
    await driver.destroy(sandbox);
    assert.deepEqual(await driver.recover(sandbox), { state: 'exited', exit: { exitCode: 255, message: 'the container is gone (removed outside berth)' } });
    driver.dispose();
  });

  void it('reads no log lines, and no error, from a container that is gone (an ended instance’s logs next to its successor’s)', async () => {
    const driver = makeDriver();
    const id = `sbx-${owner}-5`;
    const sandbox = await driver.runSandbox({ instanceId: id, address: subnet.replace(/0\/24$/, '13') });
    started.push({ driver, handle: sandbox });
    const app = await driver.start(config(id, ['sh', '-c', 'echo before-removal'], { containerName: 'app', sandbox }));
    await driver.wait(app, AbortSignal.timeout(20_000));
    const read = async (): Promise<string[]> => {
      const lines: string[] = [];
      for await (const l of driver.logs(app, {})) lines.push(l.text);
      return lines;
    };
    assert.deepEqual(await read(), ['before-removal']);
    await driver.destroy(app);
    assert.deepEqual(await read(), []);
    driver.dispose();
  });
});

void describe('DockerDriver: a stateful slot keeps the image\'s own VOLUMEs (imageVolumesDir)', { ...(skip ? { skip } : {}), timeout: 60_000 }, () => {
  // An image that declares two volumes, as redis:latest declares /data.
  const volumeImage = `berth-test-${owner}/volumes:1`;
  const dir = mkdtempSync(join(tmpdir(), `berth-test-${owner}-slot-`));
  const started: { driver: DockerDriver; handle: ContainerHandle }[] = [];
  before(async () => {
    if (docker) await importBusyboxImage(docker, volumeImage, { changes: ['VOLUME ["/data", "/var/cache/app"]'] });
  });
  after(async () => {
    for (const { driver, handle } of started.reverse()) await driver.destroy(handle).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    if (docker) await removeImage(docker, volumeImage);
  });

  void it('binds each declared volume that no mount covers from the slot directory, so its data outlives the container', async () => {
    const driver = makeDriver();
    const id = `vol-${owner}-1`;
    const sandbox = await driver.runSandbox({ instanceId: id, address: subnet.replace(/0\/24$/, '14') });
    started.push({ driver, handle: sandbox });
    const write = 'cat /data/kept 2>/dev/null; echo written-once > /data/kept; echo cache > /var/cache/app/c';
    const first = await driver.start(config(id, ['sh', '-c', write], { containerName: 'db', sandbox, image: volumeImage, imageVolumesDir: join(dir, 'mounts') }));
    assert.equal((await driver.wait(first, AbortSignal.timeout(20_000))).exitCode, 0);
    assert.equal(readFileSync(join(dir, 'mounts', 'data', 'kept'), 'utf8'), 'written-once\n', 'the file is in the slot directory');
    assert.equal(readFileSync(join(dir, 'mounts', 'var_cache_app', 'c'), 'utf8'), 'cache\n');
    await driver.destroy(first);
    // The next container of the slot (a restart) finds it.
    const second = await driver.start(config(id, ['sh', '-c', 'cat /data/kept'], { containerName: 'db', sandbox, image: volumeImage, imageVolumesDir: join(dir, 'mounts') }));
    await driver.wait(second, AbortSignal.timeout(20_000));
    const lines: string[] = [];
    for await (const l of driver.logs(second, {})) lines.push(l.text);
    assert.deepEqual(lines, ['written-once']);
    await driver.destroy(second);
    driver.dispose();
  });

  void it('leaves a declared volume that a mount covers to the mount, and binds nothing without imageVolumesDir', async () => {
    const driver = makeDriver();
    const id = `vol-${owner}-2`;
    const sandbox = await driver.runSandbox({ instanceId: id, address: subnet.replace(/0\/24$/, '15') });
    started.push({ driver, handle: sandbox });
    const covered = await driver.start(
      config(id, ['sh', '-c', 'echo x > /data/y'], { containerName: 'a', sandbox, image: volumeImage, imageVolumesDir: join(dir, 'm2'), mounts: [{ type: 'tmpfs', target: '/data/' }] }),
    );
    await driver.wait(covered, AbortSignal.timeout(20_000));
    assert.equal(existsSync(join(dir, 'm2', 'data')), false, '/data is the tmpfs mount\'s');
    assert.equal(existsSync(join(dir, 'm2', 'var_cache_app')), true);
    await driver.destroy(covered);
    const plain = await driver.start(config(id, ['sh', '-c', 'echo x > /data/y'], { containerName: 'b', sandbox, image: volumeImage }));
    await driver.wait(plain, AbortSignal.timeout(20_000));
    const mounts = (await (docker as NonNullable<typeof docker>).getContainer((plain as DockerHandle).id).inspect()).Mounts.map((m) => [m.Type, m.Destination]).sort();
    assert.deepEqual(mounts, [['volume', '/data'], ['volume', '/var/cache/app']], 'anonymous volumes, as the engine makes them');
    await driver.destroy(plain);
    driver.dispose();
  });
});
