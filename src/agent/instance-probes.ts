import type { Clock } from '../lib/index.js';
import type { ContainerHandle, Driver } from '../drivers/index.js';
import type { ProbeContext, ProbeSpec, HealthTransition } from '../health/index.js';
import { Prober, runProbe } from '../health/index.js';
import type { ContainerSpec, Instance, InstanceHealth, NewServiceEvent, Probe, ProbeKind } from '../model/index.js';
import { describeProbe, probeOutputLine, slotName } from '../model/index.js';
import { expandVars } from './container-env.js';

/** Runs an exec probe's command beside one container of the instance (the runner binds the driver). */
export type ContainerExec = (container: ContainerSpec, argv: readonly string[], options: { readonly timeoutMs: number; readonly signal: AbortSignal }) => Promise<{ exitCode: number; output: string; timedOut: boolean }>;

const KINDS: readonly { kind: ProbeKind; field: 'startupProbe' | 'readinessProbe' | 'livenessProbe' }[] = [
  { kind: 'startup', field: 'startupProbe' },
  { kind: 'readiness', field: 'readinessProbe' },
  { kind: 'liveness', field: 'livenessProbe' },
];

/** True when a container of the instance has a probe (only then does its status carry `health`). */
export function hasProbes(instance: Instance): boolean {
  return instance.spec.containers.some((c) => KINDS.some(({ field }) => c[field] !== undefined));
}

/**
 * Every probe of the instance's containers, ready for a Prober: httpGet and tcpSocket go to the
 * instance's address (or the probe's host), a port name is the container's port of that name, and exec
 * runs through `exec` (undefined: the driver cannot).
 */
export function probeSpecs(instance: Instance, exec: ContainerExec | undefined): ProbeSpec[] {
  const specs: ProbeSpec[] = [];
  for (const c of instance.spec.containers) {
    const container = c.name ?? instance.service;
    const resolvePort = (port: number | string): number | undefined => (typeof port === 'number' ? port : c.ports.find((p) => p.name === port)?.containerPort);
    const context: ProbeContext = {
      address: instance.spec.address,
      resolvePort,
      ...(exec ? { exec: (argv, options) => exec(c, argv, options) } : {}),
    };
    for (const { kind, field } of KINDS) {
      const probe: Probe | undefined = c[field];
      if (!probe) continue;
      const timeoutMs = probe.timeoutSeconds * 1000;
      specs.push({
        kind,
        container,
        probe,
        target: describeProbe(probe, instance.spec.address, resolvePort),
        run: (signal) => runProbe(probe, context, timeoutMs, signal),
      });
    }
  }
  return specs;
}

export interface InstanceProberOptions {
  readonly driver: Driver;
  readonly clock: Clock;
  readonly fastStartMs?: number;
  /** Epoch ms the containers started (initial delays count from here). */
  readonly startedAt: number;
  /** The health reported before berth restarted (re-adoption). */
  readonly previous?: InstanceHealth;
  /** How to exec beside a container: its running handle (undefined once stopped), env and working dir. */
  container(spec: ContainerSpec): { readonly handle: ContainerHandle; readonly env: Record<string, string>; readonly workingDir: string; readonly user?: string } | undefined;
  /** A transition: report the health (state stays running) with these events (healthEvents). */
  report(health: InstanceHealth, events: readonly NewServiceEvent[]): void;
  /** A liveness or startup probe reached its failure threshold (reported already); the prober has stopped. */
  unhealthy(transition: HealthTransition): void;
}

/**
 * The instance's Prober (not started), or undefined when its containers have no probes. Transitions are
 * reported with their events; an unhealthy one is then handed to `unhealthy`.
 */
export function instanceProber(instance: Instance, options: InstanceProberOptions): Prober | undefined {
  if (!hasProbes(instance)) return undefined;
  const { driver } = options;
  const exec: ContainerExec | undefined = driver.exec
    ? async (c, argv, run) => {
        const target = options.container(c);
        if (!target || !driver.exec) return { exitCode: 126, output: `container ${c.name ?? instance.service} is not running`, timedOut: false };
        // As kubelet: $(VAR) in an exec probe's command expands against the container's environment.
        const expanded = argv.map((a) => expandVars(a, target.env));
        return driver.exec(target.handle, expanded, { env: target.env, workingDir: target.workingDir, ...(target.user ? { user: target.user } : {}), ...run });
      }
    : undefined;
  return new Prober({
    probes: probeSpecs(instance, exec),
    startedAt: options.startedAt,
    clock: options.clock,
    ...(options.fastStartMs !== undefined ? { fastStartMs: options.fastStartMs } : {}),
    ...(options.previous ? { previous: options.previous } : {}),
    onChange: (transitions, health) => {
      options.report(health, healthEvents(instance, transitions, options.clock.now(), options.startedAt));
      const unhealthy = transitions.find((t) => t.type === 'unhealthy');
      if (unhealthy) options.unhealthy(unhealthy);
    },
  });
}

/**
 * The service events of health transitions: instance.started_probe, instance.ready, instance.unready
 * ("web-2 not ready: readiness probe GET http://…/health failed 3 times: HTTP 503: …") and
 * instance.unhealthy (with the probe's output in `data`). A probe flip that changes nothing of the
 * instance's state ('probe') has no event.
 * @param startedAt epoch ms the instance started, for "ready 312 ms after start"; undefined when unknown
 */
export function healthEvents(instance: Instance, transitions: readonly HealthTransition[], now: number, startedAt: number | undefined): NewServiceEvent[] {
  const name = slotName(instance.service, instance.slot);
  const base = { grid: instance.grid, service: instance.service, instance: instance.id, slot: instance.slot };
  const events: NewServiceEvent[] = [];
  for (const t of transitions) {
    const p = t.probe;
    const data = { probe: p.kind, container: p.container, target: p.target, output: p.lastOutput };
    const failed = `${p.kind} probe ${p.target} failed ${p.consecutiveFailures} time${p.consecutiveFailures === 1 ? '' : 's'}: ${probeOutputLine(p.lastOutput)}`;
    switch (t.type) {
      case 'started':
        events.push({ ...base, type: 'instance.started_probe', severity: 'info', message: `${name} started: startup probe ${p.target} passed`, data });
        break;
      case 'ready': {
        const after = t.first && startedAt !== undefined ? ` ${Math.max(0, now - startedAt)} ms after it started` : '';
        const why = p.kind === 'readiness' ? `: readiness probe ${p.target} passed` : '';
        events.push({ ...base, type: 'instance.ready', severity: 'info', message: `${name} ready${after}${why}`, data });
        break;
      }
      case 'unready':
        events.push({ ...base, type: 'instance.unready', severity: 'warning', message: `${name} not ready: ${failed}`, data });
        break;
      case 'unhealthy':
        events.push({ ...base, type: 'instance.unhealthy', severity: 'error', message: `${name} unhealthy: ${failed}; stopping it`, data });
        break;
      case 'probe':
        break;
    }
  }
  return events;
}
