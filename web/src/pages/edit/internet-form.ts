import type { ServiceSpec } from '../../../../src/model/index.js';
import type { FormModel } from './form-model.js';
import { asInput } from './form-model.js';

/** Edit Internet Access (KubeSphere's): None (ClusterIP), NodePort or LoadBalancer; published ports; external IPs. */
export interface InternetValues {
  readonly type: 'ClusterIP' | 'NodePort' | 'LoadBalancer';
  /** Per service port (same order as spec.ports): the node port asked for, blank = allocated. */
  readonly nodePorts: readonly string[];
  /** Per service port: the published port on the node's addresses, blank = none. */
  readonly published: readonly string[];
  /** External IPs, separated by commas or spaces. */
  readonly externalIPs: string;
}

const number = (text: string): number | undefined => (text.trim() === '' ? undefined : /^\d+$/.test(text.trim()) ? Number(text.trim()) : (text.trim() as unknown as number));

/** The external IPs typed, split at commas and blanks. */
export function splitAddresses(text: string): string[] {
  return text.split(/[\s,]+/).filter(Boolean);
}

/**
 * The Internet Access form. None is `type: ClusterIP` and drops every node port (the server refuses a
 * node port on a ClusterIP service); NodePort and LoadBalancer take the node port typed per port or,
 * blank, let the server allocate one from 30000-32767 (it keeps the one a port already had). A value
 * that is not a number is sent as typed, so the server's message names the field.
 */
export const internetForm: FormModel<InternetValues> = {
  fields: ['type', 'ports', 'externalIPs'],
  read(spec: ServiceSpec): InternetValues {
    return {
      type: spec.type === 'NodePort' || spec.type === 'LoadBalancer' ? spec.type : 'ClusterIP',
      nodePorts: spec.ports.map((p) => (p.nodePort === undefined ? '' : String(p.nodePort))),
      published: spec.ports.map((p) => (p.published === undefined ? '' : String(p.published))),
      externalIPs: spec.externalIPs.join(', '),
    };
  },
  apply(spec, values) {
    const ports = spec.ports.map((p, i) => {
      const { nodePort: _n, published: _p, ...rest } = p;
      const nodePort = values.type === 'ClusterIP' ? undefined : number(values.nodePorts[i] ?? '');
      const published = number(values.published[i] ?? '');
      return { ...rest, ...(nodePort !== undefined ? { nodePort } : {}), ...(published !== undefined ? { published } : {}) };
    });
    return asInput({ ...spec, type: values.type, ports, externalIPs: splitAddresses(values.externalIPs) });
  },
  describe: (v) => ({
    type: v.type === 'ClusterIP' ? 'None (ClusterIP)' : v.type,
    // The node ports typed whatever the type (a text that changed with the type would count as the user's change on a rebase).
    nodePorts: v.nodePorts.map((n) => n.trim() || 'allocated').join(', ') || '(none)',
    published: v.published.map((n) => n.trim() || '—').join(', ') || '(none)',
    externalIPs: splitAddresses(v.externalIPs).join(', ') || '(none)',
  }),
  labels: { type: 'Internet access', nodePorts: 'Node ports', published: 'Published ports', externalIPs: 'External IPs' },
};
