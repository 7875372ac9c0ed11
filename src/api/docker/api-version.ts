import { DockerApiError } from './docker-errors.js';

/** The oldest Docker API version served: 1.24 brought services (docker-py's services API needs it). */
export const MIN_API_VERSION = '1.24';
/** The newest: what the docker 28 CLI sends (its api.DefaultVersion). */
export const MAX_API_VERSION = '1.50';

/**
 * Splits a request URL into the API version its path names and the path without it, as moby's router
 * matches `/v{version:[0-9.]+}` before every route (moby `daemon/server/server.go`, versionMatcher):
 * `/v1.41/services?x` → `{ version: '1.41', url: '/services?x' }`; `/services` → no version. A
 * prefix with nothing after it (`/v1.41`) leaves `/`, which no route has (404, as the engine).
 */
export function splitVersionPrefix(url: string): { readonly version: string | undefined; readonly url: string } {
  const path = url.split('?', 1)[0] ?? '';
  const match = /^\/v([0-9.]+)(?=\/|$)/.exec(path);
  if (!match) return { version: undefined, url };
  const rest = url.slice(match[0].length);
  return { version: match[1], url: rest === '' || rest.startsWith('?') ? `/${rest}` : rest };
}

/**
 * Compares two dotted versions number by number, as moby's `versions.compare` (a missing or
 * non-numeric part counts as 0): -1, 0 or 1.
 */
export function compareApiVersions(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = Number.parseInt(pa[i] ?? '0', 10) || 0;
    const y = Number.parseInt(pb[i] ?? '0', 10) || 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/**
 * The engine's refusal of a version out of [min, max], in moby's words (`daemon/server/middleware/
 * version.go`, versionUnsupportedError: an InvalidParameter, HTTP 400); undefined when it is served.
 */
export function unsupportedVersion(version: string, range: { readonly min: string; readonly max: string } = { min: MIN_API_VERSION, max: MAX_API_VERSION }): DockerApiError | undefined {
  if (compareApiVersions(version, range.min) < 0) {
    return new DockerApiError(400, `client version ${version} is too old. Minimum supported API version is ${range.min}, please upgrade your client to a newer version`);
  }
  if (compareApiVersions(version, range.max) > 0) {
    return new DockerApiError(400, `client version ${version} is too new. Maximum supported API version is ${range.max}`);
  }
  return undefined;
}
