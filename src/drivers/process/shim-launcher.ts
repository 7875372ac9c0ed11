import { spawn, type ChildProcess } from 'node:child_process';
import { CodedError } from '../../lib/index.js';
import type { Disposable, Logger } from '../../lib/index.js';

/** What berth-shim reports once the container's execvp succeeded. */
export interface ShimReport {
  readonly pid: number;
  readonly startTicks: number;
  readonly shimPid: number;
  readonly shimStartTicks: number;
}

/** One container to start under a shim. */
export interface ShimLaunch {
  readonly exitFile: string;
  /** Where the shim records its report before it reports (its state file); undefined: nowhere. */
  readonly stateFile?: string;
  readonly logPath: string;
  readonly logMaxBytes: number;
  readonly logMaxFiles: number;
  readonly workingDir: string;
  readonly user: string | undefined;
  readonly argv: readonly string[];
  /** The container's complete environment; the shim passes it on untouched. */
  readonly env: Readonly<Record<string, string>>;
}

interface Pending {
  readonly resolve: (report: ShimReport) => void;
  readonly reject: (error: CodedError) => void;
  readonly timer: NodeJS.Timeout;
}

const startFailed = (message: string, details: Record<string, unknown> = {}): CodedError =>
  new CodedError('CONTAINER_START_FAILED', message, details);

/**
 * Starts shims through one long-lived `berth-shim --launcher` child (native/berth-shim.c, "launcher
 * mode"). Forking the Node.js server costs ~5 ms per child_process.spawn here, which alone would put
 * 100 starts at 0.5 s; the launcher is a few KiB and forks in ~0.1 ms. It forks every shim into
 * a session of its own, so shims are nobody's children: they outlive the launcher and berth alike.
 * The launcher is spawned on first use, replaced if it dies, and ends when `dispose` closes its stdin.
 */
export class ShimLauncher implements Disposable {
  private child: ChildProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  private seq = 0;
  private buffered = '';

  constructor(
    private readonly shimPath: string,
    private readonly options: {
      readonly timeoutMs: number;
      readonly logger: Logger;
      /** The launcher's arguments (`--launcher` and a tag, see shim-census.ts). */
      readonly args: readonly string[];
    },
  ) {}

  /** Pid of the running launcher, if one was spawned and still runs. */
  pid(): number | undefined {
    return this.child?.pid;
  }

  /**
   * Resolves with the shim's report once the container runs.
   * @throws CodedError `CONTAINER_START_FAILED` with the reason ("nosuch: No such file or directory").
   */
  launch(launch: ShimLaunch): Promise<ShimReport> {
    const args = [
      '--exit-file', launch.exitFile,
      '--log', launch.logPath,
      '--log-max-bytes', String(Math.max(0, Math.floor(launch.logMaxBytes))),
      '--log-max-files', String(Math.max(0, Math.floor(launch.logMaxFiles))),
      ...(launch.stateFile !== undefined ? ['--state-file', launch.stateFile] : []),
      '--cwd', launch.workingDir,
      ...(launch.user !== undefined ? ['--user', launch.user] : []),
      '--',
      ...launch.argv,
    ];
    const env = Object.entries(launch.env).map(([k, v]) => `${k}=${v}`);
    if ([...args, ...env].some((s) => s.includes('\0'))) {
      return Promise.reject(startFailed('an argument or environment variable holds a NUL byte'));
    }
    let child: ChildProcess;
    try {
      child = this.launcher();
    } catch (e) {
      return Promise.reject(startFailed(`cannot run berth-shim: ${(e as Error).message}`, { shimPath: this.shimPath }));
    }
    const id = ++this.seq;
    const body = Buffer.from([...args, ...env].map((s) => `${s}\0`).join(''));
    return new Promise<ShimReport>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(startFailed(`berth-shim did not report within ${this.options.timeoutMs} ms`, { maybeStarted: true }));
      }, this.options.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      child.stdin?.write(`${id} ${args.length} ${env.length} ${body.length}\n`);
      child.stdin?.write(body);
    });
  }

  /** Closes the launcher's stdin: it exits; running shims and containers are not affected. */
  dispose(): void {
    this.child?.stdin?.end();
    this.child = undefined;
  }

  private launcher(): ChildProcess {
    if (this.child) return this.child;
    const child = spawn(this.shimPath, [...this.options.args], {
      detached: true, // its own session: a Ctrl-C to berth's process group does not reach it
      stdio: ['pipe', 'pipe', 'ignore'],
      cwd: '/',
      env: {}, // each shim gets its container's environment with its request
    });
    this.child = child;
    child.unref();
    // An idle launcher must not keep berth alive; a pending start holds its own timer.
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    (child.stdout as unknown as { unref?: () => void } | null)?.unref?.();
    child.stdin?.on('error', () => {}); // EPIPE when it died: 'exit' reports that
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => this.onData(chunk));
    // A launcher that exited may have forked shims whose reports it never passed on (`maybeStarted`).
    const lost = (reason: string, maybeStarted: boolean): void => {
      if (this.child === child) this.child = undefined;
      this.buffered = '';
      for (const [id, p] of this.pending) {
        clearTimeout(p.timer);
        this.pending.delete(id);
        p.reject(startFailed(reason, { shimPath: this.shimPath, ...(maybeStarted ? { maybeStarted } : {}) }));
      }
    };
    child.once('error', (e: NodeJS.ErrnoException) => {
      const hint = e.code === 'ENOENT' ? ' (run `npm run build` to compile native/berth-shim.c)' : '';
      lost(`cannot run berth-shim at ${this.shimPath}: ${e.message}${hint}`, false);
    });
    child.once('exit', (code, signal) => {
      this.options.logger.warn({ code, signal }, 'shim launcher exited');
      lost(`the shim launcher exited (${signal ?? code})`, true);
    });
    return child;
  }

  private onData(chunk: string): void {
    this.buffered += chunk;
    for (let nl = this.buffered.indexOf('\n'); nl >= 0; nl = this.buffered.indexOf('\n')) {
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      const space = line.indexOf(' ');
      const id = Number(line.slice(0, space));
      const report = line.slice(space + 1);
      const p = this.pending.get(id);
      if (!p) {
        this.abandon(report);
        continue;
      }
      this.pending.delete(id);
      clearTimeout(p.timer);
      const parsed = parseReport(report);
      if (parsed instanceof CodedError) p.reject(parsed);
      else p.resolve(parsed);
    }
  }

  /** A report that came after its start timed out: nobody holds a handle, so the container must go. */
  private abandon(report: string): void {
    const parsed = parseReport(report);
    if (parsed instanceof CodedError || parsed.pid <= 1) return;
    this.options.logger.warn({ pid: parsed.pid }, 'container reported after its start timed out; killing it');
    try {
      process.kill(-parsed.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function parseReport(line: string): ShimReport | CodedError {
  const m = /^(\d+) (\d+) (\d+) (\d+)$/.exec(line);
  if (!m) return startFailed(line.startsWith('error: ') ? line.slice('error: '.length) : line);
  return { pid: Number(m[1]), startTicks: Number(m[2]), shimPid: Number(m[3]), shimStartTicks: Number(m[4]) };
}
