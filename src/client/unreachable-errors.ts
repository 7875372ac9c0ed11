import { BerthApiError } from './berth-api-error.js';

/*
 * The SERVER_UNREACHABLE errors of HttpTransport (`berth --host A,B`): which servers were tried, why
 * each failed, and which other servers of the cluster the answers named.
 */

/** Methods another server may be asked again after a connection broke mid-request (RFC 9110 safe methods). */
export const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** One server the request could not get an answer from, and why. */
export interface Failure {
  readonly server: string;
  readonly reason: string;
  readonly kind: 'not-sent' | 'interrupted' | undefined;
}

interface ErrorContext {
  /** The servers the transport was given, in order. */
  readonly servers: readonly string[];
  /** Every server of the cluster it knows of (given, then named by answers). */
  readonly known: readonly string[];
  readonly cause: unknown;
}

/** A followed stream broke on its last server untried: SERVER_UNREACHABLE naming each server and why. */
export function lostStreamError(path: string, failures: readonly Failure[], context: ErrorContext): BerthApiError {
  const { servers, known, cause } = context;
  const last = failures[failures.length - 1] as Failure;
  const details = { baseUrl: servers[0], servers: failures.map(({ server, reason }) => ({ server, reason })), otherServers: known.filter((s) => !servers.includes(s)) };
  if (servers.length === 1) {
    return new BerthApiError(0, 'SERVER_UNREACHABLE', `lost the stream of GET ${path} from the berth server at ${last.server} (${last.reason})${othersHint([last.server], known)}`, details, { cause });
  }
  return new BerthApiError(
    0,
    'SERVER_UNREACHABLE',
    `lost the stream of GET ${path} and none of the berth servers could resume it: ${failures.map((f) => `${f.server} (${f.reason})`).join(', ')}: start one with \`berth server\`, or point --host or BERTH_HOST at running servers${othersHint(servers, known)}`,
    details,
    { cause },
  );
}

/**
 * SERVER_UNREACHABLE naming each server tried and why; `details.servers` [{server, reason}] and
 * `details.otherServers` (servers of the cluster that were not tried).
 */
export function unreachableError(method: string, path: string, failures: readonly Failure[], context: ErrorContext): BerthApiError {
  const { servers, known, cause } = context;
  const last = failures[failures.length - 1] as Failure;
  const tried = failures.map((f) => f.server);
  const hint = othersHint(tried, known);
  const details = { baseUrl: servers[0], servers: failures.map(({ server, reason }) => ({ server, reason })), otherServers: known.filter((s) => !tried.includes(s)) };
  const options = cause === undefined ? {} : { cause };
  // A write whose connection broke after it was made: maybe applied, so not sent again (anywhere).
  const before = failures.length > 1 ? ` (before it: ${failures.slice(0, -1).map((f) => `${f.server} (${f.reason})`).join(', ')})` : '';
  if (last.kind === 'interrupted' && !SAFE_METHODS.has(method) && servers.length > 1) {
    return new BerthApiError(
      0,
      'SERVER_UNREACHABLE',
      `lost the connection to the berth server at ${last.server} during ${method} ${path} (${last.reason}), before it answered${before}: the write may have been applied, so it was not sent to another server; check whether it took effect, then retry${hint}`,
      details,
      options,
    );
  }
  // One server given, or a failure that is no reason to try another (a certificate that does not match).
  if (failures.length === 1 || failures.length < servers.length) {
    return new BerthApiError(
      0,
      'SERVER_UNREACHABLE',
      `cannot reach the berth server at ${last.server} (${last.reason})${before}: start one with \`berth server\`, or point --host or BERTH_HOST at a running server${hint}`,
      details,
      options,
    );
  }
  return new BerthApiError(
    0,
    'SERVER_UNREACHABLE',
    `cannot reach any of the berth servers ${failures.map((f) => `${f.server} (${f.reason})`).join(', ')}: start one with \`berth server\`, or point --host or BERTH_HOST at running servers${hint}`,
    details,
    options,
  );
}

/** `; other servers of its cluster: B, C (--host B, or several: --host A,B,C)`, or '' when none is known. */
export function othersHint(tried: readonly string[], known: readonly string[]): string {
const others = known.filter((s) => !tried.includes(s));
  if (others.length === 0) return '';
  return `; other servers of its cluster: ${others.join(', ')} (--host ${others[0] as string}, or several to try in turn: --host ${[...tried, ...others].join(',')})`;
}
