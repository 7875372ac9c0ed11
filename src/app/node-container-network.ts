import type { DnsServer } from '../dns/index.js';
import type { NodeInfo } from '../model/index.js';
import type { FoundDocker } from './docker-setup.js';
import { loopbackVipProblem } from './docker-setup.js';

/** berth's DNS for containers as startContainerDns left it: listening, or why not. */
export type ContainerDns = { readonly server: DnsServer } | { readonly problem: string };

/**
 * The container network of a server's node (docs/networking.md, "Containers"): empty until a Docker
 * engine is taken in — at start, or later when one answers (docker-engine-watch.ts) — then the berth
 * network, the route of the service range and berth's DNS for containers as they were set up. It
 * says what the node record shows (`containerNetwork`, with its problems: `berth version`, GET
 * /v1/nodes) and what the controller and the agent use.
 */
export class NodeContainerNetwork {
  private engine: { readonly found: FoundDocker; readonly routed: string | undefined; readonly dns: ContainerDns } | undefined;
  /**
   * Loopback virtual IPs under a routed range are older than the range (a new one is allocated in it):
   * they are counted on each heartbeat until none is left, and never again after that.
   */
  private loopbackVipsLeft = false;

  constructor(private readonly services: () => readonly { readonly spec: { readonly clusterIP?: string | undefined } }[]) {}

  /**
   * Takes the engine in.
   * @param routed the service range's route problem (routeServiceRange), undefined when containers reach virtual IPs
   */
  use(found: FoundDocker, routed: string | undefined, dns: ContainerDns): void {
    this.engine = { found, routed, dns };
    this.loopbackVipsLeft = routed === undefined;
  }

  get found(): FoundDocker | undefined {
    return this.engine?.found;
  }

  /** berth's DNS server on the bridge gateway, when it listens. */
  get dnsServer(): DnsServer | undefined {
    const dns = this.engine?.dns;
    return dns && 'server' in dns ? dns.server : undefined;
  }

  /** What containers here cannot do, with its fix, one sentence each (empty without an engine). */
  problems(): string[] {
    if (!this.engine) return [];
    const { routed, dns } = this.engine;
    const vips = this.loopbackVipsLeft ? loopbackVipProblem(this.services().map((s) => ({ clusterIP: s.spec.clusterIP }))) : undefined;
    if (vips === undefined) this.loopbackVipsLeft = false;
    return [...(routed ? [routed] : []), ...('problem' in dns ? [dns.problem] : []), ...(vips ? [vips] : [])];
  }

  /** The node record's `containerNetwork`; undefined without an engine. */
  record(): NodeInfo['containerNetwork'] {
    if (!this.engine) return undefined;
    const { network } = this.engine.found;
    const problems = this.problems();
    return {
      name: network.name,
      subnet: network.subnet,
      gateway: network.gateway,
      ...(this.dnsServer ? { dns: `${network.gateway}:53` } : {}),
      ...(problems.length > 0 ? { problems } : {}),
    };
  }

  /** The bridge subnet as the controller hands it out: not the gateway (parseCidr already leaves out the subnet's own address and broadcast). */
  containerRange(): { cidr: string; reserved: string[] } | undefined {
    const network = this.engine?.found.network;
    return network ? { cidr: network.subnet, reserved: [network.gateway] } : undefined;
  }

  /** The agent's RunnerContext.containerNetwork: sandboxes ask berth's DNS on the gateway when it listens. */
  agentNetwork(): { dnsServers: string[] } | undefined {
    const network = this.engine?.found.network;
    return network && this.dnsServer ? { dnsServers: [network.gateway] } : undefined;
  }
}
