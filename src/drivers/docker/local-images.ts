import type Dockerode from 'dockerode';
import { CodedError } from '../../lib/index.js';
import { engineMessage, isNotFound } from './engine-errors.js';

/** An image the engine holds: its id (`sha256:<64 hex>`), platform and size in bytes. */
export interface EngineImage {
  readonly id: string;
  readonly os: string;
  readonly architecture: string;
  readonly size?: number;
}

/** How long the engine has to answer an image inspect, ms. */
const INSPECT_TIMEOUT_MS = 5000;

/**
 * The engine's own images, looked up by reference without ever pulling (`GET /images/{name}/json`):
 * what the Docker API face answers the CLI's distribution inspect with (api/docker's LocalImages port),
 * so `docker service create` pins an image that is already here instead of asking a registry.
 */
export class DockerLocalImages {
  constructor(private readonly docker: Dockerode) {}

  /**
   * @param ref a reference as the docker CLI sends it (`nginx:latest`, `library/nginx:latest`); the
   *   engine normalizes it as `docker image inspect` does
   * @returns the image, or undefined when the engine has none by that reference
   * @throws CodedError `DOCKER_ENGINE_ERROR` with the engine's message for any other failure (no engine, timeout)
   */
  async inspect(ref: string): Promise<EngineImage | undefined> {
    try {
      const image = this.docker.getImage(ref);
      // dockerode passes abortSignal through to its request; its typings do not list it.
      const inspect = image.inspect.bind(image) as unknown as (opts: { abortSignal: AbortSignal }) => Promise<Dockerode.ImageInspectInfo>;
      const info = await inspect({ abortSignal: AbortSignal.timeout(INSPECT_TIMEOUT_MS) });
      return { id: info.Id, os: info.Os, architecture: info.Architecture, ...(typeof info.Size === 'number' ? { size: info.Size } : {}) };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw new CodedError('DOCKER_ENGINE_ERROR', `inspecting image ${ref}: ${engineMessage(error)}`, { image: ref });
    }
  }

  /**
   * How many images the engine has, as `docker images` lists them (no intermediate layers): what
   * `docker info` reports as `Images`.
   * @throws CodedError `DOCKER_ENGINE_ERROR` with the engine's message (no engine, timeout)
   */
  async count(): Promise<number> {
    try {
      const list = this.docker.listImages.bind(this.docker) as unknown as (opts: { abortSignal: AbortSignal }) => Promise<unknown[]>;
      return (await list({ abortSignal: AbortSignal.timeout(INSPECT_TIMEOUT_MS) })).length;
    } catch (error) {
      throw new CodedError('DOCKER_ENGINE_ERROR', `listing images: ${engineMessage(error)}`, {});
    }
  }
}
