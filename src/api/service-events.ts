import type { EventType, NewServiceEvent, Service, ServiceSpec } from '../model/index.js';
import { canonicalJson } from '../model/index.js';

/*
 * The history entries the API records with each action (Kontena's `service events`), written in the
 * same store call as the change itself. Messages say what changed, in words a user reads in a list.
 */

export function serviceEvent(grid: string, service: string, type: EventType, message: string, data?: Record<string, unknown>): NewServiceEvent {
  return { grid, service, type, severity: 'info', message, ...(data ? { data } : {}) };
}

/** "3 replicas", "1 replica", or "global mode (one instance per node)". */
export function describeScale(spec: ServiceSpec): string {
  if (spec.mode === 'global') return 'global mode (one instance per node)';
  return `${spec.replicas} ${spec.replicas === 1 ? 'replica' : 'replicas'}`;
}

/** Top-level spec fields whose values differ, in the spec's field order. */
export function changedSpecFields(before: ServiceSpec, after: ServiceSpec): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((k) => canonicalJson((before as Record<string, unknown>)[k]) !== canonicalJson((after as Record<string, unknown>)[k]));
}

/** The replicas running now: the deployed spec's, or the spec's before any deploy. */
export function deployedReplicas(service: Service): number {
  return (service.deployment?.spec ?? service.spec).replicas;
}
