/** A machine whose agent runs instances. On one machine there is one node, named after the host. */
export interface NodeInfo {
  readonly name: string;
  /** Address the node's node ports and load balancers open on. */
  readonly address: string;
  readonly drivers: readonly string[];
  readonly ready: boolean;
  readonly heartbeatAt: string;
  readonly version: number;
}
