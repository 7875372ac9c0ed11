import { mkdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../lib/index.js';
import { formatDuration, parseDuration } from '../lib/index.js';
import type { ContainerStatus, Instance, InstanceStatus, NewServiceEvent } from '../model/index.js';
import { isTerminal, slotName } from '../model/index.js';
import type { ContainerHandle, Driver, ExitResult } from '../drivers/index.js';
import { containerArgv, containerEnv } from './container-env.js';
import { handleFile, instanceDir } from './instance-files.js';

export interface RunnerContext {
  readonly driver: Driver;
  readonly node: string;
  /** Node data directory: instances/<id>/<container>/ hold driver state and logs. */
  readonly dataDir: string;
  readonly apiUrl?: string;
  readonly dnsAddress?: string;
  readonly hostEnv: Readonly<Record<string, string | undefined>>;
  readonly log: { readonly maxBytes: number; readonly maxFiles: number };
  readonly logger: Logger;
  readonly now: () => number;
  /** Records an observed status (batched by the agent) with the events that go with it. */
  report(id: string, status: InstanceStatus, events: readonly NewServiceEvent[]): void;
}

/** What one step did: moved the instance on, found nothing to do, or failed in a way worth retrying. */
export type StepResult = 'progressed' | 'noop' | 'retry' | 'done';

interface RunningContainer {
  readonly name: string;
  readonly handle: ContainerHandle;
  readonly pid?: number;
  readonly startedAt: string;
}

/**
 * Runs one instance on this node, one step at a time (swarmkit's exec.Do): each `step()` looks at the
 * latest instance record and what it knows locally, does at most one thing (prepare, start, stop,
 * record an exit) and reports the new status. The loop around it (Agent) calls step again after a
 * change. Handles are written to `<data>/instances/<id>/<container>.handle.json` before the status says running, so a berth
 * killed at any point can re-adopt the processes.
 */
export class InstanceRunner {
  private instance: Instance;
  private containers: RunningContainer[] = [];
  private exit: { container: string; result: ExitResult } | undefined;
  private waiting = false;
  private stopping = false;
  private readonly waitAbort = new AbortController();
  private lastReported: InstanceStatus;

  constructor(
    instance: Instance,
    private readonly ctx: RunnerContext,
    private readonly onChange: () => void,
  ) {
    this.instance = instance;
    this.lastReported = instance.status;
  }

  get id(): string {
    return this.instance.id;
  }

  /** The agent hands in every newer version of the record. Our own reports come back here too. */
  update(instance: Instance): void {
    this.instance = instance;
  }

  /** Stop watching the containers (the agent is shutting down; the containers keep running). */
  detach(): void {
    this.waitAbort.abort();
  }

  instanceDir(): string {
    return instanceDir(this.ctx.dataDir, this.instance.id);
  }

  /** Handles of the containers this runner knows to be running (for stats and logs). */
  handles(): readonly { name: string; handle: ContainerHandle }[] {
    return this.containers;
  }

  async step(): Promise<StepResult> {
    const inst = this.instance;
    const state = this.lastReported.state;
    if (isTerminal(state)) return 'done';

    if (inst.desiredState === 'shutdown') {
      if (state === 'new' || state === 'pending' || this.containers.length === 0) {
        this.report({ state: 'shutdown', message: 'stopped before it started' }, 'instance.stopped', `${this.name()} stopped before it started`);
        return 'progressed';
      }
      await this.stopAll(inst.desiredReason ?? 'desired state is shutdown');
      return 'progressed';
    }

    if (this.exit && !this.stopping) {
      await this.recordExit(this.exit.container, this.exit.result);
      return 'progressed';
    }

    switch (state) {
      case 'new':
        this.prepare();
        this.report({ state: 'pending', message: 'preparing' });
        return 'progressed';
      case 'pending':
      case 'starting':
        return this.startAll();
      case 'running':
        this.watchExits();
        return 'noop';
      default:
        return 'noop';
    }
  }

  /**
   * Re-adopts containers started by an earlier berth process (from the status' handles or the
   * handle files). Returns what was found; an exit that happened while berth was down is recorded
   * as the instance's exit.
   */
  async recover(): Promise<'running' | 'exited' | 'none'> {
    const specs = this.instance.spec.containers;
    const found: RunningContainer[] = [];
    for (const c of specs) {
      const name = c.name ?? this.instance.service;
      const saved = this.readHandle(name);
      if (!saved) continue;
      const r = await this.ctx.driver.recover(saved.handle);
      if (r.state === 'running') {
        found.push(saved);
      } else if (!this.exit) {
        this.exit = { container: name, result: r.exit };
      }
    }
    this.containers = found;
    if (found.length === 0 && !this.exit) return 'none';
    if (this.exit) return 'exited';
    if (found.length < specs.length) {
      // berth died half-way through starting: stop what did start and count it as a failed start.
      this.exit = { container: specs[found.length]?.name ?? '', result: { exitCode: 255, message: 'berth restarted while the instance was starting' } };
      return 'exited';
    }
    this.watchExits();
    return 'running';
  }

  private name(): string {
    return slotName(this.instance.service, this.instance.slot);
  }

  private handleFile(container: string): string {
    return handleFile(this.ctx.dataDir, this.instance.id, container);
  }

  private dataDir(): string | undefined {
    const d = this.instance.spec.dataDir;
    if (!d) return undefined;
    return d.startsWith('/') ? d : join(this.ctx.dataDir, d);
  }

  /**
   * Only the stateful slot's data directory is made here; the driver creates the container's state
   * directory as it starts it (for the process driver, the shim does, off berth's event loop: a
   * hundred instances starting would otherwise queue several hundred directory creations).
   */
  private prepare(): void {
    const data = this.dataDir();
    if (data) mkdirSync(data, { recursive: true });
  }

  private async startAll(): Promise<StepResult> {
    const inst = this.instance;
    if (this.lastReported.state === 'pending') this.report({ state: 'starting', message: 'starting containers' });
    const started: RunningContainer[] = [];
    for (const c of inst.spec.containers) {
      const name = c.name ?? inst.service;
      const dataDir = this.dataDir();
      const env = containerEnv(inst, c, { node: this.ctx.node, hostEnv: this.ctx.hostEnv, ...(dataDir ? { dataDir } : {}), ...(this.ctx.apiUrl ? { apiUrl: this.ctx.apiUrl } : {}), ...(this.ctx.dnsAddress ? { dnsAddress: this.ctx.dnsAddress } : {}) });
      // One state directory per instance, shared by its containers (the driver names its files after the
      // container): fewer directories to create when a hundred instances start at once.
      const stateDir = this.instanceDir();
      try {
        const handle = await this.ctx.driver.start({
          instanceId: inst.id,
          containerName: name,
          ...(c.image ? { image: c.image } : {}),
          argv: containerArgv(c, env),
          env,
          workingDir: c.workingDir ?? dataDir ?? stateDir,
          ...(c.user ? { user: c.user } : {}),
          address: inst.spec.address,
          stateDir,
          log: this.ctx.log,
        });
        const rc: RunningContainer = { name, handle, startedAt: new Date(this.ctx.now()).toISOString(), ...(typeof handle.pid === 'number' ? { pid: handle.pid } : {}) };
        await this.writeHandle(rc);
        started.push(rc);
        this.containers = [...started];
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        await Promise.all(started.map((s) => this.ctx.driver.stop(s.handle, { signal: 'SIGKILL', timeoutMs: 0 }).catch(() => undefined)));
        this.containers = [];
        this.report(
          { state: 'rejected', message: `container ${name}: ${message}`, finishedAt: new Date(this.ctx.now()).toISOString() },
          'instance.rejected',
          `${this.name()} could not start: container ${name}: ${message}`,
          'error',
        );
        return 'progressed';
      }
    }
    const startedAt = new Date(this.ctx.now()).toISOString();
    this.report(
      { state: 'running', message: 'running', startedAt, handles: started.map((s) => s.handle), containers: started.map((s) => this.containerStatus(s)) },
      'instance.started',
      `${this.name()} started at ${inst.spec.address}${started[0]?.pid ? ` (pid ${started[0].pid})` : ''}`,
    );
    this.watchExits();
    return 'progressed';
  }

  /** Waits, in the background, for the first container to exit; then the next step records it. */
  private watchExits(): void {
    if (this.waiting || this.containers.length === 0) return;
    this.waiting = true;
    for (const c of this.containers) {
      this.ctx.driver.wait(c.handle, this.waitAbort.signal).then(
        (result) => {
          if (this.exit || this.waitAbort.signal.aborted) return;
          this.exit = { container: c.name, result };
          this.onChange();
        },
        (error: unknown) => {
          if (!this.waitAbort.signal.aborted) this.ctx.logger.warn({ instance: this.instance.id, err: error }, 'waiting for a container failed');
        },
      );
    }
  }

  /** A container ended on its own: stop its siblings, then report failed (or complete for exit 0). */
  private async recordExit(container: string, result: ExitResult): Promise<void> {
    const others = this.containers.filter((c) => c.name !== container);
    await Promise.all(others.map((c) => this.stopOne(c)));
    this.containers = [];
    const finishedAt = result.finishedAt ?? new Date(this.ctx.now()).toISOString();
    const how = `exited with code ${result.exitCode}${result.signal ? ` (${result.signal})` : ''}`;
    const message = result.message ? `${how}: ${result.message}` : how;
    this.report(
      {
        state: result.exitCode === 0 ? 'complete' : 'failed',
        message: this.instance.spec.containers.length > 1 ? `container ${container} ${message}` : message,
        finishedAt,
        exitCode: result.exitCode,
        ...(result.signal ? { signal: result.signal } : {}),
        ...(this.lastReported.startedAt ? { startedAt: this.lastReported.startedAt } : {}),
      },
      'instance.exited',
      `${this.name()} ${this.instance.spec.containers.length > 1 ? `container ${container} ` : ''}${message}`,
      result.exitCode === 0 ? 'info' : 'warning',
      { exitCode: result.exitCode, ...(result.signal ? { signal: result.signal } : {}) },
    );
  }

  private async stopAll(reason: string): Promise<void> {
    this.stopping = true;
    const results = await Promise.all(this.containers.map((c) => this.stopOne(c)));
    this.containers = [];
    const first = results.find((r) => r !== undefined);
    this.report(
      {
        state: 'shutdown',
        message: `stopped: ${reason}`,
        finishedAt: new Date(this.ctx.now()).toISOString(),
        ...(first ? { exitCode: first.exitCode } : {}),
        ...(first?.signal ? { signal: first.signal } : {}),
        ...(this.lastReported.startedAt ? { startedAt: this.lastReported.startedAt } : {}),
      },
      'instance.stopped',
      `${this.name()} stopped (${reason})${first ? `, exit code ${first.exitCode}` : ''}`,
    );
  }

  private async stopOne(c: RunningContainer): Promise<ExitResult | undefined> {
    const spec = this.instance.spec.containers.find((s) => (s.name ?? this.instance.service) === c.name);
    const signal = spec?.stopSignal ?? 'SIGTERM';
    const timeoutMs = parseDuration(spec?.stopGracePeriod ?? '10s');
    try {
      return await this.ctx.driver.stop(c.handle, { signal, timeoutMs });
    } catch (error) {
      this.ctx.logger.warn({ instance: this.instance.id, container: c.name, err: error, grace: formatDuration(timeoutMs) }, 'stopping a container failed');
      return undefined;
    }
  }

  private containerStatus(c: RunningContainer): ContainerStatus {
    return { name: c.name, state: 'running', startedAt: c.startedAt, ...(c.pid !== undefined ? { pid: c.pid } : {}) };
  }

  private report(
    partial: Omit<InstanceStatus, 'timestamp'>,
    type?: NewServiceEvent['type'],
    message?: string,
    severity: NewServiceEvent['severity'] = 'info',
    data?: Record<string, unknown>,
  ): void {
    const status: InstanceStatus = { ...partial, timestamp: new Date(this.ctx.now()).toISOString() };
    this.lastReported = status;
    const events: NewServiceEvent[] = type
      ? [{ grid: this.instance.grid, service: this.instance.service, type, severity, message: message ?? partial.message, instance: this.instance.id, slot: this.instance.slot, ...(data ? { data } : {}) }]
      : [];
    this.ctx.report(this.instance.id, status, events);
  }

  /**
   * Written off the event loop (a hundred containers starting at once make each file operation wait
   * on the directories their shims are creating) and before the status says running. No rename: a
   * file torn by a crash mid-write fails to parse and counts as missing, like no file at all.
   */
  private async writeHandle(c: RunningContainer): Promise<void> {
    const dir = this.instanceDir();
    const file = this.handleFile(c.name);
    try {
      await writeFile(file, JSON.stringify(c));
    } catch {
      await mkdir(dir, { recursive: true }); // a driver that keeps no files of its own (fake, docker)
      await writeFile(file, JSON.stringify(c));
    }
  }

  private readHandle(name: string): RunningContainer | undefined {
    try {
      return JSON.parse(readFileSync(this.handleFile(name), 'utf8')) as RunningContainer;
    } catch {
      return undefined;
    }
  }

  /** Releases what the driver keeps for the ended containers. */
  async destroy(): Promise<void> {
    this.waitAbort.abort();
    for (const c of this.instance.spec.containers) {
      const saved = this.readHandle(c.name ?? this.instance.service);
      if (saved) await this.ctx.driver.destroy(saved.handle).catch(() => undefined);
    }
  }
}
