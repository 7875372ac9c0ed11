import type { StreamWarning, TokenInfo } from '../model/index.js';
import type { ResumedStream } from './http-transport.js';

/*
 * The options BerthClient's methods take, and how they become a request's query.
 */

/** `createToken`'s options: a grid role needs `grid`; cluster-admin has none. */
export interface CreateTokenOptions {
  readonly role: TokenInfo['role'];
  readonly grid?: string;
  readonly name?: string;
  /** How long it lives: `24h`, `30d`; default until revoked. */
  readonly ttl?: string;
}

/** Options every write that takes a compare-and-set token accepts. */
export interface VersionOption {
  /** The `Service.version` the caller read; the server answers 409 VERSION_CONFLICT when it has moved on. */
  readonly version?: number;
}

/** Writes that can be tried without storing anything (Kubernetes' server-side dry run). */
export interface DryRunOption {
  /** Validate and compute the answer as for the real write, store nothing (`?dryRun=All`). */
  readonly dryRun?: boolean;
}

/** `logs`' options (`GET …/logs`). */
export interface LogsOptions {
  /** Lines to return from the end (the API default is all; the CLI sends 100, as Kontena). */
  readonly tail?: number;
  /** RFC 3339 time or a duration back from now (`10m`). */
  readonly since?: string;
  /** Keep the stream open for new lines until `signal` aborts. */
  readonly follow?: boolean;
  /** A slot number or an instance id. */
  readonly instance?: string | number;
  /** Put the service's events in between, in time order (`{kind: 'event', time, event}` lines); `tail` counts each. */
  readonly events?: boolean;
  readonly signal?: AbortSignal;
  /**
   * Called with each `{"warning": …}` line (a node whose instances' lines are missing: its agent did
   * not answer); such lines are never yielded. Default: they are dropped.
   */
  readonly onWarning?: (warning: StreamWarning['warning']) => void;
  /** Told when a followed stream goes on on another server after its own broke (for a note). */
  readonly onResume?: (resumed: ResumedStream) => void;
}

/** `events`' options: as the API's `GET …/events` query (docs/api.md). */
export interface EventsOptions {
  readonly tail?: number;
  readonly since?: string;
  /** Only events with a larger id (`ServiceEvent.id`, a store revision): resume after the last one had. */
  readonly after?: number;
  readonly follow?: boolean;
  readonly signal?: AbortSignal;
  /** Told when a followed stream goes on on another server after its own broke (for a note). */
  readonly onResume?: (resumed: ResumedStream) => void;
}

/** `watch`'s options (`GET /v1/watch`). */
export interface WatchOptions {
  /** First revision to stream; default: changes from now on. */
  readonly fromRevision?: number;
  readonly signal?: AbortSignal;
}


/** `?dryRun=All` when asked, no query otherwise (servers older than dry runs then see the request they know). */
export function dryRunQuery(options: DryRunOption): { dryRun?: string } {
  return options.dryRun ? { dryRun: 'All' } : {};
}
