import type { Instance, InstanceStatus, NewServiceEvent, NodeInfo, NodeRegistration, Service } from '../model/index.js';
import type { FetchFunction } from './http-transport.js';
import { HttpTransport } from './http-transport.js';
import type { ClusterRanges, Listed } from './api-answers.js';
import type { WatchEvent } from './watch-event.js';

/** What an agent says of its machine (the node's facts), at join and with every heartbeat. */
export type NodeFacts = Required<Pick<NodeRegistration, 'address' | 'drivers' | 'os' | 'arch' | 'capacity'>> &
  Pick<NodeRegistration, 'unavailableDrivers' | 'containerNetwork' | 'telemetryPort' | 'telemetryFingerprint'>;

/** `POST /v1/nodes/join`'s answer: the node as stored and its own credential (shown only here). */
export interface JoinedNode {
  readonly node: NodeInfo;
  readonly token: string;
  /** How often to beat (ms), as the server asks. */
  readonly heartbeatPeriodMs: number;
  /** The token servers present to the node's telemetry listener (docs/node-telemetry.md); absent from servers that read no agents' telemetry. */
  readonly telemetryToken?: string;
  /** The cluster's ranges, which the agent claims on its machine (absent from older servers). */
  readonly cluster?: ClusterRanges;
}

/** `GET /v1/snapshot`. */
export interface ClusterSnapshot {
  readonly revision: number;
  readonly services: Service[];
  readonly instances: Instance[];
  readonly nodes: NodeInfo[];
}

/** What an instance's containers need that only the server has. */
export interface InstanceCredentials {
  readonly apiToken: string;
  /** `name/key` → value. */
  readonly secrets: Readonly<Record<string, string>>;
}

/**
 * The agent's side of the API (api/node-agent-routes.ts), for `berth agent --join`: join with a join
 * token, then act for one node with its node credential. Every failure is a BerthApiError.
 */
export class NodeAgentClient {
  readonly #http: HttpTransport;
  readonly baseUrl: string;

  constructor(options: { readonly baseUrl: string; readonly token: string; readonly fetch?: FetchFunction }) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#http = new HttpTransport(this.baseUrl, { fetch: options.fetch ?? ((input, init) => fetch(input, init)), token: options.token });
  }

  /** Joins (the client's token is a join token). @throws BerthApiError NODE_EXISTS (409), FORBIDDEN (403) */
  join(name: string, facts: NodeFacts, labels?: Readonly<Record<string, string>>): Promise<JoinedNode> {
    return this.#http.json('POST', '/v1/nodes/join', { body: { name, ...facts, ...(labels ? { labels } : {}) } });
  }

  /** @returns the node as stored and the period (ms) of the next beat the server asks for */
  heartbeat(node: string, facts: NodeFacts): Promise<{ readonly node: NodeInfo; readonly heartbeatPeriodMs: number; readonly telemetryToken?: string; readonly cluster?: ClusterRanges }> {
    return this.#http.json('PUT', `/v1/nodes/${encodeURIComponent(node)}/heartbeat`, { body: facts });
  }

  /** Every instance assigned to the node (ended ones too) and the revision they were read at. */
  instances(node: string): Promise<Listed<Instance>> {
    return this.#http.json('GET', `/v1/nodes/${encodeURIComponent(node)}/instances`);
  }

  /** @throws BerthApiError INSTANCE_NOT_FOUND (404) when it is not a live instance of the node */
  credentials(node: string, instance: string): Promise<InstanceCredentials> {
    return this.#http.json('GET', `/v1/nodes/${encodeURIComponent(node)}/instances/${encodeURIComponent(instance)}/credentials`);
  }

  /** Every service, live instance and node at one revision (`GET /v1/snapshot`). */
  snapshot(): Promise<ClusterSnapshot> {
    return this.#http.json('GET', '/v1/snapshot');
  }

  /** Every change the node may see from `fromRevision` (inclusive) until `signal` aborts (GET /v1/watch). */
  watch(fromRevision: number, signal: AbortSignal): AsyncIterable<WatchEvent> {
    return this.#http.stream<WatchEvent>('/v1/watch', { fromRevision }, signal);
  }

  reportStatuses(node: string, updates: readonly { id: string; status: InstanceStatus }[], events: readonly NewServiceEvent[]): Promise<{ accepted: number; events: number; ignored: number }> {
    return this.#http.json('POST', `/v1/nodes/${encodeURIComponent(node)}/statuses`, { body: { updates, events } });
  }

  /** The node's DNS and proxy applied the endpoints snapshot of store revision `revision` (the drain barrier across nodes). */
  async reportDataPlane(node: string, revision: number): Promise<void> {
    await this.#http.json('PUT', `/v1/nodes/${encodeURIComponent(node)}/data-plane`, { body: { revision } });
  }

  /** Waits (at most `timeoutMs`, 30 s) until every other node's data plane applied `revision`; the nodes still behind ([] = none). */
  async dataPlaneBarrier(node: string, revision: number, timeoutMs: number, signal?: AbortSignal): Promise<string[]> {
    const answer = await this.#http.json<{ behind: string[] }>('POST', `/v1/nodes/${encodeURIComponent(node)}/data-plane/barrier`, { body: { revision, timeoutMs }, ...(signal ? { signal } : {}) });
    return answer.behind;
  }
}
