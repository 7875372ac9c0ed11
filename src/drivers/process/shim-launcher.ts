import { spawn, type ChildProcess } from 'node:child_process';
import { CodedError } from '../../lib/index.js';

/** What berth-shim reports once the container's execvp succeeded. */
export interface ShimReport {
  readonly pid: number;
  readonly startTicks: number;
  readonly shimPid: number;
  readonly shimStartTicks: number;
  /** The shim, a child of this process until it is reaped; its 'exit' means the container ended. */
  readonly child: ChildProcess;
}

export interface ShimLaunch {
  readonly shimPath: string;
  readonly exitFile: string;
  readonly logPath: string;
  readonly logMaxBytes: number;
  readonly logMaxFiles: number;
  readonly workingDir: string;
  readonly user: string | undefined;
  readonly argv: readonly string[];
  /** The container's complete environment; the shim passes it on untouched. */
  readonly env: Readonly<Record<string, string>>;
  /** How long the shim may take to report, ms. */
  readonly timeoutMs: number;
}

const startFailed = (message: string, details: Record<string, unknown> = {}): CodedError =>
  new CodedError('CONTAINER_START_FAILED', message, details);

/**
 * Spawns berth-shim detached (a session leader of its own, out of berth's process group, so that
 * berth's death or a Ctrl-C does not reach it) and reads its one-line report from stdout:
 * "<pid> <startTicks> <shimStartTicks>" or "error: <what>: <reason>".
 * @throws CodedError `CONTAINER_START_FAILED` with the shim's reason ("nosuch: No such file or directory").
 */
export function launchShim(launch: ShimLaunch): Promise<ShimReport> {
  const args = [
    '--exit-file', launch.exitFile,
    '--log', launch.logPath,
    '--log-max-bytes', String(Math.max(0, Math.floor(launch.logMaxBytes))),
    '--log-max-files', String(Math.max(0, Math.floor(launch.logMaxFiles))),
    '--cwd', launch.workingDir,
    ...(launch.user !== undefined ? ['--user', launch.user] : []),
    '--',
    ...launch.argv,
  ];
  return new Promise<ShimReport>((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(launch.shimPath, args, {
        detached: true,
        stdio: ['ignore', 'pipe', 'ignore'],
        env: { ...launch.env },
        cwd: '/', // the shim holds no directory busy; the container's cwd is --cwd
      });
    } catch (e) {
      reject(startFailed(`cannot run berth-shim: ${(e as Error).message}`, { shimPath: launch.shimPath }));
      return;
    }
    const stdout = child.stdout;
    let text = '';
    let settled = false;
    const finish = (outcome: ShimReport | CodedError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stdout?.destroy();
      child.unref();
      if (outcome instanceof CodedError) reject(outcome);
      else resolve(outcome);
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish(startFailed(`berth-shim did not report within ${launch.timeoutMs} ms`));
    }, launch.timeoutMs);
    child.once('error', (e: NodeJS.ErrnoException) => {
      const hint = e.code === 'ENOENT' ? ' (run `npm run build` to compile native/berth-shim.c)' : '';
      finish(startFailed(`cannot run berth-shim at ${launch.shimPath}: ${e.message}${hint}`, { shimPath: launch.shimPath }));
    });
    stdout?.setEncoding('utf8');
    stdout?.on('data', (chunk: string) => {
      text += chunk;
      const nl = text.indexOf('\n');
      if (nl >= 0) finish(parseReport(text.slice(0, nl), child));
    });
    stdout?.once('end', () =>
      finish(startFailed(text.trim() ? reason(text.trim()) : 'berth-shim ended before reporting the container started')),
    );
  });
}

function parseReport(line: string, child: ChildProcess): ShimReport | CodedError {
  const m = /^(\d+) (\d+) (\d+)$/.exec(line);
  if (!m || child.pid === undefined) return startFailed(reason(line));
  return {
    pid: Number(m[1]),
    startTicks: Number(m[2]),
    shimPid: child.pid,
    shimStartTicks: Number(m[3]),
    child,
  };
}

function reason(line: string): string {
  return line.startsWith('error: ') ? line.slice('error: '.length) : line;
}
