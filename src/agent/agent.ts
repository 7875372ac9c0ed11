import { rm } from 'node:fs/promises';
import type { Clock, Disposable, Logger } from '../lib/index.js';
import { systemClock, silentLogger } from '../lib/index.js';
import type { Instance, InstanceStatus, NewServiceEvent, SlotVolume } from '../model/index.js';
import { isTerminal, slotName } from '../model/index.js';
import type { ContainerHandle, ListedContainer } from '../drivers/index.js';
import type { DataPlane } from './instance-drain.js';
import type { RunnerContext } from './runner-context.js';
import { InstanceRunner } from './instance-runner.js';
import { instanceDir } from './instance-files.js';
import { listSlotVolumes, removeServiceVolumes, sweepRemovedVolumes } from './slot-volumes.js';

/** How the agent reaches the control plane; app/ implements it on the store (later: over the network). */
export interface AgentPorts {
  /** Every instance assigned to `node`, ended ones included. */
  listInstances(node: string): readonly Instance[];
  /** Calls `listener` with every later change of an instance of `node`. */
  watchInstances(node: string, listener: (instance: Instance, op: 'put' | 'delete') => void): Disposable;
  /** Writes observed statuses and their events in one go. */
  reportStatuses(updates: readonly { id: string; status: InstanceStatus }[], events: readonly NewServiceEvent[]): void;
  /**
   * Calls `listener` when a service record is deleted (the end of its removal: its instances are
   * gone), with whether its data directories go too. Optional: without it, data is always kept.
   */
  watchRemovedServices?(listener: (removed: { readonly grid: string; readonly name: string; readonly deleteVolumes: boolean }) => void): Disposable;
}

/**
 * The node's facts every runner shares are RunnerContext's (driver, node, dataDir, apiUrl, apiToken,
 * secretValue, dnsAddress, containerNetwork, instanceUser: see there); the rest is the agent's own.
 */
export interface AgentOptions
  extends Pick<RunnerContext, 'node' | 'driver' | 'dataDir' | 'apiUrl' | 'apiToken' | 'secretValue' | 'dnsAddress' | 'containerNetwork' | 'instanceUser'> {
  readonly ports: AgentPorts;
  readonly hostEnv?: Readonly<Record<string, string | undefined>>;
  /** Per-container log rotation (default 10 MiB × 3 files). */
  readonly log?: { readonly maxBytes: number; readonly maxFiles: number };
  readonly clock?: Clock;
  readonly logger?: Logger;
  /**
   * The data plane an instance is drained from before it stops (zero-downtime stop): app/ wires the
   * endpoints publisher and the proxy. Absent: instances stop without a drain.
   */
  readonly dataPlane?: DataPlane;
  /** Fast-start period of readiness probes until an instance is first ready, ms (default 100; 0 = off). */
  readonly fastStartMs?: number;
}

/**
 * The node side: runs the instances the control plane assigned to this node, through a driver, and
 * reports what it observes. One InstanceRunner per live instance, each stepped by its own loop; status
 * reports are batched into one store write per tick. Stopping the agent leaves instances running —
 * the next agent re-adopts them (`start()` recovers before it steps anything).
 *
 * Crash safety (docs/agent.md): at start, every container the driver recorded (`Driver.list`) is
 * adopted by its live instance — whatever state the store last heard of — or destroyed, so that after
 * any crash no container runs untracked and no instance runs twice.
 */
export class Agent {
  private readonly runners = new Map<string, { runner: InstanceRunner; kick: () => void }>();
  private readonly pending: { id: string; status: InstanceStatus }[] = [];
  private readonly pendingEvents: NewServiceEvent[] = [];
  private flushScheduled = false;
  private watch: Disposable | undefined;
  private removals: Disposable | undefined;
  private stopped = false;
  private readonly ctx: { -readonly [K in keyof RunnerContext]: RunnerContext[K] };
  private readonly logger: Logger;

  constructor(private readonly options: AgentOptions) {
    const clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.ctx = {
      driver: options.driver,
      node: options.node,
      dataDir: options.dataDir,
      hostEnv: options.hostEnv ?? process.env,
      log: options.log ?? { maxBytes: 10 * 1024 * 1024, maxFiles: 3 },
      logger: this.logger,
      now: () => clock.now(),
      clock,
      ...(options.dataPlane ? { dataPlane: options.dataPlane } : {}),
      ...(options.fastStartMs !== undefined ? { fastStartMs: options.fastStartMs } : {}),
      report: (id, status, events) => this.enqueueReport(id, status, events),
      ...(options.apiUrl ? { apiUrl: options.apiUrl } : {}),
      ...(options.apiToken ? { apiToken: options.apiToken } : {}),
      ...(options.secretValue ? { secretValue: options.secretValue } : {}),
      ...(options.dnsAddress ? { dnsAddress: options.dnsAddress } : {}),
      ...(options.containerNetwork ? { containerNetwork: options.containerNetwork } : {}),
      ...(options.instanceUser ? { instanceUser: options.instanceUser } : {}),
    };
  }

  /**
   * Re-adopts what an earlier berth left running, then runs every live instance of the node. First the
   * driver lists every container it started (before anything new starts); each is adopted by its live
   * instance, even one the store still records as new, pending or starting (berth died before it wrote
   * that the container runs), and the rest — of instances ended or gone — are destroyed.
   */
  async start(): Promise<void> {
    const { ports, node } = this.options;
    const listed = await this.listContainers();
    const byInstance = new Map<string, ListedContainer[]>();
    for (const c of listed.containers) byInstance.set(c.instanceId, [...(byInstance.get(c.instanceId) ?? []), c]);
    const live = new Set<string>();
    const work: Promise<void>[] = [];
    for (const inst of ports.listInstances(node)) {
      if (isTerminal(inst.status.state)) continue;
      live.add(inst.id);
      const runner = new InstanceRunner(inst, this.ctx, () => this.kick(inst.id));
      const found = byInstance.get(inst.id) ?? [];
      if (found.length > 0 || inst.status.state === 'starting' || inst.status.state === 'running') {
        work.push(this.adopt(inst, runner, found, listed.complete));
      } else {
        this.run(runner);
      }
    }
    for (const c of listed.containers) if (!live.has(c.instanceId)) work.push(this.discard(c));
    await Promise.all(work);
    void sweepRemovedVolumes(this.options.dataDir);
    this.removals = ports.watchRemovedServices?.((removed) => {
      if (removed.deleteVolumes) this.removeVolumes(removed.grid, removed.name);
    });
    this.watch = ports.watchInstances(node, (inst, op) => this.onInstance(inst, op));
    // Changes between the listing and the watch are caught by re-reading once.
    for (const inst of ports.listInstances(node)) this.onInstance(inst, 'put');
  }

  /** Stops stepping and watching; containers keep running (instances outlive berth). Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    void this.watch?.dispose();
    void this.removals?.dispose();
    for (const { runner } of this.runners.values()) runner.detach();
    this.flush();
    await Promise.resolve();
  }

  /**
   * How instances with images started from now on are networked (RunnerContext.containerNetwork), for
   * a container network that appeared after start (a Docker engine found late).
   */
  useContainerNetwork(network: NonNullable<RunnerContext['containerNetwork']>): void {
    this.ctx.containerNetwork = network;
  }

  /**
   * start()'s sweep for a driver added after start (a Docker engine found late): its containers that
   * no live instance of this node claims — left by an earlier berth whose instances could not be
   * recovered without the driver, and were counted as exited — are killed and forgotten, so none
   * runs untracked. Containers of live instances are left to their runners.
   * @param driverName the driver's name in handles (`docker`)
   */
  async sweepUnclaimed(driverName: string): Promise<void> {
    const listed = await this.listContainers();
    if (!listed.complete) return;
    const live = new Set(this.options.ports.listInstances(this.options.node).filter((i) => !isTerminal(i.status.state)).map((i) => i.id));
    const unclaimed = listed.containers.filter((c) => c.handle.driver === driverName && !live.has(c.instanceId) && !this.runners.has(c.instanceId));
    await Promise.all(unclaimed.map((c) => this.discard(c)));
  }

  /** The stateful services' per-slot data directories on this node (the API's GET …/volumes). */
  volumes(filter: { readonly grid?: string; readonly service?: string } = {}): SlotVolume[] {
    return listSlotVolumes(this.options.dataDir, this.options.node, filter);
  }

  /**
   * Deletes a removed service's data directories (`rm --volumes`): renamed away at once, deleted in
   * the background. Called once the service record is gone, so none of its instances runs any more.
   */
  private removeVolumes(grid: string, service: string): void {
    try {
      const { removed, done } = removeServiceVolumes(this.options.dataDir, this.options.node, grid, service);
      if (removed.length === 0) return;
      this.logger.info({ grid, service, paths: removed.map((v) => v.path) }, 'deleting the data directories of a removed service');
      done.catch((error: unknown) => this.logger.warn({ grid, service, err: error }, 'deleting data directories failed'));
    } catch (error) {
      this.logger.warn({ grid, service, err: error }, 'deleting data directories failed; they are kept');
    }
  }

  /** Handles of the running containers of an instance on this node (for logs and stats). */
  containerHandles(instanceId: string): readonly { name: string; handle: ContainerHandle }[] {
    return this.runners.get(instanceId)?.runner.handles() ?? [];
  }

  /** The driver's list of what it started; `complete` is false when the driver cannot list (or failed to). */
  private async listContainers(): Promise<{ containers: readonly ListedContainer[]; complete: boolean }> {
    const { driver } = this.options;
    if (!driver.list) return { containers: [], complete: false };
    try {
      return { containers: await driver.list(), complete: true };
    } catch (error) {
      this.logger.error({ err: error }, 'listing the containers of the driver failed; adopting from handle files only');
      return { containers: [], complete: false };
    }
  }

  /** A container no live instance claims (its instance ended or is gone): killed if it runs, then forgotten. */
  private async discard(c: ListedContainer): Promise<void> {
    const { driver } = this.options;
    try {
      const state = await driver.recover(c.handle);
      if (state.state === 'running') this.logger.warn({ instance: c.instanceId, container: c.containerName, handle: c.handle }, 'killing a container that no live instance claims');
      await driver.destroy(c.handle);
    } catch (error) {
      this.logger.warn({ instance: c.instanceId, container: c.containerName, err: error }, 'discarding an unclaimed container failed');
    }
  }

  /**
   * @param listed the driver's containers of this instance (adopted before its handle files say so)
   * @param complete the driver's list is authoritative: an instance it has nothing of never started
   */
  private async adopt(inst: Instance, runner: InstanceRunner, listed: readonly ListedContainer[], complete: boolean): Promise<void> {
    const found = await runner.recover(listed).catch((error: unknown) => {
      this.logger.warn({ instance: inst.id, err: error }, 'recovering an instance failed');
      return 'none' as const;
    });
    const name = slotName(inst.service, inst.slot);
    const state = inst.status.state;
    // Nothing recorded anywhere, and the store does not say it ran: it never started, so start it now.
    const neverStarted = state === 'new' || state === 'pending' || (state === 'starting' && complete);
    if (found === 'running') {
      this.enqueueEvent({ grid: inst.grid, service: inst.service, type: 'instance.adopted', severity: 'info', instance: inst.id, slot: inst.slot, message: `${name} re-adopted after berth restarted` });
    } else if (found === 'none' && inst.desiredState === 'running' && !neverStarted) {
      // Nothing to find: count it as an exit whose code was lost, so the restart policy applies.
      this.enqueueReport(
        inst.id,
        { state: 'failed', message: 'process not found after berth restarted', exitCode: 255, timestamp: new Date().toISOString(), finishedAt: new Date().toISOString() },
        [{ grid: inst.grid, service: inst.service, type: 'instance.exited', severity: 'warning', instance: inst.id, slot: inst.slot, message: `${name} was gone when berth restarted (exit code unknown)`, data: { exitCode: 255 } }],
      );
      return;
    }
    this.run(runner);
  }

  private onInstance(inst: Instance, op: 'put' | 'delete'): void {
    if (this.stopped || inst.node !== this.options.node) return;
    const entry = this.runners.get(inst.id);
    if (op === 'delete') {
      this.runners.delete(inst.id);
      // A runner not yet done has not destroyed its containers (the record went first, e.g. a removed
      // service's): destroy them now, before their handle files go, or they are left behind.
      const destroyed = entry ? entry.runner.destroy().catch((error: unknown) => this.logger.warn({ instance: inst.id, err: error }, 'destroying the containers of a deleted instance failed')) : Promise.resolve();
      void destroyed.then(() => rm(instanceDir(this.options.dataDir, inst.id), { recursive: true, force: true }));
      return;
    }
    if (entry) {
      entry.runner.update(inst);
      entry.kick();
      return;
    }
    if (!isTerminal(inst.status.state) && inst.status.state === 'new') this.run(new InstanceRunner(inst, this.ctx, () => this.kick(inst.id)));
  }

  private kick(id: string): void {
    this.runners.get(id)?.kick();
  }

  /** The loop around one runner: step until nothing changes, then sleep until kicked. */
  private run(runner: InstanceRunner): void {
    let wake: (() => void) | undefined;
    let kicked = false;
    const kick = (): void => {
      kicked = true;
      const w = wake;
      wake = undefined;
      w?.();
    };
    this.runners.set(runner.id, { runner, kick });
    const loop = async (): Promise<void> => {
      let retryMs = 100;
      while (!this.stopped && this.runners.get(runner.id)?.runner === runner) {
        kicked = false;
        let result;
        try {
          result = await runner.step();
        } catch (error) {
          this.logger.error({ instance: runner.id, err: error }, 'instance step failed; retrying');
          result = 'retry' as const;
        }
        if (result === 'done') {
          // The entry stays until the containers are removed: a delete of the record meanwhile waits for
          // this removal (onInstance) before the instance's files go — removing them first lost the
          // sandbox's handle file, and the sandbox was left behind.
          await runner.destroy();
          if (this.runners.get(runner.id)?.runner === runner) this.runners.delete(runner.id);
          return;
        }
        if (result === 'progressed') {
          retryMs = 100;
          continue;
        }
        if (result === 'retry') {
          await new Promise((r) => setTimeout(r, retryMs));
          retryMs = Math.min(retryMs * 2, 10_000);
          continue;
        }
        if (!kicked) await new Promise<void>((resolve) => (wake = resolve));
      }
    };
    void loop();
  }

  private enqueueReport(id: string, status: InstanceStatus, events: readonly NewServiceEvent[]): void {
    this.pending.push({ id, status });
    this.pendingEvents.push(...events);
    this.scheduleFlush();
  }

  private enqueueEvent(event: NewServiceEvent): void {
    this.pendingEvents.push(event);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /** One store write for every report of this tick (100 instances starting = a handful of writes). */
  private flush(): void {
    this.flushScheduled = false;
    if (this.pending.length === 0 && this.pendingEvents.length === 0) return;
    const updates = this.pending.splice(0);
    const events = this.pendingEvents.splice(0);
    try {
      this.options.ports.reportStatuses(updates, events);
    } catch (error) {
      this.logger.error({ err: error, count: updates.length }, 'reporting statuses failed');
    }
  }
}
