/** One `-p/--ports` value: Kontena's `[ip:]published:target[/protocol]` (services_helper.rb#parse_ports). */
export interface PortMapping {
  /** Host address Kontena would bind; berth publishes on the node's addresses, so it is only kept to warn. */
  readonly ip?: string;
  /** The port opened on the node's addresses (the spec's `ports[].published`; Swarm's PublishedPort). */
  readonly published: number;
  /** The container port the instances listen on (the service port's targetPort; Swarm's TargetPort). */
  readonly target: number;
  readonly protocol: 'TCP' | 'UDP';
}

const FORM = /^(?:(\d{1,3}(?:\.\d{1,3}){3}):)?(\d{1,5}):(\d{1,5})(?:\/([a-zA-Z]+))?$/;
const EXAMPLES = 'expected [ip:]published:target[/protocol], e.g. 8080:80, 53:53/udp or 127.0.0.1:8080:80';

/**
 * Parses one `-p` value.
 * @throws PortFlagError saying what is wrong with the value and showing the accepted form.
 */
export function parsePortFlag(value: string): PortMapping {
  const m = FORM.exec(value.trim());
  if (!m) throw new PortFlagError(`"${value}": ${EXAMPLES}`);
  const [, ip, published, target, proto] = m;
  if (ip !== undefined && ip.split('.').some((octet) => Number(octet) > 255)) {
    throw new PortFlagError(`"${value}": ${ip} is not an IPv4 address`);
  }
  const protocol = (proto ?? 'tcp').toUpperCase();
  if (protocol !== 'TCP' && protocol !== 'UDP') throw new PortFlagError(`"${value}": protocol must be tcp or udp, not "${proto ?? ''}"`);
  return {
    ...(ip === undefined ? {} : { ip }),
    published: portNumber(value, published, 'published'),
    target: portNumber(value, target, 'target'),
    protocol,
  };
}

function portNumber(value: string, text: string | undefined, which: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new PortFlagError(`"${value}": the ${which} port must be 1-65535, not ${text ?? ''}`);
  return n;
}

export class PortFlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PortFlagError';
  }
}
