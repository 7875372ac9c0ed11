/**
 * One `--port` value: a Kubernetes ServicePort written `[NAME:]PORT[:TARGET[:NODEPORT]][/PROTO]`.
 *
 * PORT and NODEPORT are numbers; TARGET is a number or a container port's name (Kubernetes'
 * targetPort); NAME is told apart from PORT by not being a number (a port name must hold a letter).
 * Examples: `80`, `80:8080`, `http:80:8080`, `http:80:web`, `http:80:8080:30080`, `dns:53/udp`.
 */
export interface ServicePortFlag {
  readonly name?: string;
  readonly port: number;
  /** Defaults to `port` on the server, as Kubernetes. */
  readonly targetPort?: number | string;
  readonly nodePort?: number;
  readonly protocol: 'TCP' | 'UDP';
}

const FORM_HINT = 'expected [NAME:]PORT[:TARGET[:NODEPORT]][/PROTO], e.g. 80, 80:8080, http:80:web or http:80:8080:30080/tcp';
/** IANA service name as Kubernetes checks port names: lower case, digits and `-`, with a letter. */
const PORT_NAME = /^(?=.*[a-z])[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/;

/**
 * Parses one `--port` value.
 * @throws ServicePortFlagError saying what is wrong and showing the accepted form.
 */
export function parseServicePortFlag(value: string): ServicePortFlag {
  const text = value.trim();
  const slash = text.lastIndexOf('/');
  const body = slash >= 0 ? text.slice(0, slash) : text;
  const proto = slash >= 0 ? text.slice(slash + 1).toUpperCase() : 'TCP';
  if (proto !== 'TCP' && proto !== 'UDP') throw new ServicePortFlagError(`"${value}": protocol must be tcp or udp, not "${text.slice(slash + 1)}"`);
  const parts = body.split(':');
  const name = parts[0] !== undefined && !/^\d+$/.test(parts[0]) ? parts.shift() : undefined;
  if (name !== undefined && !PORT_NAME.test(name)) {
    throw new ServicePortFlagError(`"${value}": the port name "${name}" must be at most 15 lower-case letters, digits and "-", with a letter (${FORM_HINT})`);
  }
  const [port, target, nodePort, ...extra] = parts;
  if (port === undefined || port === '' || extra.length > 0) throw new ServicePortFlagError(`"${value}": ${FORM_HINT}`);
  let targetPort: number | string | undefined;
  if (target !== undefined) {
    if (/^\d+$/.test(target)) targetPort = portNumber(value, target, 'target');
    else if (PORT_NAME.test(target)) targetPort = target;
    else throw new ServicePortFlagError(`"${value}": the target must be a port number or a container port's name, not "${target}"`);
  }
  return {
    ...(name === undefined ? {} : { name }),
    port: portNumber(value, port, 'service'),
    ...(targetPort === undefined ? {} : { targetPort }),
    ...(nodePort === undefined ? {} : { nodePort: portNumber(value, nodePort, 'node') }),
    protocol: proto,
  };
}

function portNumber(value: string, text: string, which: string): number {
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new ServicePortFlagError(`"${value}": the ${which} port must be a number 1-65535, not "${text}"`);
  return n;
}

export class ServicePortFlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServicePortFlagError';
  }
}
