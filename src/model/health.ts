import type { ProbeKind } from './probe.js';

/** The last result of one probe of one container, as the agent reports it. */
export interface ProbeStatus {
  readonly kind: ProbeKind;
  readonly container: string;
  /** "GET http://127.10.0.3:8080/health", "TCP 127.10.0.3:5432", "exec pg_isready". */
  readonly target: string;
  /** `unknown` until the first result that counts. */
  readonly result: 'unknown' | 'success' | 'failure';
  readonly consecutiveSuccesses: number;
  readonly consecutiveFailures: number;
  /** What the last probe saw: "HTTP 503: not ready", "connect ECONNREFUSED", "exit 1: …", "timed out after 1s". Bounded to 1 KiB. */
  readonly lastOutput: string;
  /** ISO 8601 time of the last result. */
  readonly lastCheckedAt?: string;
}

/**
 * A probe's output on one line, for a status message, an update status or an event: line breaks and
 * runs of white space become one space (an HTTP probe's body, `HTTP 404: <html>\r\n<head>…`, made
 * `docker service ps` and the docker CLI's `service update paused: …` span many lines; Swarm's task
 * errors and update messages are one line). `lastOutput` itself, the evidence `why` shows, is kept as seen.
 */
export function probeOutputLine(output: string): string {
  return output.replace(/\s+/g, ' ').trim();
}

/**
 * An instance's health, written by the agent while it runs (absent: the instance has no probes, and
 * counts as ready as soon as it runs).
 *
 * - started: the startup probes passed (true when there are none); until then the other probes wait.
 * - ready: every readiness probe is passing (true when there are none, once started).
 * - live: no liveness probe has reached its failure threshold.
 */
export interface InstanceHealth {
  readonly started: boolean;
  readonly ready: boolean;
  readonly live: boolean;
  /** When `ready` last became true (ISO 8601); the rollout's `monitor` counts from here. */
  readonly readySince?: string;
  readonly probes: readonly ProbeStatus[];
}

/** The drain before an instance stops (zero-downtime stop), as the agent reports it. */
export interface InstanceDrain {
  /** When the drain began: the instance had left the endpoints (ISO 8601). */
  readonly since: string;
  /** Open proxied connections still on the instance when last reported. */
  readonly connections: number;
  /** When the drain ended (ISO 8601): connections reached 0 or drainTimeout expired. */
  readonly endedAt?: string;
  readonly timedOut?: boolean;
}

