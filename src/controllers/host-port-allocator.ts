import type { Instance, InstanceHostPort, ServiceSpec } from '../model/index.js';
import { NODE_HOST_PORT_RANGE, isTerminal, servicePortsOf } from '../model/index.js';

/** A port of an instance that other nodes must reach: a container port, or a numeric service target port. */
export type PortToPublish = Omit<InstanceHostPort, 'hostPort'>;

/**
 * The ports a new instance publishes on its node: every container port, and every numeric
 * `targetPort` of the specs' service ports (`--port http:80:8080` declares no container port, yet
 * other nodes' proxies must reach 8080). Both the deployed spec and the current one count, since the
 * network face takes effect without a deploy. Named target ports are container ports already.
 */
export function portsToPublish(specs: readonly ServiceSpec[]): PortToPublish[] {
  const out: PortToPublish[] = [];
  const add = (containerPort: number, protocol: PortToPublish['protocol']): void => {
    if (!out.some((o) => o.containerPort === containerPort && o.protocol === protocol)) out.push({ containerPort, protocol });
  };
  for (const spec of specs) for (const c of spec.containers) for (const p of c.ports) add(p.containerPort, p.protocol);
  for (const spec of specs) {
    for (const p of servicePortsOf(spec)) {
      const target = p.targetPort ?? p.port;
      if (typeof target === 'number') add(target, p.protocol);
    }
  }
  return out;
}

/**
 * Node-published ports of one controller pass (Nomad's dynamic port assignment in the plan): for each
 * new instance, one port on its node per container port, from NODE_HOST_PORT_RANGE, never one a live
 * instance of that node holds. Ports are taken lowest-free first after the last one handed out on the
 * node, so a port an instance just released is not at once reused (a late packet meets nobody).
 */
export class HostPortAllocator {
  private readonly used = new Map<string, Set<string>>();
  private readonly next = new Map<string, number>();

  /** @param instances every instance of the nodes concerned (ended ones hold nothing) */
  constructor(instances: readonly Instance[], private readonly range: readonly [number, number] = NODE_HOST_PORT_RANGE) {
    for (const i of instances) {
      if (isTerminal(i.status.state)) continue;
      for (const p of i.spec.hostPorts ?? []) this.usedOn(i.node).add(`${p.protocol}/${p.hostPort}`);
    }
  }

  /**
   * The published ports of a new instance on `node` for `wanted` (portsToPublish); [] when it wants
   * none, or when the node has no port left (the instance is then reachable from its own node only;
   * logged by the caller).
   */
  allocate(node: string, wanted: readonly PortToPublish[]): InstanceHostPort[] {
    const out: InstanceHostPort[] = [];
    const used = this.usedOn(node);
    const [low, high] = this.range;
    const size = high - low + 1;
    for (const w of wanted) {
      if (out.some((o) => o.containerPort === w.containerPort && o.protocol === w.protocol)) continue;
      let port: number | undefined;
      const start = this.next.get(node) ?? low;
      for (let k = 0; k < size; k++) {
        const candidate = low + ((start - low + k) % size);
        if (!used.has(`${w.protocol}/${candidate}`)) {
          port = candidate;
          break;
        }
      }
      if (port === undefined) return [];
      used.add(`${w.protocol}/${port}`);
      this.next.set(node, port + 1 > high ? low : port + 1);
      out.push({ ...w, hostPort: port });
    }
    return out;
  }

  private usedOn(node: string): Set<string> {
    let set = this.used.get(node);
    if (!set) {
      set = new Set();
      this.used.set(node, set);
    }
    return set;
  }
}
