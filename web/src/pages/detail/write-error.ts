import { isApiError } from '../../../../src/client/index.js';

/**
 * A refused write in the API's words. A stale write (409 VERSION_CONFLICT, details `{ expectedVersion,
 * currentVersion }`) says so with both versions — the page never retries it on its own: the live
 * service shows what changed and the user decides. SPEC_INVALID lists its causes' messages.
 */
export function describeWriteError(e: unknown): string {
  if (isApiError(e, 'VERSION_CONFLICT')) {
    const { expectedVersion, currentVersion } = e.details as { expectedVersion?: unknown; currentVersion?: unknown };
    const versions = expectedVersion !== undefined && currentVersion !== undefined ? ` You acted on version ${String(expectedVersion)}; it is now at version ${String(currentVersion)}.` : '';
    return `Conflict: the service changed since this page read it.${versions} Nothing was changed; look at the service again and retry. (${e.message})`;
  }
  if (isApiError(e) && e.causes.length > 0) return [e.message, ...e.causes.map((c) => `• ${c.message}`)].join('\n');
  return e instanceof Error ? e.message : String(e);
}
