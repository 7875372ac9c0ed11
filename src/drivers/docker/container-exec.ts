import type { Duplex } from 'node:stream';
import type Dockerode from 'dockerode';
import { CodedError } from '../../lib/index.js';
import type { ExecOptions, ExecResult } from '../driver.js';
import { killExecLeftovers, killExecSession, processOfContainer } from './exec-kill.js';
import { FrameDemuxer } from './stream-frames.js';

/** Output kept of an exec'd command, bytes (as the process driver's MAX_EXEC_OUTPUT). */
export const MAX_EXEC_OUTPUT = 4096;
/** How long the engine may take to give an exec its pid, or to record its exit, ms. */
const ENGINE_SETTLE_MS = 5000;
/** After a kill, how long the output stream may stay open before it is closed, ms. */
const STREAM_GRACE_MS = 1000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `argv` beside running container `containerId` through the engine's exec API (`docker exec`
 * without a TTY): with `options.env` as its environment (K=V, added to the container's own), in
 * `options.workingDir`, as `options.user` when given; stdout and stderr demultiplexed and kept
 * interleaved as they arrived, the first 4 KiB (MAX_EXEC_OUTPUT); the exit code from the exec's
 * inspect. Resolves for every outcome of the command:
 * - exit code n; 128 + n when killed by signal n;
 * - a command that cannot run: Docker 20.10 reports 126 with runc's reason as output ("OCI runtime exec
 *   failed: … executable file not found in $PATH"); a command not found — no such executable or file —
 *   is reported as 127 (shell convention), one not executable, a bad working directory or an unknown
 *   user as 126;
 * - at `timeoutMs` or when `signal` aborts: the exec'd process's whole session and every descendant are
 *   SIGKILLed (`timedOut: true`, usually 137). The engine has no call to kill an exec, so this signals
 *   the exec's host pid (ExecInspect.Pid) directly: **it needs the engine on this machine** (berth and
 *   the engine in the same pid namespace). The pid is checked to be in the container's cgroup first.
 *   An abort before the exec started starts nothing (137, `timedOut: true`).
 * After the command exits, what is left of its process group is SIGKILLed too, as the process driver
 * does, so nothing it started outlives the call. (A leftover that holds the output open keeps the
 * stream open until `timeoutMs`; it is then killed and the result is the command's own exit, not a
 * timeout.)
 *
 * Cost: four or more engine calls (create, start, inspects); `true` takes ~100–190 ms (median ~120 ms;
 * a bare create + start + read takes ~105 ms) on the dev box — prefer httpGet or tcpSocket probes for
 * short periods.
 *
 * @throws CodedError `CONTAINER_NOT_RUNNING` when the container is not running (exited, paused, or
 *   unknown to the engine); the engine client's error when the engine does not answer.
 */
export async function execInContainer(docker: Dockerode, containerId: string, argv: readonly string[], options: ExecOptions): Promise<ExecResult> {
  if (argv.length === 0 || argv[0] === '') return { exitCode: 127, output: 'no command', timedOut: false };
  const { signal } = options;
  if (signal?.aborted) return { exitCode: 137, output: '', timedOut: true };

  // Rings once, at the timeout or on abort.
  let expired = false;
  let onExpire: () => void = () => {};
  const expiry = new Promise<void>((resolve) => {
    onExpire = () => {
      expired = true;
      resolve();
    };
  });
  const timer = setTimeout(onExpire, Math.max(0, options.timeoutMs));
  signal?.addEventListener('abort', onExpire, { once: true });
  try {
    const exec = await createExec(docker, containerId, argv, options);
    if (expired) return { exitCode: 137, output: '', timedOut: true };
    const stream = await startExec(exec, containerId);
    const output = new OutputBuffer();
    const ended = readAll(stream, output);

    let timedOut = false;
    if ((await Promise.race([ended.then(() => 'ended' as const), expiry.then(() => 'expired' as const)])) === 'expired') {
      const info = await runningPid(exec);
      if (info.Running && info.Pid > 0 && (await processOfContainer(info.Pid, info.ContainerID)) === 'yes') {
        timedOut = true;
        await killExecSession(info.Pid);
      } else if (info.Running) {
        timedOut = true; // cannot be killed from here (a remote engine): see the docstring
      }
      // Killed, or the command had exited and a leftover holds the stream: either way, stop reading soon.
      if ((await Promise.race([ended.then(() => true), sleep(STREAM_GRACE_MS).then(() => false)])) === false) stream.destroy();
      await ended;
    }
    const done = await exitOf(exec);
    await killExecLeftovers(done.Pid, done.ContainerID);
    const text = output.text();
    return { exitCode: exitCodeOf(done.ExitCode, text, timedOut), output: text, timedOut };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onExpire);
  }
}

function notRunning(containerId: string, e: unknown): CodedError | undefined {
  const { statusCode, message } = e as { statusCode?: number; message?: string };
  if (statusCode !== 404 && statusCode !== 409) return undefined;
  const words = (message ?? '').replace(/^\(HTTP code \d+\) [^-]*- /, '').trim();
  return new CodedError('CONTAINER_NOT_RUNNING', `cannot exec in container ${containerId}: ${words || 'it is not running'}`, { containerId });
}

async function createExec(docker: Dockerode, containerId: string, argv: readonly string[], options: ExecOptions): Promise<Dockerode.Exec> {
  try {
    return await docker.getContainer(containerId).exec({
      Cmd: [...argv],
      Env: Object.entries(options.env).map(([k, v]) => `${k}=${v}`),
      WorkingDir: options.workingDir,
      ...(options.user !== undefined ? { User: options.user } : {}),
      AttachStdin: false,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
    });
  } catch (e) {
    throw notRunning(containerId, e) ?? e;
  }
}

async function startExec(exec: Dockerode.Exec, containerId: string): Promise<Duplex> {
  try {
    return await exec.start({ hijack: true, stdin: false });
  } catch (e) {
    throw notRunning(containerId, e) ?? e; // the container stopped between create and start
  }
}

/** Keeps the first MAX_EXEC_OUTPUT bytes; reads (and drops) the rest, so that the command never blocks on a full pipe. */
class OutputBuffer {
  private readonly chunks: Buffer[] = [];
  private kept = 0;

  push(bytes: Buffer): void {
    if (this.kept >= MAX_EXEC_OUTPUT) return;
    const part = bytes.subarray(0, MAX_EXEC_OUTPUT - this.kept);
    this.chunks.push(part);
    this.kept += part.length;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/** Demultiplexes the exec's stream into `output` until it ends, errs or is destroyed; never rejects. */
function readAll(stream: Duplex, output: OutputBuffer): Promise<void> {
  return new Promise<void>((resolve) => {
    const demuxer = new FrameDemuxer();
    stream.on('data', (chunk: Buffer) => {
      try {
        for (const frame of demuxer.push(chunk)) output.push(frame.payload);
      } catch {
        output.push(chunk); // not multiplexed (cannot happen without a TTY): keep the bytes as they are
      }
    });
    stream.once('end', () => resolve());
    stream.once('close', () => resolve());
    stream.once('error', () => resolve());
  });
}

/** The exec's inspect once the engine knows its pid (or that it already ended), polled for at most ENGINE_SETTLE_MS. */
async function runningPid(exec: Dockerode.Exec): Promise<Dockerode.ExecInspectInfo> {
  const deadline = Date.now() + ENGINE_SETTLE_MS;
  for (;;) {
    const info = await exec.inspect();
    if (!info.Running || info.Pid > 0 || Date.now() >= deadline) return info;
    await sleep(10);
  }
}

/** The exec's inspect once the engine has recorded its exit, polled for at most ENGINE_SETTLE_MS. */
async function exitOf(exec: Dockerode.Exec): Promise<Dockerode.ExecInspectInfo> {
  const deadline = Date.now() + ENGINE_SETTLE_MS;
  for (;;) {
    const info = await exec.inspect();
    if (!info.Running || Date.now() >= deadline) return info;
    await sleep(10);
  }
}

/**
 * The exit code to report. Docker 20.10 reports every command that runc could not start as 126; the
 * shell convention (and the process driver) says 127 for one that does not exist.
 */
function exitCodeOf(engineCode: number | null, output: string, timedOut: boolean): number {
  if (engineCode === null) return timedOut ? 137 : 255;
  if (engineCode === 126 && /OCI runtime exec failed/.test(output) && !/chdir to cwd/.test(output) && /executable file not found|no such file or directory/.test(output)) {
    return 127;
  }
  return engineCode;
}
