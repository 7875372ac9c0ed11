import { constants } from 'node:os';
import { CodedError, systemClock } from '../../lib/index.js';
import type { Clock } from '../../lib/index.js';
import type {
  ContainerConfig,
  ContainerHandle,
  ContainerLogLine,
  ContainerStats,
  Driver,
  ExecOptions,
  ExecResult,
  ExitResult,
  ListedContainer,
  LogReadOptions,
  RecoverResult,
  StopOptions,
} from '../driver.js';

/** How a fake container behaves. Every knob is optional; the default container runs until stopped. */
export interface FakeBehavior {
  /** Exits by itself this many ms after starting (default: runs until stopped or crashed). */
  readonly runForMs?: number;
  /** Exit code when `runForMs` elapses (default 0). */
  readonly exitCode?: number;
  /** When set, `start` rejects with CodedError `CONTAINER_START_FAILED` and this message. */
  readonly startError?: string;
  /** `start` resolves after this many ms (default 0). */
  readonly startDelayMs?: number;
  /** The stop signal is ignored: only the SIGKILL after `timeoutMs` ends the container (exit 137). */
  readonly ignoreStopSignal?: boolean;
  /** Lines written right after start, in order. */
  readonly logs?: readonly { readonly stream: 'stdout' | 'stderr'; readonly text: string }[];
  /** Overrides of the fixed stats (cpuTimeMs 100, memoryBytes 16 MiB, processes 1). */
  readonly stats?: Partial<Omit<ContainerStats, 'sampledAt'>>;
}

export interface FakeDriverOptions {
  /** Drives runForMs, startDelayMs and the stop timeout; inject a fake clock for instant tests. */
  readonly clock?: Clock;
  /** Behaviour of containers with no `configure`d one. */
  readonly defaults?: FakeBehavior;
  /** The driver's name, also in its handles (default `fake`): `docker` plays a node's image driver behind a DriverRouter. */
  readonly name?: string;
}

/** What an exec handler of the fake driver is asked to run. */
export interface FakeExecCall {
  readonly instanceId: string;
  readonly containerName: string;
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly workingDir: string;
}

/**
 * Plays the command of a `FakeDriver.exec`: returns (or resolves with) its exit code and output. `signal`
 * aborts at the timeout (the fake then resolves with `timedOut`), so a handler that never settles is a
 * command that hangs.
 */
export type FakeExecHandler = (call: FakeExecCall, signal: AbortSignal) => { readonly exitCode: number; readonly output?: string } | Promise<{ readonly exitCode: number; readonly output?: string }>;

/** One recorded driver call, in call order. */
export interface FakeCall {
  readonly method: 'start' | 'recover' | 'wait' | 'stop' | 'destroy' | 'stats' | 'logs' | 'exec';
  readonly instanceId: string;
  readonly containerName: string;
  /** `clock.now()` at the call. */
  readonly at: number;
  readonly stop?: StopOptions;
  /** The command of an `exec` call. */
  readonly argv?: readonly string[];
}

/** The handle of a fake container: `driver` is the driver's name (`fake` by default); `id` is unique per driver ("fake-1", "fake-2" …). */
export type FakeHandle = {
  readonly driver: string;
  readonly id: string;
  readonly instanceId: string;
  readonly containerName: string;
};

interface FakeContainer {
  readonly handle: FakeHandle;
  readonly behavior: FakeBehavior;
  readonly logs: ContainerLogLine[];
  exit: ExitResult | undefined;
  /** Aborts the container's own timer (runForMs) once it has ended. */
  readonly life: AbortController;
  readonly onExit: Set<(exit: ExitResult) => void>;
  readonly onLog: Set<() => void>;
}

/**
 * An in-memory driver for controller and agent tests (Nomad's mock driver): deterministic, instant by
 * default, with knobs per container (`configure`) or by default, and every call recorded in `calls`.
 * Passes drivers/driver-conformance.ts like the real drivers.
 */
export class FakeDriver implements Driver {
  readonly name: string;
  readonly calls: FakeCall[] = [];
  private readonly clock: Clock;
  private defaults: FakeBehavior;
  private readonly behaviors = new Map<string, FakeBehavior>();
  private readonly containers = new Map<string, FakeContainer>();
  private seq = 0;
  private execHandler: FakeExecHandler = () => ({ exitCode: 0, output: '' });

  constructor(options: FakeDriverOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.defaults = options.defaults ?? {};
    this.name = options.name ?? 'fake';
  }

  /** Sets the behaviour of the next containers of `instanceId` (of one container of it, when named). */
  configure(instanceId: string, behavior: FakeBehavior, containerName?: string): void {
    this.behaviors.set(key(instanceId, containerName), behavior);
  }

  /** Sets the behaviour of containers that have no configured one. */
  setDefaults(behavior: FakeBehavior): void {
    this.defaults = behavior;
  }

  /** Sets how `exec` commands behave (default: every command exits 0 with no output). */
  onExec(handler: FakeExecHandler): void {
    this.execHandler = handler;
  }

  /** Ends the latest running container of `instanceId` as if it crashed. No-op when none runs. */
  crash(instanceId: string, exitCode = 1, containerName?: string): void {
    const c = this.latest(instanceId, containerName);
    if (c && !c.exit) this.finish(c, { exitCode });
  }

  /** Appends a line to the log of the latest container of `instanceId`. */
  emitLog(instanceId: string, stream: 'stdout' | 'stderr', text: string, containerName?: string): void {
    const c = this.latest(instanceId, containerName);
    if (!c) throw new Error(`fake driver: no container for instance "${instanceId}"`);
    this.append(c, stream, text);
  }

  /** Handles of the containers still running, in start order. */
  running(): FakeHandle[] {
    return [...this.containers.values()].filter((c) => !c.exit).map((c) => c.handle);
  }

  /** Calls of one method (all when omitted), for terse assertions. */
  callsOf(method?: FakeCall['method']): FakeCall[] {
    return method ? this.calls.filter((c) => c.method === method) : [...this.calls];
  }

  async start(config: ContainerConfig): Promise<ContainerHandle> {
    this.record('start', config);
    const behavior =
      this.behaviors.get(key(config.instanceId, config.containerName)) ?? this.behaviors.get(key(config.instanceId)) ?? this.defaults;
    if (behavior.startDelayMs) await this.clock.sleep(behavior.startDelayMs);
    if (behavior.startError !== undefined) {
      throw new CodedError('CONTAINER_START_FAILED', behavior.startError, {
        instanceId: config.instanceId,
        containerName: config.containerName,
      });
    }
    const handle: FakeHandle = {
      driver: this.name,
      id: `fake-${++this.seq}`,
      instanceId: config.instanceId,
      containerName: config.containerName,
    };
    const c: FakeContainer = {
      handle,
      behavior,
      logs: [],
      exit: undefined,
      life: new AbortController(),
      onExit: new Set(),
      onLog: new Set(),
    };
    this.containers.set(handle.id, c);
    for (const line of behavior.logs ?? []) this.append(c, line.stream, line.text);
    if (behavior.runForMs !== undefined) {
      this.clock.sleep(behavior.runForMs, c.life.signal).then(
        () => this.finish(c, { exitCode: behavior.exitCode ?? 0 }),
        () => {}, // ended otherwise first
      );
    }
    return handle;
  }

  async recover(h: ContainerHandle): Promise<RecoverResult> {
    const c = this.lookup(h, 'recover');
    if (!c) return { state: 'exited', exit: { exitCode: 255, message: 'exit status lost: unknown to this fake driver' } };
    return c.exit ? { state: 'exited', exit: c.exit } : { state: 'running' };
  }

  wait(h: ContainerHandle, signal?: AbortSignal): Promise<ExitResult> {
    const c = this.lookup(h, 'wait');
    if (!c) return Promise.resolve({ exitCode: 255, message: 'exit status lost: unknown to this fake driver' });
    return this.exitOf(c, signal);
  }

  async stop(h: ContainerHandle, options: StopOptions): Promise<ExitResult> {
    const c = this.lookup(h, 'stop', options);
    if (!c) return { exitCode: 255, message: 'exit status lost: unknown to this fake driver' };
    if (c.exit) return c.exit;
    const signo = constants.signals[options.signal as keyof typeof constants.signals];
    if (signo === undefined) throw new CodedError('REQUEST_INVALID', `unknown signal "${options.signal}"`);
    if (!c.behavior.ignoreStopSignal) {
      this.finish(c, { exitCode: 128 + signo, signal: options.signal });
      return c.exit ?? this.exitOf(c);
    }
    const waited = new AbortController();
    try {
      await Promise.race([this.exitOf(c, waited.signal), this.clock.sleep(options.timeoutMs, waited.signal)]);
    } finally {
      waited.abort();
    }
    this.finish(c, { exitCode: 128 + constants.signals.SIGKILL, signal: 'SIGKILL' });
    return this.exitOf(c);
  }

  async destroy(h: ContainerHandle): Promise<void> {
    const c = this.lookup(h, 'destroy');
    if (!c) return;
    this.finish(c, { exitCode: 128 + constants.signals.SIGKILL, signal: 'SIGKILL' });
    this.containers.delete(c.handle.id);
  }

  /** Every container started and not destroyed, running or ended, in start order (the driver's own records). */
  async list(): Promise<readonly ListedContainer[]> {
    return [...this.containers.values()].map((c) => ({ instanceId: c.handle.instanceId, containerName: c.handle.containerName, handle: c.handle }));
  }

  async stats(h: ContainerHandle): Promise<ContainerStats | undefined> {
    const c = this.lookup(h, 'stats');
    if (!c || c.exit) return undefined;
    return { cpuTimeMs: 100, memoryBytes: 16 * 1024 * 1024, processes: 1, ...c.behavior.stats, sampledAt: this.clock.now() };
  }

  logs(h: ContainerHandle, options: LogReadOptions): AsyncIterable<ContainerLogLine> {
    const c = this.lookup(h, 'logs');
    return c ? this.readLogs(c, options) : empty();
  }

  /**
   * Plays `argv` through the `onExec` handler; at `timeoutMs` (on the driver's clock) or on abort it
   * resolves with `timedOut` and exit code 137, as a killed command.
   * @throws CodedError `CONTAINER_NOT_RUNNING` when the container has exited (or is unknown).
   */
  async exec(h: ContainerHandle, argv: readonly string[], options: ExecOptions): Promise<ExecResult> {
    const c = this.lookup(h, 'exec', undefined, argv);
    if (!c || c.exit) throw new CodedError('CONTAINER_NOT_RUNNING', 'cannot exec in a container that has exited', { id: h.id });
    const killed = new AbortController();
    const kill = (): void => killed.abort(new Error('exec timed out'));
    options.signal?.addEventListener('abort', kill, { once: true });
    if (options.signal?.aborted) kill();
    const call: FakeExecCall = { instanceId: c.handle.instanceId, containerName: c.handle.containerName, argv, env: options.env, workingDir: options.workingDir };
    const timeout = this.clock.sleep(Math.max(0, options.timeoutMs), killed.signal).then(kill, () => undefined);
    const aborted = new Promise<undefined>((resolve) => killed.signal.addEventListener('abort', () => resolve(undefined), { once: true }));
    try {
      const played = await Promise.race([Promise.resolve(this.execHandler(call, killed.signal)), aborted]);
      if (played === undefined || killed.signal.aborted) return { exitCode: 128 + constants.signals.SIGKILL, output: '', timedOut: true };
      return { exitCode: played.exitCode, output: played.output ?? '', timedOut: false };
    } finally {
      options.signal?.removeEventListener('abort', kill);
      if (!killed.signal.aborted) killed.abort(new Error('exec finished'));
      await timeout;
    }
  }

  private async *readLogs(c: FakeContainer, options: LogReadOptions): AsyncGenerator<ContainerLogLine> {
    const { since, tail, follow, signal } = options;
    const keep = (l: ContainerLogLine): boolean => since === undefined || l.time >= since;
    let next = c.logs.length; // taken with the history: lines appended while it is yielded are followed
    const history = c.logs.filter(keep);
    const start = tail === undefined ? 0 : Math.max(0, history.length - Math.max(0, Math.floor(tail)));
    yield* history.slice(start);
    if (!follow) return;
    while (!signal?.aborted) {
      while (next < c.logs.length) {
        const line = c.logs[next++] as ContainerLogLine;
        if (keep(line)) yield line;
      }
      if (c.exit) return;
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          c.onLog.delete(wake);
          c.onExit.delete(wake);
          signal?.removeEventListener('abort', wake);
          resolve();
        };
        c.onLog.add(wake);
        c.onExit.add(wake);
        signal?.addEventListener('abort', wake, { once: true });
      });
    }
  }

  private exitOf(c: FakeContainer, signal?: AbortSignal): Promise<ExitResult> {
    if (c.exit) return Promise.resolve(c.exit);
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<ExitResult>((resolve, reject) => {
      const onExit = (exit: ExitResult): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(exit);
      };
      const onAbort = (): void => {
        c.onExit.delete(onExit);
        reject(signal?.reason);
      };
      c.onExit.add(onExit);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private finish(c: FakeContainer, exit: ExitResult): void {
    if (c.exit) return;
    c.exit = { ...exit, finishedAt: nanoTime(this.clock.now()) };
    c.life.abort();
    for (const listener of [...c.onExit]) listener(c.exit);
    c.onExit.clear();
  }

  private append(c: FakeContainer, stream: 'stdout' | 'stderr', text: string): void {
    c.logs.push({ time: nanoTime(this.clock.now()), stream, text });
    for (const listener of [...c.onLog]) listener();
  }

  private latest(instanceId: string, containerName?: string): FakeContainer | undefined {
    let found: FakeContainer | undefined;
    for (const c of this.containers.values()) {
      if (c.handle.instanceId === instanceId && (containerName === undefined || c.handle.containerName === containerName)) found = c;
    }
    return found;
  }

  private lookup(h: ContainerHandle, method: FakeCall['method'], stop?: StopOptions, argv?: readonly string[]): FakeContainer | undefined {
    if (h.driver !== this.name || typeof h.id !== 'string') {
      throw new CodedError('CONTAINER_HANDLE_INVALID', 'not a fake-driver handle', { field: 'driver' });
    }
    const c = this.containers.get(h.id);
    this.calls.push({
      method,
      instanceId: String(h.instanceId),
      containerName: String(h.containerName),
      at: this.clock.now(),
      ...(stop ? { stop } : {}),
      ...(argv ? { argv } : {}),
    });
    return c;
  }

  private record(method: FakeCall['method'], config: ContainerConfig): void {
    this.calls.push({ method, instanceId: config.instanceId, containerName: config.containerName, at: this.clock.now() });
  }
}

function key(instanceId: string, containerName?: string): string {
  return containerName === undefined ? instanceId : `${instanceId}\u0000${containerName}`;
}

/** RFC 3339 with nanoseconds, as the process driver's log times, so that both compare as strings alike. */
function nanoTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '000000Z');
}

async function* empty(): AsyncGenerator<ContainerLogLine> {}
