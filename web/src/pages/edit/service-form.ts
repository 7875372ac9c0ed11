import type { ServiceSpec } from '../../../../src/model/index.js';
import type { FormModel } from './form-model.js';
import { asInput } from './form-model.js';
import type { Row } from './rows.js';
import { mapOf, rowsOf, showMap } from './rows.js';

/** One service port as the form edits it (text, so a half-typed number stays what was typed). */
export interface PortRow {
  readonly name: string;
  readonly protocol: 'TCP' | 'UDP';
  readonly port: string;
  /** A number or a container port's name; blank = the port. */
  readonly targetPort: string;
}

/** Edit Service (KubeSphere's): the access type, the selector (services without containers) and the ports. */
export interface ServiceValues {
  /** Virtual IP (`clusterIP` allocated or kept) or Headless (`clusterIP: None`). */
  readonly access: 'virtual-ip' | 'headless';
  readonly selector: readonly Row[];
  readonly ports: readonly PortRow[];
}

/** Whether the form edits a selector: a service without containers that selects instances by label. */
export function hasSelector(spec: ServiceSpec): boolean {
  return spec.containers.length === 0 && spec.selector !== undefined;
}

/** A number when the text is one (`8080`), else the text (a port name, or what the server will refuse). */
function portValue(text: string): number | string {
  const t = text.trim();
  return /^\d+$/.test(t) ? Number(t) : t;
}

/**
 * The Edit Service form. Virtual IP keeps the allocated address (or asks for a new one, `""`, when the
 * service was headless); Headless sets `None`. Each port row keeps the node port and published port
 * of the stored port at the same position (Edit Internet Access changes those). A blank target port
 * is left out (the server defaults it to the port).
 */
export const serviceForm: FormModel<ServiceValues> = {
  fields: ['clusterIP', 'selector', 'ports'],
  read(spec: ServiceSpec): ServiceValues {
    return {
      access: spec.clusterIP === 'None' ? 'headless' : 'virtual-ip',
      selector: rowsOf(spec.selector),
      ports: spec.ports.map((p) => ({ name: p.name ?? '', protocol: p.protocol, port: String(p.port), targetPort: p.targetPort === undefined ? '' : String(p.targetPort) })),
    };
  },
  apply(spec, values) {
    const clusterIP = values.access === 'headless' ? 'None' : spec.clusterIP === undefined || spec.clusterIP === 'None' ? '' : spec.clusterIP;
    const ports = values.ports.map((row, i) => {
      const old = spec.ports[i];
      const target = row.targetPort.trim();
      return {
        ...(row.name.trim() ? { name: row.name.trim() } : {}),
        protocol: row.protocol,
        port: portValue(row.port) as number,
        ...(target ? { targetPort: portValue(target) } : {}),
        ...(old?.nodePort !== undefined ? { nodePort: old.nodePort } : {}),
        ...(old?.published !== undefined ? { published: old.published } : {}),
      };
    });
    return asInput({
      ...spec,
      ...(spec.type === 'ExternalName' ? {} : { clusterIP }),
      ports,
      ...(hasSelector(spec) ? { selector: mapOf(values.selector) } : {}),
    } as ServiceSpec);
  },
  describe: (v) => ({
    access: v.access === 'headless' ? 'Headless' : 'Virtual IP',
    selector: showMap(v.selector),
    ports: v.ports.length === 0 ? '(none)' : v.ports.map((p) => `${p.name ? `${p.name} ` : ''}${p.port}/${p.protocol} → ${p.targetPort.trim() || p.port}`).join(', '),
  }),
  labels: { access: 'Access type', selector: 'Selector', ports: 'Ports' },
};
