import { ERROR_STATUS, isErrorCode } from '../error-status.js';
import { DockerApiError } from './docker-errors.js';

/*
 * berth's coded errors as the Docker Engine words a Swarm refusal (the services routes translate their
 * writes' errors here; anything else thrown reaches the face's handler, docker-error-response.ts). The engine passes swarmkit's gRPC
 * errors through as `rpc error: code = <Code> desc = <message>` with the HTTP status of the gRPC code
 * (moby `errdefs/http_helpers.go`: InvalidArgument and FailedPrecondition 400, NotFound 404,
 * AlreadyExists 409, Unimplemented 501, Unknown 500). berth's own message goes inside `desc`, so the
 * field paths it names (`spec.containers[0].image: …`) reach the user unchanged.
 */

/** `rpc error: code = InvalidArgument desc = …` with HTTP 400: an invalid spec, as swarmkit's validation answers. */
export function invalidArgument(message: string): DockerApiError {
  return new DockerApiError(400, `rpc error: code = InvalidArgument desc = ${message}`);
}

/** HTTP 501 `rpc error: code = Unimplemented desc = …`: what Swarm itself refuses (renames, mode changes). */
export function unimplemented(message: string): DockerApiError {
  return new DockerApiError(501, `rpc error: code = Unimplemented desc = ${message}`);
}

/** swarmkit `manager/state/store/memory.go` ErrSequenceConflict: no gRPC code, so the engine answers 500 with code Unknown. */
export const UPDATE_OUT_OF_SEQUENCE = 'rpc error: code = Unknown desc = update out of sequence';

/**
 * The Docker form of an error thrown while the face reads or writes a service (`name` is the service
 * named in the request). DockerApiErrors pass unchanged; berth's codes map as:
 * SPEC_INVALID / REQUEST_INVALID / the 422 allocation and driver refusals → 400 InvalidArgument;
 * SERVICE_EXISTS → 409 swarmkit's `name conflicts with an existing object: service X already exists`;
 * VERSION_CONFLICT → 500 `update out of sequence`; SERVICE_NOT_FOUND → 404 `service X not found`;
 * NOTHING_TO_ROLL_BACK → 400 FailedPrecondition `service X does not have a previous spec`; anything
 * else keeps berth's status and message. Non-coded errors are returned as they are (the handler's 500).
 */
export function serviceErrorToDocker(error: unknown, name: string | undefined): unknown {
  if (error instanceof DockerApiError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (!isErrorCode(code)) return error;
  const message = error instanceof Error ? error.message : String(error);
  switch (code) {
    case 'SPEC_INVALID':
    case 'REQUEST_INVALID':
    case 'PORT_ALLOCATED':
    case 'ADDRESS_ALLOCATED':
    case 'ADDRESS_OUT_OF_RANGE':
    case 'ADDRESS_EXHAUSTED':
    case 'DRIVER_UNAVAILABLE':
      return invalidArgument(message);
    case 'SERVICE_EXISTS':
      return new DockerApiError(409, `rpc error: code = AlreadyExists desc = name conflicts with an existing object: service ${name ?? ''} already exists`);
    case 'SERVICE_REMOVING':
      return new DockerApiError(404, `service ${name ?? ''} not found`);
    case 'VERSION_CONFLICT':
      return new DockerApiError(500, UPDATE_OUT_OF_SEQUENCE);
    case 'SERVICE_NOT_FOUND':
      return new DockerApiError(404, `service ${name ?? ''} not found`);
    case 'NOTHING_TO_ROLL_BACK':
      return new DockerApiError(400, `rpc error: code = FailedPrecondition desc = service ${name ?? ''} does not have a previous spec (${message})`);
    default:
      return new DockerApiError(ERROR_STATUS[code], message);
  }
}

/** Runs `write`, turning berth's errors into the engine's (serviceErrorToDocker). */
export function asDocker<T>(name: string | undefined, write: () => T): T {
  try {
    return write();
  } catch (error) {
    throw serviceErrorToDocker(error, name);
  }
}
