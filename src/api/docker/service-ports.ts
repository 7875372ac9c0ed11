import type { ServicePort, ServiceSpec } from '../../model/index.js';

/* What both halves of the Docker face's service mapping share (service-mapping.ts, berth-to-swarm.ts). */

/** The one network of the face (the berth network): what `Networks` may name and `VirtualIPs` show. */
export interface FaceNetwork {
  readonly id: string;
  readonly name: string;
}

/** `tcp-8080`: the name a port gets when a spec has several and Swarm gave it none (berth names every port of several). */
export function generatedPortName(protocol: string, port: number): string {
  return `${protocol.toLowerCase()}-${port}`;
}

/** A port's target as a number (a named target resolved through the containers' ports; else the service port). */
export function targetNumber(spec: ServiceSpec, p: ServicePort): number {
  if (typeof p.targetPort === 'number') return p.targetPort;
  for (const c of spec.containers) for (const cp of c.ports) if (cp.name === p.targetPort) return cp.containerPort;
  return p.port;
}
