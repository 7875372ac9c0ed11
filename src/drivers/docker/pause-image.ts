import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import tar from 'tar-stream';
import { CodedError, nativeBinaryPath } from '../../lib/index.js';

/** The repository of the sandbox image; its tag is the content hash of the pause program. */
export const PAUSE_IMAGE_REPO = 'berth-pause';

/** How long the engine has to import the image, ms: a local import of ~700 KB takes well under a second. */
const IMPORT_TIMEOUT_MS = 60_000;

/** Imports in flight, per engine client and image reference: concurrent callers share one. */
const inFlight = new WeakMap<Dockerode, Map<string, Promise<string>>>();

export interface PauseImageOptions {
  /** The static pause program; default `build/berth-pause` under the package root (`npm run build` makes it). */
  readonly binaryPath?: string;
}

/**
 * Makes sure the engine holds the sandbox image and returns its reference,
 * `berth-pause:<the first 12 hex digits of the SHA-256 of the pause program>`: the image that holds an
 * instance's network namespace (as Kubernetes' pause image), made here since no registry is reachable.
 * The tag is content-addressed, so an image of that name is never stale: when `GET /images/<ref>/json`
 * finds it, nothing else is done; otherwise a one-file rootfs (`/pause`, mode 0755, root-owned) is
 * imported (`POST /images/create?fromSrc=-` with `ENTRYPOINT ["/pause"]` and the label
 * `io.berth.built-by=berth`) — no registry, no Dockerfile build. Concurrent calls for the same engine
 * client and program share one import; each later call inspects again (an image removed meanwhile
 * is imported again). Images of older programs are left alone (a running sandbox may use one).
 * @throws CodedError `CONTAINER_START_FAILED` when the program cannot be read (the message says to run
 *   `npm run build`), or the engine cannot be asked or refuses the import, or the import takes longer
 *   than 60 s; the engine's reason is in the message and in `cause`.
 */
export async function ensurePauseImage(docker: Dockerode, options: PauseImageOptions = {}): Promise<string> {
  const binaryPath = options.binaryPath ?? nativeBinaryPath('berth-pause');
  let binary: Buffer;
  try {
    binary = await readFile(binaryPath);
  } catch (e) {
    throw new CodedError(
      'CONTAINER_START_FAILED',
      `cannot read the sandbox's pause program ${binaryPath}: ${(e as Error).message}; build it with \`npm run build\``,
      { binaryPath },
      { cause: e },
    );
  }
  const sha256 = createHash('sha256').update(binary).digest('hex');
  const ref = `${PAUSE_IMAGE_REPO}:${sha256.slice(0, 12)}`;
  let ofEngine = inFlight.get(docker);
  if (!ofEngine) inFlight.set(docker, (ofEngine = new Map()));
  const pending = ofEngine.get(ref);
  if (pending) return pending;
  const started = ensure(docker, ref, binary, sha256).finally(() => ofEngine.delete(ref));
  ofEngine.set(ref, started);
  return started;
}

async function ensure(docker: Dockerode, ref: string, binary: Buffer, sha256: string): Promise<string> {
  try {
    if (await imageExists(docker, ref)) return ref;
    await importImage(docker, ref, binary, sha256);
    return ref;
  } catch (e) {
    throw new CodedError('CONTAINER_START_FAILED', `cannot make the sandbox image ${ref}: ${(e as Error).message}`, { image: ref }, { cause: e });
  }
}

async function imageExists(docker: Dockerode, ref: string): Promise<boolean> {
  try {
    await docker.getImage(ref).inspect();
    return true;
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) return false;
    throw e;
  }
}

async function importImage(docker: Dockerode, ref: string, binary: Buffer, sha256: string): Promise<void> {
  const [repo, tag] = ref.split(':') as [string, string];
  const signal = AbortSignal.timeout(IMPORT_TIMEOUT_MS);
  // The query's `changes` are Dockerfile instructions (the engine accepts ENTRYPOINT, LABEL … on import);
  // docker-modem sends an array as repeated parameters. abortSignal is taken out of the query by the modem.
  const query = {
    repo,
    tag,
    changes: ['ENTRYPOINT ["/pause"]', 'LABEL io.berth.built-by=berth', `LABEL io.berth.pause-sha256=${sha256}`],
    message: 'berth sandbox (native/berth-pause.c)',
    abortSignal: signal,
  };
  try {
    const response = await docker.importImage(rootfs(binary), query);
    const body = await readAll(response);
    // The engine answers 200 and reports a failure inside the stream: {"errorDetail":{…},"error":"…"}.
    for (const line of body.split('\n')) {
      if (line.trim() === '') continue;
      const message = JSON.parse(line) as { error?: string; errorDetail?: { message?: string } };
      if (message.error || message.errorDetail) throw new Error(message.errorDetail?.message ?? message.error);
    }
  } catch (e) {
    if (signal.aborted) throw new Error(`the engine did not import it within ${IMPORT_TIMEOUT_MS} ms`, { cause: e });
    throw e;
  }
}

/** A tar of one file, `pause` (mode 0755, uid/gid 0, mtime 0): the whole root filesystem of the image. */
function rootfs(binary: Buffer): NodeJS.ReadableStream {
  const pack = tar.pack();
  pack.entry({ name: 'pause', mode: 0o755, uid: 0, gid: 0, size: binary.length, mtime: new Date(0), type: 'file' }, binary);
  pack.finalize();
  // tar-stream's pack is a streamx stream; the modem pipes a Node stream into the request.
  return Readable.from(pack);
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}
