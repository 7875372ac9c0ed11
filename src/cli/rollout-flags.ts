import { InvalidArgumentError, Option } from 'commander';
import type { Command } from 'commander';
import type { ProbeInput, ServiceSpecInput } from '../model/index.js';
import { parseDuration } from '../lib/index.js';
import { UsageError } from './cli-error.js';
import { countValue, durationValue } from './flag-values.js';

/*
 * The health and rollout flags of `service create` and `service update`:
 *
 * - Kontena's `--health-check-*` become the first container's readinessProbe AND livenessProbe (one
 *   probe, both uses): Kontena's load balancer drops an unhealthy instance and its agent restarts it.
 *   Flags not given keep the probe's own defaults (Kubernetes': period 10 s, timeout 1 s, no initial
 *   delay), not Kontena's (interval 60 s, timeout 10 s, initial delay 10 s).
 * - Kontena's `--deploy-min-health` is updateConfig.minHealth.
 * - Swarm's `--update-*` and `--rollback-*` are updateConfig and rollbackConfig; `--drain-timeout` is
 *   how long a stopping instance may keep its open connections.
 */

type FailureAction = 'pause' | 'continue' | 'rollback';
type Order = 'stop-first' | 'start-first';

/** Parsed values; a flag not given is undefined. */
export interface RolloutFlags {
  readonly healthCheckUri?: string;
  readonly healthCheckPort?: number | string;
  readonly healthCheckProtocol?: 'http' | 'tcp';
  /** Seconds. */
  readonly healthCheckTimeout?: number;
  readonly healthCheckInterval?: number;
  readonly healthCheckInitialDelay?: number;
  readonly deployMinHealth?: number;
  readonly updateParallelism?: number;
  readonly updateDelay?: string;
  readonly updateFailureAction?: FailureAction;
  readonly updateMonitor?: string;
  readonly updateMaxFailureRatio?: number;
  readonly updateOrder?: Order;
  readonly rollbackParallelism?: number;
  readonly rollbackDelay?: string;
  readonly rollbackFailureAction?: 'pause' | 'continue';
  readonly rollbackMonitor?: string;
  readonly rollbackMaxFailureRatio?: number;
  readonly rollbackOrder?: Order;
  readonly drainTimeout?: string;
}

/** The health-check flags: they need a container (checked by the caller with the container flags). */
export const HEALTH_CHECK_FLAGS = ['healthCheckUri', 'healthCheckPort', 'healthCheckProtocol', 'healthCheckTimeout', 'healthCheckInterval', 'healthCheckInitialDelay'] as const;

export function addRolloutOptions(command: Command): Command {
  command
    .option('--health-check-uri <path>', 'HTTP health check path, e.g. /health (readiness and liveness probe of the first container)', uriValue)
    .option('--health-check-port <port>', 'port of the health check: a container port number or name (default: the only container port)', probePortValue)
    .addOption(new Option('--health-check-protocol <protocol>', 'http (GET the URI, 2xx/3xx is healthy) or tcp (a connect is healthy); default http with --health-check-uri, else tcp').choices(['http', 'tcp']))
    .option('--health-check-timeout <seconds>', 'how long one check may take (default 1)', secondsValue)
    .option('--health-check-interval <seconds>', 'time between checks (default 10)', secondsValue)
    .option('--health-check-initial-delay <seconds>', 'time after start before the first check (default 0)', secondsValue)
    .option('--deploy-min-health <fraction>', 'fraction of the replicas kept ready during a deploy, 0-1 (Kontena\'s min_health)', fractionValue)
    .option('--update-parallelism <n>', 'instances replaced at once during a deploy; 0 = all (default 1)', countValue)
    .option('--update-delay <duration>', 'pause between update batches (default 0s)', durationValue)
    .addOption(new Option('--update-failure-action <action>', 'what a failed new instance does to the deploy (default pause)').choices(['pause', 'continue', 'rollback']))
    .option('--update-monitor <duration>', 'how long a new instance must stay ready to count as updated (default 5s)', durationValue)
    .option('--update-max-failure-ratio <fraction>', 'failed new instances tolerated, as a fraction of the replicas, 0-1 (default 0)', fractionValue)
    .addOption(new Option('--update-order <order>', 'stop the old instance first, or start the new one first (default stop-first)').choices(['stop-first', 'start-first']))
    .option('--rollback-parallelism <n>', 'instances replaced at once during a rollback; 0 = all (default 1)', countValue)
    .option('--rollback-delay <duration>', 'pause between rollback batches (default 0s)', durationValue)
    .addOption(new Option('--rollback-failure-action <action>', 'what a failed instance does to a rollback (default pause)').choices(['pause', 'continue']))
    .option('--rollback-monitor <duration>', 'how long a rolled-back instance must stay ready (default 5s)', durationValue)
    .option('--rollback-max-failure-ratio <fraction>', 'failed instances tolerated during a rollback, 0-1 (default 0)', fractionValue)
    .addOption(new Option('--rollback-order <order>', 'order of a rollback (default stop-first)').choices(['stop-first', 'start-first']))
    .option('--drain-timeout <duration>', 'how long a stopping instance may keep its open connections before the stop signal (default 10s)', durationValue);
  return command;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type MutableSpec = Mutable<Omit<ServiceSpecInput, 'containers'>>;
type ContainerInput = Mutable<ServiceSpecInput['containers'][number]>;

/** Merges updateConfig, rollbackConfig, minHealth and drainTimeout flags into `spec` (fields given only). */
export function applyRolloutFlags(spec: MutableSpec, flags: RolloutFlags): void {
  const update: Record<string, unknown> = { ...(spec.updateConfig ?? {}) };
  const set = (target: Record<string, unknown>, key: string, value: unknown): void => {
    if (value !== undefined) target[key] = value;
  };
  set(update, 'parallelism', flags.updateParallelism);
  set(update, 'delay', flags.updateDelay);
  set(update, 'failureAction', flags.updateFailureAction);
  set(update, 'monitor', flags.updateMonitor);
  set(update, 'maxFailureRatio', flags.updateMaxFailureRatio);
  set(update, 'order', flags.updateOrder);
  set(update, 'minHealth', flags.deployMinHealth);
  if (Object.keys(update).length > 0) spec.updateConfig = update as MutableSpec['updateConfig'];
  const rollback: Record<string, unknown> = { ...(spec.rollbackConfig ?? {}) };
  set(rollback, 'parallelism', flags.rollbackParallelism);
  set(rollback, 'delay', flags.rollbackDelay);
  set(rollback, 'failureAction', flags.rollbackFailureAction);
  set(rollback, 'monitor', flags.rollbackMonitor);
  set(rollback, 'maxFailureRatio', flags.rollbackMaxFailureRatio);
  set(rollback, 'order', flags.rollbackOrder);
  if (Object.keys(rollback).length > 0) spec.rollbackConfig = rollback as MutableSpec['rollbackConfig'];
  if (flags.drainTimeout !== undefined) spec.drainTimeout = flags.drainTimeout;
}

/** True when any `--health-check-*` flag was given. */
export function healthCheckGiven(flags: RolloutFlags): boolean {
  return HEALTH_CHECK_FLAGS.some((f) => flags[f] !== undefined);
}

/**
 * Sets the container's readinessProbe and livenessProbe from the `--health-check-*` flags. On update,
 * flags change the probe the container has (a new interval keeps the URI); a protocol switch replaces
 * the handler.
 * @param servicePorts  the spec's service ports: with no container port, a single one's target is the port
 * @throws UsageError when no port can be told (no --health-check-port and not exactly one container
 *   port or service port), or --health-check-uri comes with --health-check-protocol tcp
 */
export function applyHealthCheckFlags(container: ContainerInput, flags: RolloutFlags, servicePorts: readonly unknown[] = []): void {
  if (!healthCheckGiven(flags)) return;
  if (flags.healthCheckProtocol === 'tcp' && flags.healthCheckUri !== undefined) {
    throw new UsageError('--health-check-uri applies to --health-check-protocol http, not tcp');
  }
  const existing = (container.readinessProbe ?? container.livenessProbe) as ProbeInput | undefined;
  const existingPort = existing?.httpGet?.port ?? existing?.tcpSocket?.port;
  const ports = (container.ports ?? []) as readonly { containerPort: number }[];
  // Without container ports, the one service port's target (`--port http:80:8080` → 8080) is the port.
  const targets = (servicePorts as readonly { port?: unknown; targetPort?: unknown }[]).map((p) => p.targetPort ?? p.port).filter((t): t is number | string => typeof t === 'number' || typeof t === 'string');
  const port = flags.healthCheckPort ?? existingPort ?? (ports.length === 1 ? ports[0]?.containerPort : ports.length === 0 && targets.length === 1 ? targets[0] : undefined);
  if (port === undefined) {
    throw new UsageError(`--health-check-port is needed: the container has ${ports.length === 0 ? 'no ports' : `${ports.length} ports`} (give a container port number or name)`);
  }
  const protocol = flags.healthCheckProtocol ?? (flags.healthCheckUri !== undefined || existing?.httpGet ? 'http' : 'tcp');
  const path = flags.healthCheckUri ?? existing?.httpGet?.path ?? '/';
  const probe: Mutable<ProbeInput> = {
    ...(protocol === 'http' ? { httpGet: { path, port } } : { tcpSocket: { port } }),
    ...timing(existing, flags),
  };
  container.readinessProbe = probe;
  container.livenessProbe = { ...probe };
  // A Docker healthcheck would stand for the same two probes: the flags win.
  delete container.healthcheck;
}

function timing(existing: ProbeInput | undefined, flags: RolloutFlags): Partial<ProbeInput> {
  const out: Partial<Mutable<ProbeInput>> = {};
  const pick = (key: 'timeoutSeconds' | 'periodSeconds' | 'initialDelaySeconds' | 'failureThreshold', flag: number | undefined): void => {
    const value = flag ?? existing?.[key];
    if (value !== undefined) out[key] = value;
  };
  pick('timeoutSeconds', flags.healthCheckTimeout);
  pick('periodSeconds', flags.healthCheckInterval);
  pick('initialDelaySeconds', flags.healthCheckInitialDelay);
  pick('failureThreshold', undefined);
  return out;
}

// ── value parsers ───────────────────────────────────────────────────────────────────────────────

function uriValue(value: string): string {
  if (!value.startsWith('/')) throw new InvalidArgumentError(`"${value}": expected a path starting with /, e.g. /health`);
  return value;
}

/** A port number 1-65535 or a container port name (IANA_SVC_NAME). */
function probePortValue(value: string): number | string {
  if (/^\d+$/.test(value)) {
    const n = Number(value);
    if (n >= 1 && n <= 65535) return n;
  } else if (/^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/.test(value) && /[a-z]/.test(value) && !value.includes('--')) {
    return value;
  }
  throw new InvalidArgumentError(`"${value}": expected a port number 1-65535 or a container port name`);
}

/** Seconds, fractions allowed (berth's probes take 0.5), or a duration such as 500ms or 1m. */
function secondsValue(value: string): number {
  try {
    const ms = parseDuration(/^\d+(\.\d+)?$/.test(value.trim()) ? `${value.trim()}s` : value);
    return ms / 1000;
  } catch {
    throw new InvalidArgumentError(`"${value}": expected seconds (10, 0.5) or a duration such as 500ms or 1m`);
  }
}

function fractionValue(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError(`"${value}": expected a fraction from 0 to 1, e.g. 0.8`);
  return n;
}
