import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import Dockerode from 'dockerode';
import { pack } from 'tar-stream';

/*
 * Test support for the Docker driver's I/O functions (imported by *.test.ts only): the engine gate and
 * a tiny busybox image built offline. The gate is local until src/drivers/docker/engine-gate.ts
 * (`dockerForTests()`) lands; then this one should go.
 */

/**
 * The engine client when `docker info` answers. Without an engine: a loud skip reason locally, and a
 * thrown error under CI (process.env.CI), which fails the test file — Docker tests run for real in CI.
 */
export function engineGate(file: string): { docker: Dockerode; skip: false } | { docker: undefined; skip: string } {
  const info = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf8', timeout: 20_000 });
  if (info.status === 0) return { docker: new Dockerode(), skip: false };
  const why = `no Docker engine answers (docker info: ${(info.stderr || info.error?.message || `exit ${info.status}`).trim().split('\n')[0]})`;
  if (process.env.CI) throw new Error(`${file}: ${why}; Docker tests must run in CI`);
  console.warn(`\n*** SKIPPED ${file}: ${why} ***\n`);
  return { docker: undefined, skip: why };
}

/** Prefix of every engine object these tests create: `berth-dockerio-<pid>`. */
export const TEST_PREFIX = `berth-dockerio-${process.pid}`;

/**
 * Imports a tiny image from the host's busybox-static (/bin/busybox with every applet linked in /bin,
 * /tmp, /etc/passwd with root and nobody) as `repoTag`, through the engine's import API.
 * @returns the image id.
 */
export async function importBusyboxImage(docker: Dockerode, repoTag: string, options: { readonly changes?: readonly string[] } = {}): Promise<string> {
  const busybox = readFileSync('/bin/busybox');
  const applets = spawnSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).stdout.split('\n').filter((a) => a !== '' && a !== 'busybox');
  const tar = pack();
  tar.entry({ name: 'bin', type: 'directory', mode: 0o755 });
  tar.entry({ name: 'tmp', type: 'directory', mode: 0o1777 });
  tar.entry({ name: 'etc', type: 'directory', mode: 0o755 });
  tar.entry({ name: 'etc/passwd', mode: 0o644 }, 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
  tar.entry({ name: 'bin/busybox', mode: 0o755 }, busybox);
  for (const a of applets) tar.entry({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox' });
  tar.finalize();
  const colon = repoTag.lastIndexOf(':');
  const stream = await docker.importImage(tar as unknown as NodeJS.ReadableStream, { repo: repoTag.slice(0, colon), tag: repoTag.slice(colon + 1), ...(options.changes ? { changes: [...options.changes] } : {}) });
  await new Promise<void>((resolve, reject) =>
    docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve()), () => {}),
  );
  return (await docker.getImage(repoTag).inspect()).Id;
}

/** Removes an image this test made (quietly when it is gone already). */
export async function removeImage(docker: Dockerode, repoTag: string): Promise<void> {
  await docker.getImage(repoTag).remove({ force: true }).catch(() => {});
}

/** Creates and starts a container of `image` running `cmd` (no TTY), named `<TEST_PREFIX>-<name>`. */
export async function runContainer(docker: Dockerode, image: string, name: string, cmd: readonly string[], extra: Dockerode.ContainerCreateOptions = {}): Promise<Dockerode.Container> {
  const container = await docker.createContainer({ Image: image, name: `${TEST_PREFIX}-${name}`, Cmd: [...cmd], Tty: false, ...extra });
  await container.start();
  return container;
}

/** Removes a container this test made, running or not. */
export async function removeContainer(container: Dockerode.Container | undefined): Promise<void> {
  await container?.remove({ force: true }).catch(() => {});
}

/** Waits (bounded) until `container` has exited (the engine's wait API). */
export async function waitExited(container: Dockerode.Container, timeoutMs = 20_000): Promise<void> {
  const signal = AbortSignal.timeout(timeoutMs);
  await container.wait({ condition: 'not-running', abortSignal: signal });
}
