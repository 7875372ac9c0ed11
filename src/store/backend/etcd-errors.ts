import { CodedError } from '../../lib/index.js';
import { RequestInvalidError, RevisionCompactedError, StoreUnavailableError } from '../../model/index.js';

/**
 * Maps an error of the etcd3 client to berth's codes:
 * - etcd's ErrCompacted ("mvcc: required revision has been compacted") → RevisionCompactedError (410),
 *   carrying the newest compaction this client knows of (etcd's error does not say which);
 * - a future revision, a lease that is not found, a duplicate key, a too-large request or answer → RequestInvalidError;
 * - anything else (no member answers, deadline, auth refused, client closed) → StoreUnavailableError (503)
 *   naming the endpoints and the last error.
 * A CodedError passes through unchanged.
 */
export function mapEtcdError(error: unknown, context: { endpoints: readonly string[]; revision?: number; compacted?: number }): Error {
  if (error instanceof CodedError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const name = error instanceof Error ? error.constructor.name : 'Error';
  if (/required revision has been compacted/.test(message)) {
    const at = context.revision ?? 0;
    return new RevisionCompactedError(at, Math.max(context.compacted ?? 0, at + 1));
  }
  if (/future revision/.test(message)) return new RequestInvalidError(`revision ${context.revision ?? '?'} is in the future: ${message}`);
  if (/requested lease not found/.test(message) || name === 'EtcdLeaseInvalidError') return new RequestInvalidError(`lease not found (expired or revoked): ${message}`);
  if (/duplicate key given in txn request|request is too large|too many operations in txn|larger than max/.test(message) || name === 'GRPCResourceExhastedError') {
    return new RequestInvalidError(`etcd refused the request (a value is limited to etcd's --max-request-bytes, 1.5 MiB by default; page long ranges with limit): ${message}`);
  }
  return new StoreUnavailableError(context.endpoints, `${name}: ${message}`, { cause: error });
}
