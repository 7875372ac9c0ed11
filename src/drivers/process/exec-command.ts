import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { lookupUser } from '../../lib/index.js';
import type { ExecOptions, ExecResult } from '../driver.js';

/** Output kept of an exec'd command, bytes (the probe keeps 1 KiB of it; the rest is for callers that want more). */
export const MAX_EXEC_OUTPUT = 4096;
/** After the command exited, how long its pipes may stay open (a daemon it left behind), ms. */
const PIPE_GRACE_MS = 100;

/**
 * Runs `argv` as a child of berth in a process group of its own (no shell), collecting at most
 * MAX_EXEC_OUTPUT bytes of stdout and stderr as they arrive. At the timeout or on abort the whole group
 * is SIGKILLed; after the command exits, what is left of its group is SIGKILLed too, so nothing it
 * started outlives the call. Never rejects: a command that cannot run resolves with 127 (not found)
 * or 126 (not executable, bad working directory …) and the reason as output.
 */
export function execCommand(argv: readonly string[], options: ExecOptions & { readonly uid?: number; readonly gid?: number }): Promise<ExecResult> {
  const [command, ...args] = argv;
  if (command === undefined || command === '') return Promise.resolve({ exitCode: 127, output: 'no command', timedOut: false });
  return new Promise<ExecResult>((resolve) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    let timedOut = false;
    let settled = false;
    const child = spawn(command, args, {
      env: options.env,
      cwd: options.workingDir,
      detached: true, // its own process group: the timeout kills everything it started
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.uid !== undefined ? { uid: options.uid } : {}),
      ...(options.gid !== undefined ? { gid: options.gid } : {}),
    });
    const killGroup = (): void => {
      if (child.pid === undefined || child.pid <= 1) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // the group is gone
      }
    };
    const onTimeout = (): void => {
      timedOut = true;
      killGroup();
    };
    const timer = setTimeout(onTimeout, Math.max(0, options.timeoutMs));
    options.signal?.addEventListener('abort', onTimeout, { once: true });
    if (options.signal?.aborted) onTimeout();
    const collect = (chunk: Buffer): void => {
      if (kept >= MAX_EXEC_OUTPUT) return; // keep reading (a full pipe would block the command), keep nothing
      const part = chunk.subarray(0, MAX_EXEC_OUTPUT - kept);
      chunks.push(part);
      kept += part.length;
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const finish = (result: ExecResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onTimeout);
      resolve(result);
    };
    child.once('error', (error: NodeJS.ErrnoException) => {
      // spawn failed (ENOENT: the command, or the working directory, does not exist; EACCES …)
      const exitCode = error.code === 'ENOENT' && !timedOut ? 127 : 126;
      finish({ exitCode, output: `cannot run "${command}" in ${options.workingDir}: ${error.code ?? error.message}`, timedOut });
    });
    child.once('exit', () => {
      killGroup();
      // A daemon the command left behind may hold the pipes open: stop reading soon after the exit.
      const grace = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
      }, PIPE_GRACE_MS);
      child.once('close', () => clearTimeout(grace));
    });
    child.once('close', (code, signal) => {
      const exitCode = code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0);
      finish({ exitCode, output: Buffer.concat(chunks).toString('utf8'), timedOut });
    });
  });
}

/**
 * The uid and gid to run as for `user` ("name", "uid" or "uid:gid"), as the shim resolves it — only
 * when berth runs as root (otherwise commands run as berth's own user, as containers do).
 * @returns undefined when no switch is needed.
 * @throws Error when the name is not in /etc/passwd (the container itself could not have started).
 */
export async function resolveUser(user: string | undefined): Promise<{ uid: number; gid: number } | undefined> {
  if (user === undefined || typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const found = lookupUser(user, await readFile('/etc/passwd', 'utf8').catch(() => ''));
  if (!found) throw new Error(`user ${user}: no such user`);
  return { uid: found.uid, gid: found.gid };
}
