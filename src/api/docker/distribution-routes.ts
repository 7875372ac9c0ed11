import type { FastifyInstance } from 'fastify';
import { parseImageReference } from '../../model/index.js';
import type { DockerContext } from './docker-context.js';
import type { DockerRouteAccess } from './docker-access.js';
import { DockerApiError } from './docker-errors.js';

export const DISTRIBUTION_ACCESS: Readonly<Record<string, DockerRouteAccess>> = {
  'GET /distribution/*': { kind: 'permission', permission: 'read', scope: 'grid' },
};

/** What a distribution inspect answers for a local image: Docker's image manifest type. */
const MANIFEST_TYPE = 'application/vnd.docker.distribution.manifest.v2+json';

/**
 * `GET /distribution/{name}/json`, answered from the node's own images so the CLI never reaches a
 * registry. `docker service create IMAGE` asks it to pin the image (docker/cli's client
 * `service_create.go`, resolveContainerSpecImage): the service is then created with
 * `IMAGE@<Descriptor.digest>` — here the local image id, `sha256:<64 hex>` — and with
 * Placement.Platforms from `Platforms`. The name may hold slashes (`library/nginx:latest`), hence the
 * wildcard. Without the image (or without a Docker driver on the node): 404, and the CLI goes on with
 * the unpinned name after its warning ("image … could not be accessed on a registry").
 */
export function registerDistributionRoutes(app: FastifyInstance, ctx: DockerContext): void {
  app.get('/distribution/*', async (request) => {
    const rest = (request.params as { '*': string })['*'];
    if (!rest.endsWith('/json')) throw new DockerApiError(404, 'page not found');
    const name = rest.slice(0, -'/json'.length);
    try {
      parseImageReference(name);
    } catch (error) {
      throw new DockerApiError(400, (error as Error).message);
    }
    const image = await ctx.images?.inspect(name);
    if (!image) throw new DockerApiError(404, `No such image: ${name}`);
    return {
      Descriptor: { mediaType: MANIFEST_TYPE, digest: image.id, size: image.size ?? 0 },
      Platforms: [{ architecture: image.architecture, os: image.os }],
    };
  });
}
