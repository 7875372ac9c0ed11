import { CodedError } from '../lib/index.js';
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
} from './driver.js';

/** The drivers of a node: which it has, and why the missing ones are missing. */
export interface NodeDrivers {
  /** Names of the drivers that run containers here, e.g. ["process", "docker"]. */
  readonly available: readonly string[];
  /** Driver name → why it cannot run here ("no Docker engine answers at unix:///var/run/docker.sock: …"). */
  readonly unavailable: Readonly<Record<string, string>>;
}

/**
 * One Driver over the node's drivers, as kubelet picks a runtime per pod: a container with an image
 * runs under the image driver (Docker), one without under the process driver; every later call goes
 * to the driver named in the handle (`handle.driver`). Sandboxes are the image driver's. When the
 * image driver is missing, a start of an image fails at once with the reason (`imageUnavailable`),
 * until `addImageDriver` brings one (an engine that answered after the node started).
 */
export class DriverRouter implements Driver {
  readonly name = 'router';
  private readonly byName = new Map<string, Driver>();

  constructor(
    private readonly process: Driver,
    private image: Driver | undefined,
    /** Why there is no image driver (shown in a start's error, `berth version` and `GET /v1/nodes`). */
    private readonly imageUnavailable = 'no image driver is configured',
  ) {
    this.byName.set(process.name, process);
    if (image) this.byName.set(image.name, image);
  }

  /**
   * Brings the image driver of an engine found after the node started: from now on images start
   * under it and `drivers()` lists it. Once only.
   * @throws CodedError CONTAINER_START_FAILED when the node has an image driver already, or one of that name
   */
  addImageDriver(image: Driver): void {
    if (this.image || this.byName.has(image.name)) throw new CodedError('CONTAINER_START_FAILED', `this node has a ${this.image?.name ?? image.name} driver already`);
    this.image = image;
    this.byName.set(image.name, image);
  }

  /** What this node can run (for the node record). */
  drivers(): NodeDrivers {
    return {
      available: [...this.byName.keys()],
      unavailable: this.image ? {} : { docker: this.imageUnavailable },
    };
  }

  async start(config: ContainerConfig): Promise<ContainerHandle> {
    return this.forConfig(config).start(config);
  }

  async runSandbox(config: SandboxConfig): Promise<ContainerHandle> {
    const image = this.imageDriver();
    if (!image.runSandbox) throw new CodedError('CONTAINER_START_FAILED', `the ${image.name} driver makes no sandboxes`);
    return image.runSandbox(config);
  }

  /** True when instances with images get a sandbox here (the image driver makes them). */
  hasSandboxes(): boolean {
    return this.image?.runSandbox !== undefined;
  }

  async recover(handle: ContainerHandle): Promise<RecoverResult> {
    return this.of(handle).recover(handle);
  }

  async wait(handle: ContainerHandle, signal?: AbortSignal): Promise<ExitResult> {
    return this.of(handle).wait(handle, signal);
  }

  async stop(handle: ContainerHandle, options: StopOptions): Promise<ExitResult> {
    return this.of(handle).stop(handle, options);
  }

  async destroy(handle: ContainerHandle): Promise<void> {
    return this.of(handle).destroy(handle);
  }

  async stats(handle: ContainerHandle): Promise<ContainerStats | undefined> {
    return this.of(handle).stats(handle);
  }

  async *logs(handle: ContainerHandle, options: LogReadOptions): AsyncIterable<ContainerLogLine> {
    yield* this.of(handle).logs(handle, options);
  }

  async exec(handle: ContainerHandle, argv: readonly string[], options: ExecOptions): Promise<ExecResult> {
    const driver = this.of(handle);
    if (!driver.exec) throw new CodedError('CONTAINER_HANDLE_INVALID', `the ${driver.name} driver cannot exec`);
    return driver.exec(handle, argv, options);
  }

  /** Every driver's list, together; a driver that cannot list makes the whole list incomplete (rejects). */
  async list(): Promise<readonly ListedContainer[]> {
    const lists = await Promise.all(
      [...this.byName.values()].map((d) => {
        if (!d.list) throw new CodedError('CONTAINER_HANDLE_INVALID', `the ${d.name} driver cannot list its containers`);
        return d.list();
      }),
    );
    return lists.flat();
  }

  private forConfig(config: ContainerConfig): Driver {
    return config.image ? this.imageDriver() : this.process;
  }

  private imageDriver(): Driver {
    if (!this.image) throw new CodedError('CONTAINER_START_FAILED', `cannot run an image on this node: ${this.imageUnavailable}`);
    return this.image;
  }

  private of(handle: ContainerHandle): Driver {
    const driver = this.byName.get(handle.driver);
    if (!driver) throw new CodedError('CONTAINER_HANDLE_INVALID', `no ${handle.driver} driver on this node for ${JSON.stringify(handle)}`);
    return driver;
  }
}
