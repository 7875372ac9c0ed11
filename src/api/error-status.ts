import type { ErrorCode } from '../model/index.js';

/**
 * The HTTP status of every error code: the one place it is decided (Fastify's error catalogue habit).
 * docs/errors.md explains each code.
 */
export const ERROR_STATUS = {
  SPEC_INVALID: 400,
  REQUEST_INVALID: 400,
  UNSUPPORTED_MEDIA_TYPE: 415,
  BODY_TOO_LARGE: 413,
  SERVICE_NOT_FOUND: 404,
  INSTANCE_NOT_FOUND: 404,
  REVISION_NOT_FOUND: 404,
  GRID_NOT_FOUND: 404,
  TOKEN_NOT_FOUND: 404,
  SECRET_NOT_FOUND: 404,
  SECRET_EXISTS: 409,
  SECRET_IN_USE: 409,
  NODE_NOT_FOUND: 404,
  NODE_NOT_DOWN: 409,
  NODE_EXISTS: 409,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  GRID_EXISTS: 409,
  GRID_NOT_EMPTY: 409,
  ROUTE_NOT_FOUND: 404,
  SERVICE_EXISTS: 409,
  VERSION_CONFLICT: 409,
  SERVICE_NOT_DEPLOYED: 409,
  NOTHING_TO_ROLL_BACK: 409,
  SERVICE_REMOVING: 409,
  INVALID_TRANSITION: 409,
  REVISION_COMPACTED: 410,
  ADDRESS_EXHAUSTED: 422,
  DRIVER_UNAVAILABLE: 422,
  ADDRESS_OUT_OF_RANGE: 422,
  ADDRESS_ALLOCATED: 422,
  PORT_ALLOCATED: 422,
  NODE_UNAVAILABLE: 503,
  LOGS_UNAVAILABLE: 503,
  INTERNAL: 500,
} as const satisfies Record<ErrorCode, number>;

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_STATUS, code);
}
