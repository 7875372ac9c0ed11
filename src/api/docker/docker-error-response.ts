import { CodedError } from '../../lib/index.js';
import { ERROR_STATUS, isErrorCode } from '../error-status.js';
import { BodyTooLargeError } from '../json-body.js';
import { DockerApiError } from './docker-errors.js';

/**
 * What the Docker face answers for anything thrown: the engine's `{"message": "…"}` body (moby
 * `daemon/server/server.go` makeHTTPHandler, status from `daemon/server/httpstatus/status.go`)
 * with the status:
 * - a DockerApiError's own;
 * - berth's coded errors by berth's table (error-status.ts: 400 invalid spec, 401, 403, 404, 409, 413…),
 *   with berth's message (it names the field, the role, the version…);
 * - fastify's own client errors (a body over the limit, unparsable JSON) with fastify's 4xx;
 * - anything else 500 with its message, as the engine's errdefs.System.
 */
export function toDockerError(error: unknown): { readonly status: number; readonly message: string } {
  if (error instanceof DockerApiError) return { status: error.status, message: error.message };
  const e = error as { statusCode?: unknown; code?: unknown; message?: unknown } | null | undefined;
  if (e?.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return toDockerError(new BodyTooLargeError());
  // A body with no Content-Type at all: moby's CheckForJSON parses "" as a media type and fails so.
  if (e?.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return { status: 400, message: 'malformed Content-Type header (): mime: no media type' };
  if (error instanceof CodedError && isErrorCode(error.code)) return { status: ERROR_STATUS[error.code], message: error.message };
  const message = typeof e?.message === 'string' ? e.message : String(error);
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500 && !(error instanceof CodedError)) return { status: e.statusCode, message };
  return { status: 500, message };
}
