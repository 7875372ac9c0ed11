import type Dockerode from 'dockerode';
import { CodedError, parseCidr, formatIp } from '../../lib/index.js';
import { engineMessage, isNotFound } from './engine-errors.js';

/** The berth bridge network as the engine has it. */
export interface BerthNetwork {
  readonly name: string;
  /** CIDR, e.g. 10.213.0.0/16. */
  readonly subnet: string;
  /** The bridge's own address on the host: containers' default route, and where berth's DNS listens for them. */
  readonly gateway: string;
  /** The engine's network id. */
  readonly id: string;
}

/** Defaults of the berth network (BERTH_DOCKER_NETWORK, BERTH_DOCKER_SUBNET). */
export const DEFAULT_NETWORK = { name: 'berth', subnet: '10.213.0.0/16' } as const;

/**
 * Finds the bridge network `name`, or creates it with `subnet` (gateway: the subnet's first address).
 * A network of that name found with another subnet is used as it is only when `subnet` was not asked
 * for explicitly; otherwise the mismatch is an error naming both, as silently using the wrong subnet
 * would hand out addresses the engine refuses.
 * @throws CodedError `DOCKER_NETWORK_FAILED` (the engine refused: e.g. the subnet overlaps another network's)
 */
export async function ensureNetwork(docker: Dockerode, options: { readonly name: string; readonly subnet: string; readonly subnetExplicit?: boolean }): Promise<BerthNetwork> {
  const found = await inspect(docker, options.name);
  if (found) {
    if (options.subnetExplicit && found.subnet !== options.subnet) {
      throw new CodedError(
        'DOCKER_NETWORK_FAILED',
        `the Docker network ${options.name} exists with subnet ${found.subnet}, not ${options.subnet}: remove it (docker network rm ${options.name}) or set BERTH_DOCKER_NETWORK to another name`,
      );
    }
    return found;
  }
  const range = parseCidr(options.subnet);
  const gateway = formatIp(range.first);
  try {
    await docker.createNetwork({
      Name: options.name,
      Driver: 'bridge',
      CheckDuplicate: true,
      Attachable: true,
      IPAM: { Driver: 'default', Config: [{ Subnet: options.subnet, Gateway: gateway }] },
      Labels: { 'io.berth.network': 'true' },
    });
  } catch (error) {
    // Another berth made it at the same moment: use theirs.
    const raced = (error as { statusCode?: number }).statusCode === 409 ? await inspect(docker, options.name) : undefined;
    if (raced) return raced;
    throw new CodedError('DOCKER_NETWORK_FAILED', `cannot create the Docker network ${options.name} (${options.subnet}): ${engineMessage(error)}; set BERTH_DOCKER_SUBNET to a free range`);
  }
  const made = await inspect(docker, options.name);
  if (!made) throw new CodedError('DOCKER_NETWORK_FAILED', `the Docker network ${options.name} vanished right after it was created`);
  return made;
}

async function inspect(docker: Dockerode, name: string): Promise<BerthNetwork | undefined> {
  try {
    const info = (await docker.getNetwork(name).inspect()) as { Id: string; Name: string; IPAM?: { Config?: { Subnet?: string; Gateway?: string }[] } };
    const config = info.IPAM?.Config?.find((c) => c.Subnet && !c.Subnet.includes(':'));
    if (!config?.Subnet) throw new CodedError('DOCKER_NETWORK_FAILED', `the Docker network ${name} has no IPv4 subnet: remove it or set BERTH_DOCKER_NETWORK to another name`);
    const gateway = config.Gateway ?? formatIp(parseCidr(config.Subnet).first);
    return { name: info.Name, subnet: config.Subnet, gateway, id: info.Id };
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}
