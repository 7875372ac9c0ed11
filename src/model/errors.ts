import { CodedError } from '../lib/index.js';
import type { FieldError } from './field-error.js';
import { formatFieldError } from './field-error.js';

/**
 * Every stable error code berth returns. api/ maps each to one HTTP status (api/error-status.ts);
 * docs/errors.md explains each. Adding a code means adding it in all three places.
 */
export const ERROR_CODES = [
  'SPEC_INVALID',
  'REQUEST_INVALID',
  'UNSUPPORTED_MEDIA_TYPE',
  'BODY_TOO_LARGE',
  'SERVICE_NOT_FOUND',
  'INSTANCE_NOT_FOUND',
  'GRID_NOT_FOUND',
  'GRID_EXISTS',
  'GRID_NOT_EMPTY',
  'TOKEN_NOT_FOUND',
  'SECRET_NOT_FOUND',
  'SECRET_EXISTS',
  'SECRET_IN_USE',
  'SECRET_UNREADABLE',
  'NODE_NOT_FOUND',
  'NODE_NOT_DOWN',
  'NODE_EXISTS',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'SERVICE_EXISTS',
  'VERSION_CONFLICT',
  'SERVICE_NOT_DEPLOYED',
  'REVISION_NOT_FOUND',
  'NOTHING_TO_ROLL_BACK',
  'SERVICE_REMOVING',
  'ADDRESS_EXHAUSTED',
  'DRIVER_UNAVAILABLE',
  'ADDRESS_OUT_OF_RANGE',
  'ADDRESS_ALLOCATED',
  'PORT_ALLOCATED',
  'NODE_UNAVAILABLE',
  'LOGS_UNAVAILABLE',
  'STORE_UNAVAILABLE',
  'NO_LEADER',
  'SERVER_STOPPING',
  'REVISION_COMPACTED',
  'INVALID_TRANSITION',
  'INTERNAL',
  'ROUTE_NOT_FOUND',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** A spec or request body that does not validate. `causes` lists every offending field. */
export class SpecInvalidError extends CodedError {
  readonly causes: readonly FieldError[];
  constructor(kind: string, name: string | undefined, causes: readonly FieldError[]) {
    const head = name ? `${kind} "${name}" is invalid` : `${kind} is invalid`;
    super('SPEC_INVALID', `${head}: ${causes.map(formatFieldError).join('; ')}`, {
      causes: causes.map((c) => ({ ...c, message: formatFieldError(c) })),
    });
    this.causes = causes;
  }
}

/** A malformed request outside a spec (bad query parameter, bad replica count …). */
export class RequestInvalidError extends CodedError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('REQUEST_INVALID', message, details);
  }
}

export class ServiceNotFoundError extends CodedError {
  constructor(grid: string, name: string) {
    super('SERVICE_NOT_FOUND', `service "${name}" not found in grid "${grid}"`, { grid, name });
  }
}

export class InstanceNotFoundError extends CodedError {
  constructor(id: string) {
    super('INSTANCE_NOT_FOUND', `instance "${id}" not found`, { id });
  }
}

export class ServiceExistsError extends CodedError {
  constructor(grid: string, name: string) {
    super('SERVICE_EXISTS', `service "${name}" already exists in grid "${grid}"`, { grid, name });
  }
}

/**
 * A compare-and-set write that named an old version (Kubernetes' 409 Conflict; Swarm's
 * "update out of sequence", but as 409 and with the version to retry from).
 */
export class VersionConflictError extends CodedError {
  constructor(what: string, expected: number, current: number) {
    super(
      'VERSION_CONFLICT',
      `Operation cannot be fulfilled on ${what}: the object has been modified (you sent version ${expected}, it is now at version ${current}); read it again and apply your changes to the latest version`,
      { expectedVersion: expected, currentVersion: current },
    );
  }
}

export class ServiceRemovingError extends CodedError {
  constructor(grid: string, name: string) {
    super('SERVICE_REMOVING', `service "${name}" in grid "${grid}" is being removed`, { grid, name });
  }
}

export class AddressExhaustedError extends CodedError {
  constructor(range: string) {
    super('ADDRESS_EXHAUSTED', `no free address left in range ${range}`, { range });
  }
}

/** A deploy of a service whose containers run images, when no node has the Docker driver (422). */
export class DriverUnavailableError extends CodedError {
  constructor(grid: string, name: string, driver: string, reasons: readonly string[]) {
    const why = reasons.length > 0 ? reasons.join('; ') : 'no node reports it';
    super(
      'DRIVER_UNAVAILABLE',
      `cannot deploy service "${name}" in grid "${grid}": its containers run images, and no node has the ${driver} driver (${why}); start a Docker engine (berth finds it within 5 s, no restart needed), or run the service as a process (no image)`,
      { grid, name, driver, reasons: [...reasons] },
    );
  }
}

/** restart (or anything needing a deployment) on a service that was never deployed. */
export class ServiceNotDeployedError extends CodedError {
  constructor(grid: string, name: string) {
    super('SERVICE_NOT_DEPLOYED', `service "${name}" in grid "${grid}" has never been deployed; deploy it first`, { grid, name });
  }
}

/** `rollback --to N` naming a generation the spec history does not hold (never existed, or trimmed). */
export class RevisionNotFoundError extends CodedError {
  constructor(grid: string, name: string, generation: number, kept: readonly number[]) {
    const range = kept.length === 0 ? 'none' : kept.length === 1 ? String(kept[0]) : `${kept[0]}–${kept[kept.length - 1]}`;
    super(
      'REVISION_NOT_FOUND',
      `to: service "${name}" in grid "${grid}" has no generation ${generation} in its history (kept: ${range}); \`berth service history ${name}\` lists them`,
      { grid, name, generation, kept },
    );
  }
}

/** A rollback with no other version to go to (never deployed twice, or the target is what runs). */
export class NothingToRollBackError extends CodedError {
  constructor(grid: string, name: string, why: string) {
    super('NOTHING_TO_ROLL_BACK', `service "${name}" in grid "${grid}" has nothing to roll back to: ${why}`, { grid, name });
  }
}

/** A status write that would move an instance's state backwards (states only move forward). */
export class InvalidTransitionError extends CodedError {
  constructor(id: string, from: string, to: string) {
    super('INVALID_TRANSITION', `instance "${id}" cannot move from state ${from} to ${to}: states only move forward`, { id, from, to });
  }
}

/**
 * The store backend cannot be reached: no etcd member answered (503). The message names the endpoints
 * and the last error; berth retries reads and watches by itself, a write is for the caller to retry.
 */
export class StoreUnavailableError extends CodedError {
  constructor(endpoints: readonly string[], lastError: string, options?: ErrorOptions) {
    super(
      'STORE_UNAVAILABLE',
      `the store is unavailable: no etcd member answered at ${endpoints.join(', ')} (last error: ${lastError}); check that etcd runs and is reachable, then retry`,
      { endpoints: [...endpoints], lastError },
      options,
    );
  }
}

/** A watch from a revision whose history the store no longer keeps (etcd's ErrCompacted, HTTP 410 Gone). */
export class RevisionCompactedError extends CodedError {
  constructor(fromRevision: number, compactedRevision: number) {
    super(
      'REVISION_COMPACTED',
      `revision ${fromRevision} is compacted (history is kept after revision ${compactedRevision}); list the current state and watch from its revision`,
      { fromRevision, compactedRevision },
    );
  }
}

/** No bearer token, or one that is unknown, revoked, expired or malformed (HTTP 401). */
export class UnauthenticatedError extends CodedError {
  constructor(message: string) {
    super('UNAUTHENTICATED', message);
  }
}

/** An authenticated identity without the role an action needs (HTTP 403); `needed` names that role. */
export class ForbiddenError extends CodedError {
  constructor(message: string, details: { readonly needed: string } & Record<string, unknown>) {
    super('FORBIDDEN', message, details);
  }
}

export class GridNotFoundError extends CodedError {
  constructor(grid: string) {
    super('GRID_NOT_FOUND', `grid "${grid}" not found: \`berth grid ls\` lists the grids, \`berth grid create ${grid}\` creates it`, { grid });
  }
}

export class GridExistsError extends CodedError {
  constructor(grid: string) {
    super('GRID_EXISTS', `grid "${grid}" already exists`, { grid });
  }
}

/** Removing a grid that still has services (Kontena refuses too; Kubernetes would delete them). */
export class GridNotEmptyError extends CodedError {
  constructor(grid: string, services: readonly string[]) {
    const shown = services.slice(0, 5).join(', ') + (services.length > 5 ? ', …' : '');
    super('GRID_NOT_EMPTY', `grid "${grid}" still has ${services.length} service(s) (${shown}): remove them first (\`berth service rm NAME --grid ${grid}\`)`, { grid, services });
  }
}

export class TokenNotFoundError extends CodedError {
  constructor(id: string) {
    super('TOKEN_NOT_FOUND', `token "${id}" not found: \`berth token ls\` lists the tokens`, { id });
  }
}

export class SecretNotFoundError extends CodedError {
  constructor(grid: string, name: string) {
    super('SECRET_NOT_FOUND', `secret "${name}" not found in grid "${grid}": \`berth secret ls\` lists them, \`berth secret create ${name} --from-literal KEY=VALUE\` makes it`, { grid, name });
  }
}

export class SecretExistsError extends CodedError {
  constructor(grid: string, name: string) {
    super('SECRET_EXISTS', `secret "${name}" already exists in grid "${grid}": \`berth secret update ${name}\` changes it`, { grid, name });
  }
}

/** Removing a secret that services still refer to (Swarm: "secret is in use by the following service"). */
export class SecretInUseError extends CodedError {
  constructor(grid: string, name: string, services: readonly string[]) {
    super('SECRET_IN_USE', `secret "${name}" in grid "${grid}" is in use by the following service(s): ${services.join(', ')}; remove the references first`, { grid, name, services });
  }
}

/**
 * A secret's values are encrypted at rest under a key this server does not have, or do not
 * authenticate (docs/security.md, "Secrets at rest"). 500, as kube-apiserver answers a value it cannot
 * transform: the server's configuration, not the request, must change.
 */
export class SecretUnreadableError extends CodedError {
  constructor(grid: string, name: string, keyName: string, why: string) {
    super('SECRET_UNREADABLE', `secret "${name}" in grid "${grid}" cannot be read: ${why}`, { grid, name, keyName });
  }
}

export class NodeNotFoundError extends CodedError {
  constructor(name: string) {
    super('NODE_NOT_FOUND', `node "${name}" not found: \`berth node ls\` lists the nodes`, { name });
  }
}

/** Removing a node whose agent still reports (Swarm: "node is not down and can't be removed"). */
export class NodeNotDownError extends CodedError {
  constructor(name: string) {
    // A stopped agent's node is marked down only once the grace has passed since its last heartbeat:
    // "stop its agent first" alone left a user who had just stopped it with the same refusal.
    super(
      'NODE_NOT_DOWN',
      `node "${name}" is not down and can't be removed: its agent reported within the node grace (berth server --node-grace, 10s by default); stop its agent and retry once \`berth node ls\` shows it Down, or remove it anyway with --force (its instances are then replaced elsewhere)`,
      { name },
    );
  }
}

/** An agent joining under the name of a node whose agent still reports (two machines, one name). */
export class NodeExistsError extends CodedError {
  constructor(name: string) {
    super('NODE_EXISTS', `node "${name}" is ready: another agent runs under that name; join with another --name, or stop that agent and wait until the node is down`, { name });
  }
}

/**
 * Why an image pull failed, as the engine's answer reads: `not-found` (manifest unknown, repository
 * does not exist, HTTP 404), `unreachable` (connection refused, DNS failure, timeout, no progress),
 * `unauthorized` (the registry wants credentials berth's node does not have), `other`.
 */
export type ImagePullFailureReason = 'not-found' | 'unreachable' | 'unauthorized' | 'other';

/**
 * An image the node could not pull (instance status, as Kubernetes' ErrImagePull; the instance waits
 * with back-off). `details`: `{ image, reason, registry, engineMessage }`.
 */
export class ImagePullFailedError extends CodedError {
  constructor(
    readonly image: string,
    readonly reason: ImagePullFailureReason,
    message: string,
    details: { readonly registry: string; readonly engineMessage: string },
  ) {
    super('IMAGE_PULL_FAILED', message, { image, reason, ...details });
  }
}

/** An image absent from the node while its `imagePullPolicy` is Never (Kubernetes' ErrImageNeverPull). */
export class ImageNotPresentError extends CodedError {
  constructor(readonly image: string) {
    super(
      'IMAGE_NOT_PRESENT',
      `image ${image} is not present on node and imagePullPolicy is Never: load it on the node (docker load, docker build, or docker pull ${image}) or set imagePullPolicy to IfNotPresent`,
      { image },
    );
  }
}
