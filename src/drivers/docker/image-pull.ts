import type Dockerode from 'dockerode';
import { ImageNotPresentError } from '../../model/index.js';
import { pullFailedError, classifyPullFailure } from './pull-failure.js';

/** As Kubernetes' imagePullPolicy: IfNotPresent (berth's default), Always, Never. */
export type PullPolicy = 'IfNotPresent' | 'Always' | 'Never';

/**
 * One progress message of a pull, as `docker pull` shows them: per layer (`layer` is its short id)
 * "Pulling fs layer", "Waiting", "Downloading" (with `current`/`total` bytes), "Extracting", "Pull
 * complete", "Already exists"; without `layer` the pull's own lines ("Pulling from …", "Digest: …",
 * "Status: Downloaded newer image for …").
 */
export interface PullProgress {
  readonly layer?: string;
  readonly status: string;
  readonly current?: number;
  readonly total?: number;
}

export interface EnsureImageOptions {
  /** Called for every progress message of the pull (not called when nothing is pulled). */
  readonly onProgress?: (p: PullProgress) => void;
  /** Aborting stops waiting: the promise rejects with `signal.reason`; the pull itself is cancelled once no caller waits for it. */
  readonly signal?: AbortSignal;
  /** Bound of the whole call (look-up and pull), ms; default 120000. Past it: `IMAGE_PULL_FAILED`, reason `unreachable`. */
  readonly timeoutMs?: number;
  /**
   * A pull that reports no progress for this long is cancelled, ms; default 30000. Past it:
   * `IMAGE_PULL_FAILED`, reason `unreachable`. The first caller of a shared pull sets it.
   */
  readonly stallMs?: number;
}

/** Default bound of a whole `ensureImage`, ms. */
export const PULL_TIMEOUT_MS = 120_000;
/** Default bound of a pull without progress, ms (the engine itself retries an unreachable registry for much longer). */
export const PULL_STALL_MS = 30_000;

/** A pull in flight, shared by every caller that asked for the same ref on the same engine client. */
interface SharedPull {
  readonly listeners: Set<(p: PullProgress) => void>;
  waiters: number;
  readonly cancel: AbortController;
  readonly done: Promise<string>;
}

interface EngineState {
  readonly pulls: Map<string, SharedPull>;
  /** Per ref, how many pulls have ended: a look-up that raced with the end of a pull is done again. */
  readonly ended: Map<string, number>;
}

const engines = new WeakMap<Dockerode, EngineState>();

function stateOf(docker: Dockerode): EngineState {
  let state = engines.get(docker);
  if (!state) {
    state = { pulls: new Map(), ended: new Map() };
    engines.set(docker, state);
  }
  return state;
}

/**
 * Makes sure image `ref` is on the engine's node, pulling it through the engine when `policy` says so:
 * present and policy IfNotPresent or Never → nothing is pulled and no registry is contacted; Always, or
 * absent and IfNotPresent → pulled (`docker.pull`), with per-layer progress to `onProgress`. Concurrent
 * calls for the same ref on the same client share one pull.
 *
 * Bounded: the whole call fails after `timeoutMs` (default 120 s), and a pull that makes no progress for
 * `stallMs` (default 30 s) is given up — the HTTP request to the engine is aborted. The engine itself
 * does not cancel its registry requests when its client goes away (measured on 20.10: a hanging
 * manifest request stayed open until the registry closed it), so a given-up pull may still end, or
 * hang, inside the engine; this call returns at its bound regardless.
 *
 * @returns `pulled` (true when this call waited for a pull), `imageId` ("sha256:…") of the local image.
 * @throws CodedError `IMAGE_NOT_PRESENT` (absent, policy Never); `IMAGE_PULL_FAILED` with
 *   `details.reason` `not-found` | `unreachable` | `unauthorized` | `other`; `signal.reason` on abort;
 *   the engine client's own error when the engine itself does not answer the look-up.
 */
export async function ensureImage(
  docker: Dockerode,
  ref: string,
  policy: PullPolicy,
  options: EnsureImageOptions = {},
): Promise<{ pulled: boolean; imageId: string }> {
  const { signal } = options;
  const timeoutMs = options.timeoutMs ?? PULL_TIMEOUT_MS;
  signal?.throwIfAborted();
  const state = stateOf(docker);
  let deadlineTimer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  // Rejects at the deadline or on abort; every wait below races with it.
  const bounds = new Promise<never>((_, reject) => {
    deadlineTimer = setTimeout(
      () => reject(pullFailedError(ref, 'unreachable', `the pull did not finish within ${Math.round(timeoutMs / 1000)} s`)),
      timeoutMs,
    );
    onAbort = () => reject(signal?.reason ?? new DOMException('ensureImage aborted', 'AbortError'));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  bounds.catch(() => {}); // observed through the races below
  try {
    if (policy !== 'Always') {
      for (;;) {
        const shared = state.pulls.get(ref);
        if (shared) return { pulled: true, imageId: await join(state, ref, shared, options, bounds) };
        const ended = state.ended.get(ref) ?? 0;
        const imageId = await Promise.race([localImageId(docker, ref), bounds]);
        if (imageId !== undefined) return { pulled: false, imageId };
        if (policy === 'Never') throw new ImageNotPresentError(ref);
        if ((state.ended.get(ref) ?? 0) === ended) break; // no pull ended while we looked: it is really absent
      }
    }
    const shared = state.pulls.get(ref) ?? startPull(docker, state, ref, options.stallMs ?? PULL_STALL_MS);
    return { pulled: true, imageId: await join(state, ref, shared, options, bounds) };
  } finally {
    clearTimeout(deadlineTimer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * Waits for a shared pull as one more caller. The last caller to leave before the pull ended (its
 * deadline or abort) cancels it; a pull that ended has already left `state.pulls` (startPull's
 * `finally` runs before `done` settles).
 */
async function join(state: EngineState, ref: string, shared: SharedPull, options: EnsureImageOptions, bounds: Promise<never>): Promise<string> {
  const listener = options.onProgress;
  if (listener) shared.listeners.add(listener);
  shared.waiters += 1;
  try {
    return await Promise.race([shared.done, bounds]);
  } finally {
    if (listener) shared.listeners.delete(listener);
    shared.waiters -= 1;
    if (shared.waiters === 0 && state.pulls.get(ref) === shared) {
      state.pulls.delete(ref); // a caller arriving now starts a fresh pull rather than join a cancelled one
      shared.cancel.abort();
    }
  }
}

/**
 * The local image's id, or undefined when the engine has no image of that name.
 *
 * A reference pinned to a digest (`nginx:latest@sha256:…`, what the docker CLI sends after resolving
 * an image through berth's Docker face, which answers with the local image's id: docs/docker-api.md)
 * is found by that id when the engine has no repo digest for it (an image built or imported here has
 * none), provided the image carries the reference's name: the digest pins the content, the name must
 * still be the one asked for — or is that very id (`sha256:<id>@sha256:<id>`).
 */
async function localImageId(docker: Dockerode, ref: string): Promise<string | undefined> {
  const found = await inspectImage(docker, ref);
  if (found !== undefined) return found.Id;
  const pinned = splitDigest(ref);
  if (pinned === undefined) return undefined;
  const byId = await inspectImage(docker, pinned.digest);
  if (byId === undefined || byId.Id !== pinned.digest) return undefined;
  const wanted = familiarName(pinned.name);
  // `docker service create sha256:<id>`: the CLI reads the id as a name with a tag, asks the face,
  // which finds the image by that id, and sends `sha256:<id>@sha256:<id>`. The name is the id itself,
  // which names no other image (Swarm runs an image id without a pull, moby's pullImage).
  if (wanted === byId.Id) return byId.Id;
  const tags = (byId.RepoTags ?? []).map(familiarName);
  const matches = wanted.includes(':') ? tags.includes(wanted) : tags.some((t) => t.split(':')[0] === wanted);
  return matches ? byId.Id : undefined;
}

async function inspectImage(docker: Dockerode, ref: string): Promise<Dockerode.ImageInspectInfo | undefined> {
  try {
    return await docker.getImage(ref).inspect();
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) return undefined;
    throw e;
  }
}

/** `name[:tag]@sha256:<64 hex>` → its parts; undefined for a reference without a digest. */
export function splitDigest(ref: string): { name: string; digest: string } | undefined {
  const match = /^([^@]+)@(sha256:[0-9a-f]{64})$/.exec(ref);
  return match ? { name: match[1]!, digest: match[2]! } : undefined;
}

/** `docker.io/library/nginx:latest` → `nginx:latest` (Docker's familiar form), other names as they are. */
function familiarName(name: string): string {
  return name.replace(/^docker\.io\//, '').replace(/^library\//, '');
}

function startPull(docker: Dockerode, state: EngineState, ref: string, stallMs: number): SharedPull {
  const cancel = new AbortController();
  const listeners = new Set<(p: PullProgress) => void>();
  const emit = (p: PullProgress): void => {
    for (const l of listeners) {
      try {
        l(p);
      } catch {
        // a listener's failure is its own
      }
    }
  };
  const done = pullThroughEngine(docker, ref, stallMs, cancel.signal, emit).finally(() => {
    if (state.pulls.get(ref) === shared) state.pulls.delete(ref);
    state.ended.set(ref, (state.ended.get(ref) ?? 0) + 1);
  });
  done.catch(() => {}); // observed by the callers that join
  const shared: SharedPull = { listeners, waiters: 0, cancel, done };
  state.pulls.set(ref, shared);
  return shared;
}

interface ProgressMessage {
  readonly status?: string;
  readonly id?: string;
  readonly progressDetail?: { readonly current?: number; readonly total?: number };
  readonly error?: string;
  readonly errorDetail?: { readonly message?: string };
}

/**
 * One pull through the engine (POST /images/create), to its end. Rejects with `IMAGE_PULL_FAILED` when
 * the engine refuses it (HTTP error), reports an error in the stream, makes no progress for `stallMs`,
 * or when `cancel` aborts (then the reason is the caller's, who no longer listens).
 */
function pullThroughEngine(docker: Dockerode, ref: string, stallMs: number, cancel: AbortSignal, emit: (p: PullProgress) => void): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const request = new AbortController();
    let stream: NodeJS.ReadableStream | undefined;
    let settled = false;
    let stallTimer: NodeJS.Timeout | undefined;
    const settle = (error: unknown, imageId?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(stallTimer);
      cancel.removeEventListener('abort', onCancel);
      if (error !== undefined) {
        request.abort(); // the engine cancels a pull whose client went away
        (stream as { destroy?: () => void } | undefined)?.destroy?.();
        reject(error);
      } else resolve(imageId as string);
    };
    const armStall = (): void => {
      clearTimeout(stallTimer);
      stallTimer = setTimeout(
        () => settle(pullFailedError(ref, 'unreachable', `no progress for ${Math.round(stallMs / 1000)} s`)),
        stallMs,
      );
    };
    const onCancel = (): void => settle(pullFailedError(ref, 'other', 'the pull was cancelled: nobody waits for it any more'));
    cancel.addEventListener('abort', onCancel, { once: true });
    armStall();
    docker.pull(ref, { abortSignal: request.signal }).then(
      (s) => {
        if (settled) {
          (s as { destroy?: () => void }).destroy?.();
          return;
        }
        stream = s;
        armStall();
        let streamError: string | undefined;
        docker.modem.followProgress(
          s,
          (err: Error | null) => {
            if (settled) return;
            if (streamError !== undefined) return settle(pullFailedError(ref, classifyPullFailure(undefined, streamError), streamError));
            if (err) return settle(pullFailedError(ref, classifyPullFailure(undefined, err.message), err.message));
            // The stream ended without an error: the image must now be there.
            localImageId(docker, ref).then(
              (id) => settle(id === undefined ? pullFailedError(ref, 'other', 'the engine ended the pull without the image') : undefined, id),
              (e: unknown) => settle(pullFailedError(ref, 'other', e instanceof Error ? e.message : String(e))),
            );
          },
          (m: ProgressMessage) => {
            if (settled) return;
            armStall();
            if (m.error !== undefined || m.errorDetail?.message !== undefined) {
              streamError ??= m.errorDetail?.message ?? m.error ?? 'unknown error';
              return;
            }
            if (m.status === undefined) return;
            const perLayer = m.progressDetail !== undefined && m.id !== undefined;
            emit({
              status: m.status,
              ...(perLayer ? { layer: m.id } : {}),
              ...(m.progressDetail?.current !== undefined ? { current: m.progressDetail.current } : {}),
              ...(m.progressDetail?.total !== undefined ? { total: m.progressDetail.total } : {}),
            });
          },
        );
      },
      (e: unknown) => {
        const { statusCode, message } = e as { statusCode?: number; message?: string };
        const words = message ?? String(e);
        settle(pullFailedError(ref, classifyPullFailure(statusCode, words), words));
      },
    );
  });
}
