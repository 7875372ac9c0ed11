/** A machine whose agent runs instances. On one machine there is one node, named after the host. */
export interface NodeInfo {
  readonly name: string;
  /** Address the node's node ports and load balancers open on. */
  readonly address: string;
  /** Drivers that run containers here: `process`, and `docker` when an engine answered at start. */
  readonly drivers: readonly string[];
  /** Driver → why it cannot run here (e.g. docker: "no Docker engine answers at unix:///var/run/docker.sock: …"). */
  readonly unavailableDrivers?: Readonly<Record<string, string>>;
  /** The container network of the node's image driver: name, subnet and gateway (berth's DNS for containers listens there). */
  readonly containerNetwork?: { readonly name: string; readonly subnet: string; readonly gateway: string; readonly dns?: string };
  readonly ready: boolean;
  readonly heartbeatAt: string;
  readonly version: number;
}
