import type { Service, ServiceExplanation, TokenInfo } from '../model/index.js';

/*
 * The answers of berth's API that the client types itself (the rest are model types).
 */

/** A list and the store revision it was read at: watch from `revision + 1` to follow it. */
export interface Listed<T> {
  readonly items: T[];
  readonly revision: number;
}

/** A token as `createToken` answers it: the only time the secret is shown. */
export type CreatedToken = TokenInfo & { readonly token: string };

/** `GET /v1/version`. */
export interface VersionInfo {
  readonly version: string;
  readonly apiVersion: string;
  /** The name of the node the server runs on. */
  readonly node: string;
  /** `host:port` of berth's DNS server (UDP and TCP), when the server runs one. */
  readonly dns?: string;
  /** Where the Docker Engine API face listens, as DOCKER_HOST takes it (`unix:///…/docker.sock`); absent when it is off. */
  readonly dockerApi?: readonly string[];
  /** Drivers that run containers on the node (`process`, `docker`). */
  readonly drivers?: readonly string[];
  /** Driver → why it cannot run on the node. */
  readonly unavailableDrivers?: Readonly<Record<string, string>>;
  /** What containers on the node cannot do, one sentence each with its fix (e.g. reach loopback virtual IPs). */
  readonly containerProblems?: readonly string[];
  /** Several servers on etcd (`berth server --store etcd://…`): this server's role, the leader's URL, and every server registered in etcd. */
  readonly controlPlane?: {
    readonly role: 'leader' | 'follower' | 'electing';
    readonly leader?: string;
    readonly servers: readonly { readonly id: string; readonly url: string; readonly leader: boolean }[];
  };
  /** The ranges the cluster hands out and what names it in a machine's range registry (agents claim them). */
  readonly cluster?: ClusterRanges;
}

/** A cluster's id and address ranges (GET /v1/version, the agents' join and heartbeat answers). */
export interface ClusterRanges {
  readonly id: string;
  /** CIDR. */
  readonly instanceRange: string;
  /** CIDR. */
  readonly serviceRange: string;
  /** `30000-32767`. */
  readonly nodePortRange: string;
  /** CIDR: the subnet of every node's Docker bridge, where instances with images are addressed (absent from older servers, and from a lone server without a Docker engine). */
  readonly containerRange?: string;
}

/** A service as GET answers it: with its explanation (without log lines; `why()` has them). */
export type ExplainedService = Service & { readonly explanation?: ServiceExplanation };
