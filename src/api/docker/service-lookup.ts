import type { Service } from '../../model/index.js';
import type { DockerContext } from './docker-context.js';
import { DockerApiError, serviceNotFound } from './docker-errors.js';

/**
 * The services the Docker face shows: those of its grid (ctx.grid) that are not being removed. Swarm
 * deletes a service object at once on `DELETE /services/{id}` and shuts its tasks down afterwards;
 * berth keeps the service (desired `removing`) until its instances have drained and stopped, so the
 * face hides it from that moment on, as Swarm would.
 */
export function visibleServices(ctx: DockerContext): Service[] {
  return ctx.berth.store.listServices({ grid: ctx.grid }).filter((s) => s.desired !== 'removing');
}

/** berth's service ids are UUIDs (the store's randomUUID). */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The service that `idOrName` names on the Docker face, looked up as moby's `getService`
 * (daemon/cluster/helpers.go) does: a full id first, then an exact name, then a unique id prefix.
 * Something that cannot be a full id (not a UUID) is first read by name (one indexed read; no id can
 * equal it), so the common lookups by name do not read every service.
 * @throws DockerApiError 404 `service X not found` when nothing matches; 400 `service X is ambiguous
 *   (N matches found)` when an id prefix matches several services (moby: errdefs.InvalidParameter).
 */
export function resolveService(ctx: DockerContext, idOrName: string): Service {
  if (idOrName === '') throw serviceNotFound(idOrName);
  if (!UUID.test(idOrName)) {
    const named = ctx.berth.store.getService(ctx.grid, idOrName);
    if (named && named.desired !== 'removing') return named;
  }
  const services = visibleServices(ctx);
  const byId = services.find((s) => s.id === idOrName);
  if (byId) return byId;
  const byName = services.find((s) => s.name === idOrName);
  if (byName) return byName;
  const byPrefix = services.filter((s) => s.id.startsWith(idOrName));
  if (byPrefix.length === 0) throw serviceNotFound(idOrName);
  if (byPrefix.length > 1) throw new DockerApiError(400, `service ${idOrName} is ambiguous (${byPrefix.length} matches found)`);
  return byPrefix[0]!;
}
