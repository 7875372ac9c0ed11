import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { formatDuration, parseDuration } from '../lib/index.js';
import type { ContainerSpec, ContainerStatus, Instance, InstanceHealth, InstanceStatus, NewServiceEvent } from '../model/index.js';
import { isTerminal, slotName } from '../model/index.js';
import type { ContainerHandle, ExitResult, ListedContainer, PullProgress } from '../drivers/index.js';
import { SANDBOX_CONTAINER } from '../drivers/index.js';
import type { HealthTransition, Prober } from '../health/index.js';
import type { RunnerContext } from './runner-context.js';
import { containerEnvOf, userOf, workingDirOf } from './runner-context.js';
import type { RunningContainer } from './container-start.js';
import { startContainers } from './container-start.js';
import type { DataPlane } from './instance-drain.js';
import { drainBeforeStop } from './instance-drain.js';
import { instanceDir, prepareSlotDir } from './instance-files.js';
import { recoverContainers } from './instance-recovery.js';
import { instanceProber } from './instance-probes.js';
import type { FoundData } from './slot-volumes.js';
import { claimSlotVolume, describeFoundData } from './slot-volumes.js';
import { imageFields, sandboxConfig, slotMountDirs, usesSandbox } from './instance-sandbox.js';
import { removeInstanceContainers } from './container-removal.js';
import { PullReporter } from './pull-progress.js';

/** What one step did: moved the instance on, found nothing to do, or failed in a way worth retrying. */
export type StepResult = 'progressed' | 'noop' | 'retry' | 'done';

/**
 * Runs one instance on this node, one step at a time (swarmkit's exec.Do): each `step()` looks at the
 * latest instance record and what it knows locally, does at most one thing (prepare, start, stop,
 * record an exit) and reports the new status. The loop around it (Agent) calls step again after a
 * change. Handles are written to `<data>/instances/<id>/<container>.handle.json` before the status says running, so a berth
 * killed at any point can re-adopt the processes.
 *
 * While running, a Prober runs the containers' probes; health is reported only when it changes, and a
 * liveness (or startup) probe at its failure threshold stops the instance as failed. Before a stop the
 * desired state asked for, the instance is drained (drainInstance) when the node has a data plane.
 * Invariant: no probe runs once the instance is stopping, has exited or the runner is detached.
 */
export class InstanceRunner {
  private instance: Instance;
  private containers: RunningContainer[] = [];
  private exit: { container: string; result: ExitResult } | undefined;
  private waiting = false;
  private stopping = false;
  private readonly waitAbort = new AbortController();
  private lastReported: InstanceStatus;
  private prober: Prober | undefined;
  /** A liveness or startup probe reached its failure threshold: the next step stops the instance. */
  private unhealthy: HealthTransition | undefined;
  /** The drain before the stop is over (or was over before berth restarted). */
  private drained: boolean;
  private drainAbort: AbortController | undefined;
  /** The image pull in progress during a start (pullProgress). */
  private readonly pull: PullReporter;

  constructor(
    instance: Instance,
    private readonly ctx: RunnerContext,
    private readonly onChange: () => void,
  ) {
    this.instance = instance;
    this.lastReported = instance.status;
    this.drained = instance.status.drain?.endedAt !== undefined;
    this.pull = new PullReporter(ctx.now, () => this.name(), {
      status: (partial, event) => (event ? this.report(partial, 'instance.image_pulling', event) : this.report(partial)),
      pulled: (message, data) =>
        this.reportEvents(withoutTimestamp(this.lastReported), [
          { grid: this.instance.grid, service: this.instance.service, type: 'instance.image_pulled', severity: 'info', message, instance: this.instance.id, slot: this.instance.slot, data },
        ]),
    });
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
    this.stopProbing();
    this.drainAbort?.abort('detached');
  }

  instanceDir(): string {
    return instanceDir(this.ctx.dataDir, this.instance.id);
  }

  /** Handles of the containers this runner knows to be running (for stats and logs). */
  handles(): readonly { name: string; handle: ContainerHandle }[] {
    return this.containers.filter((c) => c.name !== SANDBOX_CONTAINER);
  }

  async step(): Promise<StepResult> {
    const inst = this.instance;
    const state = this.lastReported.state;
    if (isTerminal(state)) return 'done';

    if (inst.desiredState === 'shutdown') {
      this.stopProbing();
      // Containers count, not the state: a re-adopted instance may run while the store says pending.
      if (this.containers.length === 0) {
        this.report({ state: 'shutdown', message: 'stopped before it started' }, 'instance.stopped', `${this.name()} stopped before it started`);
        return 'progressed';
      }
      if (this.ctx.dataPlane && !this.drained && !this.exit) return this.drain(this.ctx.dataPlane);
      await this.stopAll(inst.desiredReason ?? 'desired state is shutdown');
      return 'progressed';
    }

    if (this.exit && !this.stopping) {
      await this.recordExit(this.exit.container, this.exit.result);
      return 'progressed';
    }

    if (this.unhealthy && !this.stopping) {
      await this.stopUnhealthy(this.unhealthy);
      return 'progressed';
    }

    switch (state) {
      case 'new': {
        const found = this.prepare();
        if (found) this.report({ state: 'pending', message: 'preparing' }, 'instance.data_found', describeFoundData(inst, found), 'warning', { previousServiceId: found.previousServiceId, paths: found.slots.map((v) => v.path) });
        else this.report({ state: 'pending', message: 'preparing' });
        return 'progressed';
      }
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
   * Re-adopts containers started by an earlier berth process, from the handle files and from `listed`
   * (what the driver recorded of this instance; see recoverContainers). Returns what was found; an exit
   * that happened while berth was down is recorded as the instance's exit. When every container runs
   * and the store does not say so yet (berth died between the start and that report), the running
   * status is reported now.
   */
  async recover(listed: readonly ListedContainer[] = []): Promise<'running' | 'exited' | 'none'> {
    const specs = this.instance.spec.containers;
    const { found, exit } = await recoverContainers(this.instance, listed, this.ctx);
    if (exit && !this.exit) this.exit = exit;
    this.containers = found;
    if (found.length === 0 && !this.exit) return 'none';
    if (this.exit) return 'exited';
    if (found.length < specs.length + (usesSandbox(this.instance, this.ctx.driver) ? 1 : 0)) {
      // berth died half-way through starting: stop what did start and count it as a failed start.
      const missing = [...(usesSandbox(this.instance, this.ctx.driver) ? [SANDBOX_CONTAINER] : []), ...specs.map((c) => c.name ?? this.instance.service)].find((n) => !found.some((f) => f.name === n));
      this.exit = { container: missing ?? '', result: { exitCode: 255, message: 'berth restarted while the instance was starting' } };
      return 'exited';
    }
    this.watchExits();
    const startedAt = this.instance.status.startedAt ? Date.parse(this.instance.status.startedAt) : this.ctx.now();
    const prober = this.instance.desiredState === 'running' ? this.startProbing(startedAt, this.instance.status.health) : undefined;
    if (this.lastReported.state !== 'running') {
      this.report({
        state: 'running',
        message: 'running (adopted after berth restarted)',
        startedAt: new Date(startedAt).toISOString(),
        handles: found.map((f) => f.handle),
        containers: found.filter((f) => f.name !== SANDBOX_CONTAINER).map((f) => this.containerStatus(f)),
        ...(prober ? { health: prober.health() } : {}),
      });
    }
    prober?.start();
    return 'running';
  }

  private name(): string {
    return slotName(this.instance.service, this.instance.slot);
  }

  private dataDir(): string | undefined {
    const d = this.instance.spec.dataDir;
    if (!d) return undefined;
    return d.startsWith('/') ? d : join(this.ctx.dataDir, d);
  }

  /**
   * Only the stateful slot's data directory is made here, owned by the user the instance's first
   * container runs as (prepareSlotDir); the driver creates the container's state directory as it
   * starts it (for the process driver, the shim does, off berth's event loop: a hundred instances
   * starting would otherwise queue several hundred directory creations).
   * @returns the data an earlier service of the same name left there (slot-volumes.ts), to be said
   */
  private prepare(): FoundData | undefined {
    const data = this.dataDir();
    if (!data) return undefined;
    const { grid, service, serviceId } = this.instance;
    const found = claimSlotVolume(data, serviceId, { dataDir: this.ctx.dataDir, node: this.ctx.node, grid, service });
    const first = this.instance.spec.containers[0];
    prepareSlotDir(data, first ? this.userOf(first) : undefined);
    for (const dir of slotMountDirs(this.instance, data)) mkdirSync(dir, { recursive: true, mode: 0o755 });
    return found;
  }

  private async startAll(): Promise<StepResult> {
    const inst = this.instance;
    if (this.lastReported.state === 'pending') this.report({ state: 'starting', message: 'starting containers' });
    // One state directory per instance, shared by its containers: fewer directories to create when a
    // hundred instances start at once.
    const result = await startContainers(inst, {
      driver: this.ctx.driver,
      dataDir: this.ctx.dataDir,
      stateDir: this.instanceDir(),
      log: this.ctx.log,
      now: this.ctx.now,
      envOf: (c) => this.envOf(c),
      workingDirOf: (c) => this.workingDirOf(c),
      userOf: (c) => this.userOf(c),
      onStarted: (started) => (this.containers = [...started]),
      ...(usesSandbox(inst, this.ctx.driver) ? { sandbox: sandboxConfig(inst, this.ctx.containerNetwork) } : {}),
      imageFieldsOf: (c) => ({ ...imageFields(c, inst, this.dataDir()), onPullProgress: (p: PullProgress) => this.pull.progress(p) }),
    });
    this.pull.ended();
    if ('failed' in result) {
      this.containers = [];
      const why = `container ${result.failed}: ${result.message}`;
      this.report({ state: 'rejected', message: why, finishedAt: new Date(this.ctx.now()).toISOString() }, 'instance.rejected', `${this.name()} could not start: ${why}`, 'error');
      return 'progressed';
    }
    const { started } = result;
    const startedMs = this.ctx.now();
    const startedAt = new Date(startedMs).toISOString();
    // The first running status already carries the health (not ready yet), so that no reader ever
    // sees a probed instance running without health and takes it for ready.
    const prober = this.startProbing(startedMs, undefined);
    this.report(
      { state: 'running', message: 'running', startedAt, handles: started.map((s) => s.handle), containers: started.filter((s) => s.name !== SANDBOX_CONTAINER).map((s) => this.containerStatus(s)), ...(prober ? { health: prober.health() } : {}) },
      'instance.started',
      `${this.name()} started at ${inst.spec.address}${started[0]?.pid ? ` (pid ${started[0].pid})` : ''}`,
    );
    prober?.start();
    this.watchExits();
    return 'progressed';
  }

  /** The container's complete environment, as given to it at start (and to its exec probes). */
  private envOf(c: ContainerSpec): Record<string, string> {
    return containerEnvOf(this.instance, c, this.ctx, this.dataDir());
  }

  private workingDirOf(c: ContainerSpec): string {
    return workingDirOf(c, this.dataDir() ?? this.instanceDir());
  }

  private userOf(c: ContainerSpec): string | undefined {
    return userOf(c, this.ctx.instanceUser);
  }

  /** Makes the instance's prober (undefined without probes); the caller starts it. */
  private startProbing(startedAt: number, previous: InstanceHealth | undefined): Prober | undefined {
    this.prober ??= instanceProber(this.instance, {
      driver: this.ctx.driver,
      clock: this.ctx.clock,
      startedAt,
      ...(this.ctx.fastStartMs !== undefined ? { fastStartMs: this.ctx.fastStartMs } : {}),
      ...(previous ? { previous } : {}),
      container: (c) => {
        const running = this.containers.find((r) => r.name === (c.name ?? this.instance.service));
        if (!running) return undefined;
        const user = this.userOf(c);
        return { handle: running.handle, env: this.envOf(c), workingDir: this.workingDirOf(c), ...(user ? { user } : {}) };
      },
      report: (health, events) => {
        if (!this.stopping && !this.exit) this.reportEvents({ ...withoutTimestamp(this.lastReported), health }, events);
      },
      unhealthy: (transition) => {
        this.unhealthy = transition;
        this.onChange();
      },
    });
    return this.prober;
  }

  /** Stops the probes for good (stop, exit, detach): nothing is probed or reported after this. */
  private stopProbing(): void {
    this.prober?.stop();
  }

  /** One step: the drain before the stop (drainBeforeStop). */
  private async drain(dataPlane: DataPlane): Promise<StepResult> {
    const abort = new AbortController();
    this.drainAbort = abort;
    const finished = await drainBeforeStop(this.instance, this.lastReported, dataPlane, {
      clock: this.ctx.clock,
      signal: abort.signal,
      name: this.name(),
      report: (drain, type, message, severity, data) => this.report({ ...withoutTimestamp(this.lastReported), drain }, type, message, severity, data),
    }).finally(() => (this.drainAbort = undefined));
    if (!finished) return 'noop'; // detached: berth is stopping, the next one drains again
    this.drained = true;
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
          this.stopProbing();
          this.drainAbort?.abort('exited');
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
    const how = `exited with code ${result.exitCode}${result.signal ? ` (${result.signal})` : ''}`;
    const message = result.message ? `${how}: ${result.message}` : how;
    const which = container === SANDBOX_CONTAINER ? 'sandbox ' : this.instance.spec.containers.length > 1 ? `container ${container} ` : '';
    // Out of the endpoints at once: the exit is known now, while stopping what is left (the sandbox
    // last) takes the engine a few hundred ms more. The instance stays `running` (its other
    // containers are) but is no longer ready, which is what the proxy and DNS follow (isReady).
    if (this.lastReported.state === 'running' && this.containers.some((c) => c.name !== container)) {
      const h = this.lastReported.health;
      this.report({ ...withoutTimestamp(this.lastReported), message: `${which}${message}; stopping the instance`, health: { started: h?.started ?? true, ready: false, live: h?.live ?? true, probes: h?.probes ?? [] } });
    }
    await this.stopContainers(container);
    this.report(
      { ...this.ended(result), state: result.exitCode === 0 ? 'complete' : 'failed', message: `${which}${message}`, finishedAt: result.finishedAt ?? new Date(this.ctx.now()).toISOString() },
      'instance.exited',
      `${this.name()} ${which}${message}`,
      result.exitCode === 0 ? 'info' : 'warning',
      { exitCode: result.exitCode, ...(result.signal ? { signal: result.signal } : {}) },
    );
  }

  private async stopAll(reason: string): Promise<void> {
    const first = await this.stopContainers();
    this.report(
      { ...this.ended(first), state: 'shutdown', message: `stopped: ${reason}`, ...(this.lastReported.drain ? { drain: this.lastReported.drain } : {}) },
      'instance.stopped',
      `${this.name()} stopped (${reason})${first ? `, exit code ${first.exitCode}` : ''}`,
    );
  }

  /**
   * A liveness (or startup) probe failed: stop the containers (stop signal, grace) and report the
   * instance failed — a restart is a new instance, which the restart policy makes. The last health
   * stays in the status, so `why` can show the probe and its output.
   */
  private async stopUnhealthy(t: HealthTransition): Promise<void> {
    const first = await this.stopContainers();
    const p = t.probe;
    this.report(
      { ...this.ended(first), state: 'failed', message: `${p.kind} probe failed: ${p.target}: ${p.lastOutput}`, ...(this.lastReported.health ? { health: this.lastReported.health } : {}) },
      'instance.exited',
      `${this.name()} stopped after its ${p.kind} probe failed${first ? `, exit code ${first.exitCode}${first.signal ? ` (${first.signal})` : ''}` : ''}`,
      'warning',
      { ...(first ? { exitCode: first.exitCode } : {}), ...(first?.signal ? { signal: first.signal } : {}), probe: p.kind },
    );
  }

  /** Stops probing and every container but `exited` (stop signal, grace); the first exit result. */
  private async stopContainers(exited?: string): Promise<ExitResult | undefined> {
    this.stopping = true;
    this.stopProbing();
    // The sandbox goes last: it holds the network its containers still use while they stop.
    const results = await Promise.all(this.containers.filter((c) => c.name !== exited && c.name !== SANDBOX_CONTAINER).map((c) => this.stopOne(c)));
    const sandbox = this.containers.find((c) => c.name === SANDBOX_CONTAINER && c.name !== exited);
    if (sandbox) await this.stopOne(sandbox);
    this.containers = [];
    return results.find((r) => r !== undefined);
  }

  /** What every terminal status carries: when it ended, how, and when it had started. */
  private ended(exit: ExitResult | undefined): Pick<InstanceStatus, 'finishedAt' | 'exitCode' | 'signal' | 'startedAt'> {
    return {
      finishedAt: new Date(this.ctx.now()).toISOString(),
      ...(exit ? { exitCode: exit.exitCode } : {}),
      ...(exit?.signal ? { signal: exit.signal } : {}),
      ...(this.lastReported.startedAt ? { startedAt: this.lastReported.startedAt } : {}),
    };
  }

  private async stopOne(c: RunningContainer): Promise<ExitResult | undefined> {
    const spec = this.instance.spec.containers.find((s) => (s.name ?? this.instance.service) === c.name);
    const signal = spec?.stopSignal ?? 'SIGTERM';
    // The sandbox's pause program ends at once on SIGTERM; 2 s is ample.
    const timeoutMs = c.name === SANDBOX_CONTAINER ? 2000 : parseDuration(spec?.stopGracePeriod ?? '10s');
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
    const events: NewServiceEvent[] = type
      ? [{ grid: this.instance.grid, service: this.instance.service, type, severity, message: message ?? partial.message, instance: this.instance.id, slot: this.instance.slot, ...(data ? { data } : {}) }]
      : [];
    this.reportEvents(partial, events);
  }

  private reportEvents(partial: Omit<InstanceStatus, 'timestamp'>, events: readonly NewServiceEvent[]): void {
    const status: InstanceStatus = { ...partial, timestamp: new Date(this.ctx.now()).toISOString() };
    this.lastReported = status;
    this.ctx.report(this.instance.id, status, events);
  }

  #destroying: Promise<void> | undefined;

  /**
   * Releases what the driver keeps for the ended containers. Called by the runner's loop when it is
   * done and by the agent when the instance's record goes: the second caller waits for the first one's
   * removals (the agent deletes the handle files after it), never races it.
   */
  destroy(): Promise<void> {
    this.#destroying ??= this.destroyContainers();
    return this.#destroying;
  }

  private async destroyContainers(): Promise<void> {
    this.waitAbort.abort();
    this.stopProbing();
    this.drainAbort?.abort('destroyed');
    await removeInstanceContainers(this.ctx, this.instance);
  }
}

function withoutTimestamp(status: InstanceStatus): Omit<InstanceStatus, 'timestamp'> {
  const { timestamp: _timestamp, ...rest } = status;
  return rest;
}
