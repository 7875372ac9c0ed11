import { z } from 'zod';
import { parseDuration } from '../lib/index.js';
import { LIMITS } from './limits.js';
import { IANA_SVC_NAME, IPV4 } from './names.js';

/*
 * Probes, with Kubernetes' fields and defaults (core/v1 Probe): initialDelaySeconds 0, periodSeconds 10,
 * timeoutSeconds 1, successThreshold 1 (must be 1 for liveness and startup), failureThreshold 3.
 * berth accepts fractions of a second where Kubernetes wants whole seconds (a superset).
 *
 * Docker's HEALTHCHECK (Swarm's ContainerSpec.Healthcheck: test, interval 30 s, timeout 30 s, retries 3,
 * startPeriod 0 s) is accepted as `healthcheck` and becomes an exec readiness and liveness probe: Swarm
 * keeps a task out of the VIP until it is healthy and replaces it when it turns unhealthy.
 */

const probePort = z.union([z.number().int().min(1).max(65535), z.string().max(15).regex(IANA_SVC_NAME)]);

export const HttpGetActionSchema = z.strictObject({
  /** Request path (Kubernetes default "/"). */
  path: z.string().max(LIMITS.textLength).startsWith('/').default('/'),
  /** A port number, or the name of one of the container's ports. */
  port: probePort,
  /** Address to connect to; default the instance's address. */
  host: z.string().regex(IPV4, 'must be an IPv4 address').optional(),
  scheme: z.enum(['HTTP']).default('HTTP'),
  httpHeaders: z.array(z.strictObject({ name: z.string().min(1).max(LIMITS.textLength), value: z.string().max(LIMITS.textLength) })).max(LIMITS.httpHeaders).default([]),
});

export const TcpSocketActionSchema = z.strictObject({
  port: probePort,
  host: z.string().regex(IPV4, 'must be an IPv4 address').optional(),
});

export const ExecActionSchema = z.strictObject({
  /** Run beside the instance with its environment and working directory; exit 0 = success. */
  command: z.array(z.string().max(LIMITS.argLength)).min(1).max(LIMITS.argv),
});

const seconds = (min: number) => z.number().min(min).max(LIMITS.durationSeconds);

export const ProbeSchema = z
  .strictObject({
    httpGet: HttpGetActionSchema.optional(),
    tcpSocket: TcpSocketActionSchema.optional(),
    exec: ExecActionSchema.optional(),
    initialDelaySeconds: seconds(0).default(0),
    periodSeconds: seconds(0.1).default(10),
    timeoutSeconds: seconds(0.1).default(1),
    successThreshold: z.number().int().min(1).default(1),
    failureThreshold: z.number().int().min(1).default(3),
  })
  .superRefine((p, ctx) => {
    const handlers = [p.httpGet, p.tcpSocket, p.exec].filter((h) => h !== undefined).length;
    if (handlers !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: handlers === 0 ? 'must specify a handler type: httpGet, tcpSocket or exec' : 'may not specify more than 1 handler type (httpGet, tcpSocket or exec)',
        params: { type: handlers === 0 ? 'Required value' : 'Forbidden' },
      });
    }
  });

export type Probe = z.output<typeof ProbeSchema>;
export type ProbeInput = z.input<typeof ProbeSchema>;
export type ProbeKind = 'readiness' | 'liveness' | 'startup';

/**
 * What is wrong with a duration, as a zod issue: not a duration, or longer than LIMITS.durationSeconds
 * (timers cannot wait longer than 24.8 days, and no berth wait needs more than a day).
 */
export function durationIssue(v: string | number): { code: 'custom'; message: string; params: { type: 'Invalid value' } } | undefined {
  let ms: number;
  try {
    ms = parseDuration(v);
  } catch {
    return { code: 'custom', message: 'must be a duration such as 500ms, 5s or 1m30s, or a number of seconds', params: { type: 'Invalid value' } };
  }
  if (ms > LIMITS.durationSeconds * 1000) {
    return { code: 'custom', message: `must be no more than ${LIMITS.durationSeconds / 3600}h (${LIMITS.durationSeconds} seconds)`, params: { type: 'Invalid value' } };
  }
  return undefined;
}

const duration = z.union([z.string().max(64), z.number()]).superRefine((v, ctx) => {
  const issue = durationIssue(v);
  if (issue) ctx.addIssue(issue);
});

/** Docker's HEALTHCHECK as Swarm's ContainerSpec.Healthcheck and compose's `healthcheck` spell it. */
export const HealthcheckSchema = z.strictObject({
  /** ["CMD", args…], ["CMD-SHELL", "command"], ["NONE"], or a shell command string. */
  test: z.union([z.string().min(1).max(LIMITS.argLength), z.array(z.string().max(LIMITS.argLength)).min(1).max(LIMITS.argv)]),
  interval: duration.default('30s'),
  timeout: duration.default('30s'),
  retries: z.number().int().min(1).default(3),
  startPeriod: duration.default('0s'),
});
export type Healthcheck = z.output<typeof HealthcheckSchema>;

/**
 * The probes a Docker healthcheck stands for: one exec probe used for readiness and liveness, or none
 * for `["NONE"]`. `startPeriod` becomes the liveness probe's initial delay (failures during it do not
 * count, as Docker's start period).
 * @returns undefined when the test is NONE.
 * @throws Error when `test` starts with something other than CMD, CMD-SHELL or NONE.
 */
export function probesFromHealthcheck(h: Healthcheck): { readinessProbe: Probe; livenessProbe: Probe } | undefined {
  let command: string[];
  if (typeof h.test === 'string') command = ['/bin/sh', '-c', h.test];
  else {
    const [kind, ...rest] = h.test;
    if (kind === 'NONE') return undefined;
    if (kind === 'CMD-SHELL') command = ['/bin/sh', '-c', rest.join(' ')];
    else if (kind === 'CMD') command = rest;
    else throw new Error('must start with "CMD", "CMD-SHELL" or "NONE", as Docker\'s HEALTHCHECK');
    if (command.length === 0 || command[0] === '') throw new Error('needs a command after ' + kind);
  }
  const base = {
    exec: { command },
    periodSeconds: parseDuration(h.interval) / 1000,
    timeoutSeconds: parseDuration(h.timeout) / 1000,
    successThreshold: 1,
    failureThreshold: h.retries,
  };
  return {
    readinessProbe: { ...base, initialDelaySeconds: 0 },
    livenessProbe: { ...base, initialDelaySeconds: parseDuration(h.startPeriod) / 1000 },
  };
}

/** "GET http://127.10.0.3:8080/health", "TCP 127.10.0.3:5432", "exec pg_isready -q": how a probe is shown. */
export function describeProbe(probe: Probe, address: string, resolvePort: (port: number | string) => number | undefined): string {
  if (probe.httpGet) {
    const port = resolvePort(probe.httpGet.port);
    return `GET http://${probe.httpGet.host ?? address}:${port ?? probe.httpGet.port}${probe.httpGet.path}`;
  }
  if (probe.tcpSocket) {
    const port = resolvePort(probe.tcpSocket.port);
    return `TCP ${probe.tcpSocket.host ?? address}:${port ?? probe.tcpSocket.port}`;
  }
  return `exec ${(probe.exec?.command ?? []).join(' ')}`;
}
