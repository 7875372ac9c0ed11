/*
 * The paths of berth's API routes (docs/api.md), with each name segment URL-encoded.
 */

/** `/v1/grids/:grid/services`. */
export function servicesPath(grid: string): string {
  return `/v1/grids/${encodeURIComponent(grid)}/services`;
}

/** `/v1/grids/:grid/services/:name`. */
export function servicePath(grid: string, name: string): string {
  return `${servicesPath(grid)}/${encodeURIComponent(name)}`;
}

/** `/v1/grids/:grid/secrets/:name`. */
export function secretPath(grid: string, name: string): string {
  return `/v1/grids/${encodeURIComponent(grid)}/secrets/${encodeURIComponent(name)}`;
}
