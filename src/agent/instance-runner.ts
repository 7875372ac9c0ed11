import type { ContainerSpec, Instance, InstanceHealth } from '../model/index.js';
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
import { instanceDir } from './instance-files.js';
import { recoverContainers, unfinishedStart } from './instance-recovery.js';
import { instanceProber } from './instance-probes.js';
import type { FoundData } from './slot-volumes.js';
import { describeFoundData, prepareSlotVolume, slotDataDir } from './slot-volumes.js';
import { imageFields, sandboxConfig, usesSandbox } from './instance-sandbox.js';
import { removeInstanceContainers } from './container-removal.js';
import { stopContainers } from './container-stop.js';
import { StatusReporter, runningContainerStatus } from './status-reporter.js';
import type { ContainerExit } from './container-exits.js';
import { ExitWatch } from './container-exits.js';
import { describeExit, exitedEnding, probeFailedEnding, stoppedEnding } from './instance-endings.js';
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
 *
 * The runner decides; its parts do: StatusReporter (status-reporter.ts) reports and keeps the last
 * status, ExitWatch (container-exits.ts) waits for the first exit, startContainers / stopContainers
 * (container-start.ts, container-stop.ts) start and stop the containers, and instance-endings.ts says
 * how an ended instance's last status and event read.
 */
export class InstanceRunner {
  private instance: Instance;
  private containers: RunningContainer[] = [];
  /** The first container to exit on its own; the next step records it. */
  private readonly exits: ExitWatch;
  private stopping = false;
  /** The instance's observed status: what was last reported, and how to report the next. */
  private readonly status: StatusReporter;
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
    this.status = new StatusReporter(instance.status, () => this.instance, ctx);
    this.drained = instance.status.drain?.endedAt !== undefined;
    this.exits = new ExitWatch(instance.id, ctx, () => {
      this.stopProbing();
      this.drainAbort?.abort('exited');
      this.onChange();
    });
    this.pull = new PullReporter(ctx.now, () => this.name(), {
      status: (partial, event) => (event ? this.status.report(partial, { type: 'instance.image_pulling', message: event }) : this.status.report(partial)),
      pulled: (message, data) => this.status.report(this.status.unstamped(), { type: 'instance.image_pulled', message, data }),
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
    this.exits.stop();
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
    const state = this.status.last.state;
    if (isTerminal(state)) return 'done';

    if (inst.desiredState === 'shutdown') {
      this.stopProbing();
      // Containers count, not the state: a re-adopted instance may run while the store says pending.
      if (this.containers.length === 0) {
        this.status.report({ state: 'shutdown', message: 'stopped before it started' }, { type: 'instance.stopped', message: `${this.name()} stopped before it started` });
        return 'progressed';
      }
      if (this.ctx.dataPlane && !this.drained && !this.exits.exit) return this.drain(this.ctx.dataPlane);
      await this.stopAll(inst.desiredReason ?? 'desired state is shutdown');
      return 'progressed';
    }

    const exit = this.exits.exit;
    if (exit && !this.stopping) {
      await this.recordExit(exit);
      return 'progressed';
    }

    if (this.unhealthy && !this.stopping) {
      await this.stopUnhealthy(this.unhealthy);
      return 'progressed';
    }

    switch (state) {
      case 'new': {
        const found = this.prepare();
        if (found) this.status.report({ state: 'pending', message: 'preparing' }, { type: 'instance.data_found', message: describeFoundData(inst, found), severity: 'warning', data: { previousServiceId: found.previousServiceId, paths: found.slots.map((v) => v.path) } });
        else this.status.report({ state: 'pending', message: 'preparing' });
        return 'progressed';
      }
      case 'pending':
      case 'starting':
        return this.startAll();
      case 'running':
        this.exits.watch(this.containers);
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
    const { found, exit } = await recoverContainers(this.instance, listed, this.ctx);
    if (exit) this.exits.learned(exit);
    this.containers = found;
    if (found.length === 0 && !this.exits.exit) return 'none';
    if (this.exits.exit) return 'exited';
    const unfinished = unfinishedStart(this.instance, found, this.ctx.driver);
    if (unfinished) {
      // berth died half-way through starting: stop what did start and count it as a failed start.
      this.exits.learned(unfinished);
      return 'exited';
    }
    this.exits.watch(this.containers);
    const startedAt = this.instance.status.startedAt ? Date.parse(this.instance.status.startedAt) : this.ctx.now();
    const prober = this.instance.desiredState === 'running' ? this.startProbing(startedAt, this.instance.status.health) : undefined;
    if (this.status.last.state !== 'running') {
      this.status.report({
        state: 'running',
        message: 'running (adopted after berth restarted)',
        startedAt: new Date(startedAt).toISOString(),
        handles: found.map((f) => f.handle),
        containers: found.filter((f) => f.name !== SANDBOX_CONTAINER).map(runningContainerStatus),
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
    return slotDataDir(this.instance, this.ctx.dataDir);
  }

  /**
   * Only the stateful slot's data directory is made here (prepareSlotVolume); the driver creates the
   * container's state directory as it starts it (for the process driver, the shim does, off berth's
   * event loop: a hundred instances starting would otherwise queue several hundred directory creations).
   * @returns the data an earlier service of the same name left there (slot-volumes.ts), to be said
   */
  private prepare(): FoundData | undefined {
    const first = this.instance.spec.containers[0];
    return prepareSlotVolume(this.instance, { dataDir: this.ctx.dataDir, node: this.ctx.node, user: first ? this.userOf(first) : undefined });
  }

  private async startAll(): Promise<StepResult> {
    const inst = this.instance;
    if (this.status.last.state === 'pending') this.status.report({ state: 'starting', message: 'starting containers' });
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
      this.status.report({ state: 'rejected', message: why, finishedAt: new Date(this.ctx.now()).toISOString() }, { type: 'instance.rejected', message: `${this.name()} could not start: ${why}`, severity: 'error' });
      return 'progressed';
    }
    const { started } = result;
    const startedMs = this.ctx.now();
    const startedAt = new Date(startedMs).toISOString();
    // The first running status already carries the health (not ready yet), so that no reader ever
    // sees a probed instance running without health and takes it for ready.
    const prober = this.startProbing(startedMs, undefined);
    this.status.report(
      { state: 'running', message: 'running', startedAt, handles: started.map((s) => s.handle), containers: started.filter((s) => s.name !== SANDBOX_CONTAINER).map(runningContainerStatus), ...(prober ? { health: prober.health() } : {}) },
      { type: 'instance.started', message: `${this.name()} started at ${inst.spec.address}${started[0]?.pid ? ` (pid ${started[0].pid})` : ''}` },
    );
    prober?.start();
    this.exits.watch(this.containers);
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
        if (!this.stopping && !this.exits.exit) this.status.reportEvents({ ...this.status.unstamped(), health }, events);
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
    const finished = await drainBeforeStop(this.instance, this.status.last, dataPlane, {
      clock: this.ctx.clock,
      signal: abort.signal,
      name: this.name(),
      report: (drain, type, message, severity, data) => this.status.report({ ...this.status.unstamped(), drain }, { type, message, severity, data }),
    }).finally(() => (this.drainAbort = undefined));
    if (!finished) return 'noop'; // detached: berth is stopping, the next one drains again
    this.drained = true;
    return 'progressed';
  }

  /** A container ended on its own: stop its siblings, then report failed (or complete for exit 0). */
  private async recordExit(exit: ContainerExit): Promise<void> {
    // Out of the endpoints at once: the exit is known now, while stopping what is left (the sandbox
    // last) takes the engine a few hundred ms more. The instance stays `running` (its other
    // containers are) but is no longer ready, which is what the proxy and DNS follow (isReady).
    if (this.status.last.state === 'running' && this.containers.some((c) => c.name !== exit.container)) {
      const h = this.status.last.health;
      this.status.report({ ...this.status.unstamped(), message: `${describeExit(this.instance, exit)}; stopping the instance`, health: { started: h?.started ?? true, ready: false, live: h?.live ?? true, probes: h?.probes ?? [] } });
    }
    await this.stopContainers(exit.container);
    const { status, event } = exitedEnding(this.instance, exit, { ended: this.status.ended(exit.result), now: this.ctx.now });
    this.status.report(status, event);
  }

  private async stopAll(reason: string): Promise<void> {
    const first = await this.stopContainers();
    const { status, event } = stoppedEnding(this.instance, reason, { ended: this.status.ended(first), first, drain: this.status.last.drain });
    this.status.report(status, event);
  }

  /** A liveness (or startup) probe failed: stop the containers (stop signal, grace), then report it (probeFailedEnding). */
  private async stopUnhealthy(t: HealthTransition): Promise<void> {
    const first = await this.stopContainers();
    const { status, event } = probeFailedEnding(this.instance, t, { ended: this.status.ended(first), first, health: this.status.last.health });
    this.status.report(status, event);
  }

  /** Stops probing and every container but `exited` (stopContainers); the first exit result. */
  private async stopContainers(exited?: string): Promise<ExitResult | undefined> {
    this.stopping = true;
    this.stopProbing();
    const first = await stopContainers(this.instance, this.containers, { driver: this.ctx.driver, logger: this.ctx.logger, ...(exited !== undefined ? { exited } : {}) });
    this.containers = [];
    return first;
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
    this.exits.stop();
    this.stopProbing();
    this.drainAbort?.abort('destroyed');
    await removeInstanceContainers(this.ctx, this.instance);
  }
}
