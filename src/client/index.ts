export { BerthClient } from './berth-client.js';
export type {
  CreatedToken,
  CreateTokenOptions,
  BerthClientOptions,
  DryRunOption,
  EventsOptions,
  ExplainedService,
  FetchFunction,
  Listed,
  LogsOptions,
  ResumedStream,
  TransportTimeouts,
  VersionInfo,
  VersionOption,
  WatchOptions,
} from './berth-client.js';
export { BerthApiError, isApiError } from './berth-api-error.js';
export { parseNdjson } from './ndjson.js';
export type { WatchEvent } from './watch-event.js';
export { NodeAgentClient } from './node-agent-client.js';
export type { ClusterRanges } from './api-answers.js';
export type { ClusterSnapshot, InstanceCredentials, JoinedNode, NodeFacts } from './node-agent-client.js';
export { failoverFetch } from './failover-fetch.js';
