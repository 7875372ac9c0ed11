import type Dockerode from 'dockerode';
import type { Logger } from '../../lib/index.js';
import { CodedError, silentLogger } from '../../lib/index.js';
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
  SandboxConfig,
  StopOptions,
} from '../driver.js';
import { execInContainer } from './container-exec.js';
import { ContainerExits } from './container-exits.js';
import { readContainerLogs } from './container-logs.js';
import { forgetContainerStats, sampleContainerStats } from './container-stats.js';
import { LABELS, containerCreateOptions, sandboxCreateOptions } from './container-create.js';
import { engineMessage, exitOfState, isNotFound, isNotRunning } from './engine-errors.js';
import { ensureImage, splitDigest } from './image-pull.js';
import { imageVolumeMounts } from './image-volumes.js';
import { missingCommand } from './command-check.js';

/** The handle of a Docker container: its engine id (and names, for people reading status). */
export interface DockerHandle extends ContainerHandle {
  readonly driver: 'docker';
  /** The engine's container id (64 hex). */
  readonly id: string;
  /** The Docker container name. */
  readonly name: string;
}

export interface DockerDriverOptions {
  readonly docker: Dockerode;
  /** This berth's id on a shared engine (label io.berth.owner): `list` finds only its own containers. */
  readonly owner: string;
  /** The network sandboxes join (the berth bridge network, docker-network.ts). */
  readonly network: string;
  /** The pause image of sandboxes (pause-image.ts builds it); asked once, when the first sandbox starts. */
  readonly pauseImage: () => Promise<string>;
  /** Docker's `--init` for every container (default true: signals reach the program, zombies are reaped). */
  readonly init?: boolean;
  readonly logger?: Logger;
}

/**
 * Runs containers as Docker containers through the Engine API (docs/drivers.md, "Docker driver"):
 * each instance gets a sandbox (a pause container on the berth network holding its address, hostname
 * and resolv.conf) and its containers join the sandbox's network namespace (`container:<id>`), as a
 * Kubernetes pod's do. Exits come from the engine's events stream (container-exits.ts); stop sends
 * the stop signal, then SIGKILL after the grace, as the process driver does. Everything berth creates
 * is labelled (LABELS) with this berth's owner id, which is how `list` re-adopts after a crash.
 */
export class DockerDriver implements Driver {
  readonly name = 'docker';
  private readonly docker: Dockerode;
  private readonly exits: ContainerExits;
  private readonly logger: Logger;
  private pause: Promise<string> | undefined;

  constructor(private readonly options: DockerDriverOptions) {
    this.docker = options.docker;
    this.logger = options.logger ?? silentLogger;
    this.exits = new ContainerExits(this.docker, `${LABELS.owner}=${options.owner}`, this.logger);
  }

  /** Ends the events stream (pending waits stay pending). */
  dispose(): void {
    this.exits.close();
  }

  async runSandbox(config: SandboxConfig): Promise<ContainerHandle> {
    let image: string;
    try {
      this.pause ??= this.options.pauseImage();
      image = await this.pause;
    } catch (error) {
      this.pause = undefined;
      throw new CodedError('CONTAINER_START_FAILED', `cannot make the sandbox's pause image: ${engineMessage(error)}`);
    }
    const body = sandboxCreateOptions(config, image, { owner: this.options.owner, network: this.options.network });
    return this.createAndStart(body, 'sandbox');
  }

  async start(config: ContainerConfig): Promise<ContainerHandle> {
    if (!config.image) throw new CodedError('CONTAINER_START_FAILED', 'the Docker driver runs images: the container has no image');
    const image = config.image;
    let imageId: string;
    try {
      ({ imageId } = await ensureImage(this.docker, image, config.imagePullPolicy ?? 'IfNotPresent', {
        ...(config.onPullProgress ? { onProgress: (p) => config.onPullProgress?.({ image, ...p }) } : {}),
      }));
    } catch (error) {
      // IMAGE_NOT_PRESENT / IMAGE_PULL_FAILED keep their codes: `why` and the back-off say which.
      if (error instanceof CodedError) throw error;
      throw new CodedError('CONTAINER_START_FAILED', `cannot get image ${image}: ${engineMessage(error)}`);
    }
    // A stateful slot keeps the image's own VOLUMEs in its directory (Kontena's stateful services).
    let withVolumes = config;
    if (config.imageVolumesDir !== undefined) {
      try {
        const kept = await imageVolumeMounts(this.docker, imageId, config);
        if (kept.length > 0) withVolumes = { ...config, mounts: [...(config.mounts ?? []), ...kept] };
      } catch (error) {
        throw new CodedError('CONTAINER_START_FAILED', `cannot keep the volumes of image ${image} in the slot's directory: ${engineMessage(error)}`);
      }
    }
    // A reference pinned to a digest the engine knows only as the image's id is created from that id.
    const body = containerCreateOptions(withVolumes, splitDigest(image) !== undefined ? imageId : image, { owner: this.options.owner, network: this.options.network, ...(this.options.init !== undefined ? { init: this.options.init } : {}) });
    const argv0 = config.entrypoint?.[0] ?? config.cmd?.[0];
    return this.createAndStart(body, 'container', false, argv0 === undefined ? undefined : async (container) => missingCommand(this.docker, container, argv0, config.env, image));
  }

  async recover(handle: ContainerHandle): Promise<RecoverResult> {
    const id = this.idOf(handle);
    try {
      const info = await this.docker.getContainer(id).inspect();
      if (info.State.Running || info.State.Restarting) return { state: 'running' };
      return { state: 'exited', exit: exitOfState(info.State) };
    } catch (error) {
      if (isNotFound(error)) return { state: 'exited', exit: { exitCode: 255, message: 'the container is gone (removed outside berth)' } };
      throw error;
    }
  }

  wait(handle: ContainerHandle, signal?: AbortSignal): Promise<ExitResult> {
    return this.exits.wait(this.idOf(handle), signal);
  }

  async stop(handle: ContainerHandle, options: StopOptions): Promise<ExitResult> {
    const id = this.idOf(handle);
    const container = this.docker.getContainer(id);
    const exited = this.exits.wait(id);
    const kill = async (signal: string): Promise<void> => {
      try {
        await container.kill({ signal });
      } catch (error) {
        if (!isNotRunning(error) && !isNotFound(error)) throw error;
      }
    };
    let timer: NodeJS.Timeout | undefined;
    try {
      await kill(options.signal);
      if (options.signal !== 'SIGKILL') {
        timer = setTimeout(() => void kill('SIGKILL').catch((error: unknown) => this.logger.warn({ container: id, err: error }, 'SIGKILL after the grace failed')), options.timeoutMs);
      }
      return await exited;
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  /**
   * Removes the container (rm -f -v). When another caller's removal of it is already in progress,
   * waits until the engine has it gone (at most 10 s): the caller removes an instance's sandbox right
   * after its containers, and a sandbox removed while a container joined to it is still being removed
   * could fail and be left behind.
   */
  async destroy(handle: ContainerHandle): Promise<void> {
    const id = this.idOf(handle);
    forgetContainerStats(this.docker, id);
    const container = this.docker.getContainer(id);
    try {
      await container.remove({ force: true, v: true });
    } catch (error) {
      if (isNotFound(error)) return;
      if (!/removal of container .* is already in progress/i.test(engineMessage(error))) throw error;
      for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        try {
          await container.inspect();
        } catch (inspectError) {
          if (isNotFound(inspectError)) return;
          throw inspectError;
        }
      }
    }
  }

  stats(handle: ContainerHandle): Promise<ContainerStats | undefined> {
    return sampleContainerStats(this.docker, this.idOf(handle), () => performance.now());
  }

  /**
   * The container's log lines. A container that is gone or going (an ended instance's, removed by
   * destroy or by hand) has no lines left: the engine's json-file goes with it, as Swarm's dead tasks' logs do. It
   * reads as no lines, so a service's logs still show its other instances'.
   */
  async *logs(handle: ContainerHandle, options: LogReadOptions): AsyncIterable<ContainerLogLine> {
    try {
      yield* readContainerLogs(this.docker, this.idOf(handle), options);
    } catch (error) {
      // 404: removed; 409: being removed ("can not get logs from container which is dead or marked for removal").
      if (isNotFound(error) || (error as { statusCode?: number }).statusCode === 409) return;
      throw error;
    }
  }

  exec(handle: ContainerHandle, argv: readonly string[], options: ExecOptions): Promise<ExecResult> {
    return execInContainer(this.docker, this.idOf(handle), argv, options);
  }

  async list(): Promise<readonly ListedContainer[]> {
    const found = await this.docker.listContainers({ all: true, filters: JSON.stringify({ label: [`${LABELS.owner}=${this.options.owner}`] }) });
    const out: ListedContainer[] = [];
    for (const c of found) {
      const instanceId = c.Labels[LABELS.instance];
      const containerName = c.Labels[LABELS.container];
      if (!instanceId || !containerName) continue;
      const handle: DockerHandle = { driver: 'docker', id: c.Id, name: (c.Names[0] ?? '').replace(/^\//, '') };
      out.push({ instanceId, containerName, handle });
    }
    return out;
  }

  /**
   * Creates and starts a container; `check` (the command lookup) runs between the two, and a reason it
   * gives removes the container and fails the start.
   */
  private async createAndStart(
    body: Dockerode.ContainerCreateOptions,
    what: 'sandbox' | 'container',
    retried = false,
    check?: (container: Dockerode.Container) => Promise<string | undefined>,
  ): Promise<DockerHandle> {
    let container: Dockerode.Container;
    try {
      container = await this.docker.createContainer(body);
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 409 && !retried) {
        // A container of that name is left from a start berth did not finish (it died in between):
        // remove it and create afresh — the instance id is unique, so it is ours and not running.
        await this.docker.getContainer(body.name ?? '').remove({ force: true, v: true }).catch(() => undefined);
        return this.createAndStart(body, what, true, check);
      }
      throw new CodedError('CONTAINER_START_FAILED', `cannot create the ${what}: ${engineMessage(error)}`);
    }
    const problem = await check?.(container);
    if (problem) {
      await container.remove({ force: true, v: true }).catch(() => undefined);
      throw new CodedError('CONTAINER_START_FAILED', `cannot start the ${what}: ${problem}`);
    }
    try {
      await container.start();
    } catch (error) {
      await container.remove({ force: true, v: true }).catch(() => undefined);
      throw new CodedError('CONTAINER_START_FAILED', `cannot start the ${what}: ${engineMessage(error)}`);
    }
    return { driver: 'docker', id: container.id, name: body.name ?? container.id };
  }

  private idOf(handle: ContainerHandle): string {
    const id = handle.id;
    if (handle.driver !== 'docker' || typeof id !== 'string' || !/^[0-9a-f]{12,64}$/.test(id)) {
      throw new CodedError('CONTAINER_HANDLE_INVALID', `not a Docker container handle: ${JSON.stringify(handle)}`);
    }
    return id;
  }
}
