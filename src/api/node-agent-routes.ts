import type { FastifyInstance } from 'fastify';
import { CodedError } from '../lib/index.js';
import type { Instance, InstanceStatus, NewServiceEvent, NodeInfo } from '../model/index.js';
import { InstanceNotFoundError, NodeExistsError, isTerminal } from '../model/index.js';
import { recordHeartbeat } from '../store/index.js';
import { identityOf } from './access-control.js';
import { flushedOf, untilDurable } from './durable-delivery.js';
import { answerWithoutDurabilityWait } from './leader-routing.js';
import { DataPlaneBarrierBody, DataPlaneReportBody, JoinNodeBody, NodeHeartbeatBody, StatusReportBody, parseRequest } from './request-schemas.js';
import type { RouteContext } from './route-context.js';
import { clusterRangesOf } from './route-context.js';
import type { AgentAccess } from './ports.js';

interface NodeParams {
  readonly node: string;
}

/** An instance as its node's agent gets it: with what its containers need that only the server has. */
export interface AssignedInstanceCredentials {
  /** BERTH_API_TOKEN of its containers. */
  readonly apiToken: string;
  /** `name/key` → value, for every secret its containers' env refers to (and nothing else). */
  readonly secrets: Readonly<Record<string, string>>;
}

function agentsOf(ctx: RouteContext): AgentAccess {
  if (!ctx.agents) throw new CodedError('NODE_UNAVAILABLE', 'this server takes no agents of other machines', {});
  return ctx.agents;
}

/**
 * The routes of agents on other machines (`berth agent --join`), Kubernetes' kubelet-to-apiserver
 * surface with its node authorizer: a join token (role `node`) may only join; the node credential the
 * join answers may act for that node only — heartbeat it, list its instances and their credentials,
 * report their statuses — never another node's (docs/agents.md).
 */
export function registerNodeAgentRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { store } = ctx;

  app.post('/v1/nodes/join', async (request, reply) => {
    const agents = agentsOf(ctx);
    const body = parseRequest(JoinNodeBody, request.body, 'body');
    const current = store.getNode(body.name);
    if (current?.ready) throw new NodeExistsError(body.name);
    const now = ctx.clock.now();
    const joinedAt = new Date(now).toISOString();
    const { name, labels, ...facts } = body;
    agents.liveness.renew(name, now);
    const node: NodeInfo = store.upsertNode({ name, ...facts, ...(labels ? { labels } : {}), ready: true, heartbeatAt: joinedAt, joinedAt });
    ctx.logger.info({ node: name, address: node.address, by: identityOf(request).subject, rejoined: current !== undefined }, 'node joined');
    return reply.status(201).send({ node, token: agents.nodeToken(name, joinedAt), heartbeatPeriodMs: agents.heartbeatPeriodMs, ...telemetryTokenOf(agents, node), ...clusterRangesOf(ctx) });
  });

  app.put<{ Params: NodeParams }>('/v1/nodes/:node/heartbeat', async (request) => {
    const agents = agentsOf(ctx);
    const body = parseRequest(NodeHeartbeatBody, request.body, 'body');
    const now = ctx.clock.now();
    const before = store.revision();
    const node = recordHeartbeat(store, agents.liveness, { name: request.params.node, ...body, ready: true, heartbeatAt: new Date(now).toISOString() }, now);
    // Most beats only renew the liveness (memory): nothing to wait for before answering (leader-routing.ts).
    if (store.revision() === before) answerWithoutDurabilityWait(request);
    return { node, heartbeatPeriodMs: agents.heartbeatPeriodMs, ...telemetryTokenOf(agents, node), ...clusterRangesOf(ctx) };
  });

  // What a node's data plane needs, at one revision: then it follows GET /v1/watch from revision + 1.
  // Both listings answer once that revision is in etcd, as the watch sends only such (durable-delivery.ts).
  app.get('/v1/snapshot', async () => {
    const revision = store.revision();
    const snapshot = { revision, services: store.listServices(), instances: store.listInstances({ active: true }), nodes: store.listNodes() };
    await untilDurable(flushedOf(ctx.leaderRouting));
    return snapshot;
  });

  app.get<{ Params: NodeParams }>('/v1/nodes/:node/instances', async (request) => {
    const revision = store.revision();
    const listed = { items: store.listInstances({ node: request.params.node }), revision };
    await untilDurable(flushedOf(ctx.leaderRouting));
    return listed;
  });

  app.get<{ Params: NodeParams & { instance: string } }>('/v1/nodes/:node/instances/:instance/credentials', async (request): Promise<AssignedInstanceCredentials> => {
    const agents = agentsOf(ctx);
    const inst = store.getInstance(request.params.instance);
    if (!inst || inst.node !== request.params.node || isTerminal(inst.status.state)) throw new InstanceNotFoundError(request.params.instance);
    return { apiToken: agents.apiToken(inst), secrets: secretsOf(ctx, inst) };
  });

  // The drain barrier across nodes: each node's data plane says what it applied; an instance about to
  // stop waits for every node's (docs/nodes.md).
  app.put<{ Params: NodeParams }>('/v1/nodes/:node/data-plane', async (request, reply) => {
    const body = parseRequest(DataPlaneReportBody, request.body, 'body');
    agentsOf(ctx).dataPlanes?.report(request.params.node, body.revision);
    answerWithoutDurabilityWait(request); // memory only: nothing to wait for in etcd
    return reply.status(204).send();
  });

  app.post<{ Params: NodeParams }>('/v1/nodes/:node/data-plane/barrier', async (request, reply) => {
    const body = parseRequest(DataPlaneBarrierBody, request.body, 'body');
    answerWithoutDurabilityWait(request); // it writes nothing
    const acks = agentsOf(ctx).dataPlanes;
    if (!acks) return { behind: [] };
    const gone = new AbortController();
    reply.raw.once('close', () => gone.abort()); // the agent left (or the answer went)
    const behind = await acks.wait(body.revision, { except: request.params.node, timeoutMs: body.timeoutMs ?? 10_000, signal: gone.signal });
    return { behind };
  });

  app.post<{ Params: NodeParams }>('/v1/nodes/:node/statuses', async (request) => {
    const body = parseRequest(StatusReportBody, request.body, 'body');
    const node = request.params.node;
    // The node authorizer: statuses and events of this node's instances only.
    const own = (id: string): Instance | undefined => {
      const inst = store.getInstance(id);
      return inst && inst.node === node ? inst : undefined;
    };
    const updates = body.updates.filter((u) => own(u.id) !== undefined) as { id: string; status: InstanceStatus }[];
    const events = body.events.filter((e) => {
      const inst = own(e.instance);
      return inst !== undefined && inst.grid === e.grid && inst.service === e.service;
    }) as NewServiceEvent[];
    const refused = body.updates.length - updates.length + body.events.length - events.length;
    if (refused > 0) ctx.logger.warn({ node, refused }, 'an agent reported on instances of another node (ignored)');
    store.setInstanceStatuses(updates, events);
    return { accepted: updates.length, events: events.length, ignored: refused };
  });
}

/**
 * The token the servers will present to the node's telemetry listener (docs/node-telemetry.md): sent
 * over the agent's own authenticated channel, in every join and heartbeat answer, so that an agent that
 * restarted, or a node that joined again, has the current one within a heartbeat.
 */
function telemetryTokenOf(agents: AgentAccess, node: NodeInfo): { telemetryToken?: string } {
  return agents.telemetryToken && node.joinedAt !== undefined ? { telemetryToken: agents.telemetryToken(node.name, node.joinedAt) } : {};
}

/** The secret values the env of an instance's containers refers to, keyed `name/key`. */
function secretsOf(ctx: RouteContext, inst: Instance): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of inst.spec.containers) {
    for (const e of c.env) {
      if (!('valueFrom' in e)) continue;
      const { name, key } = e.valueFrom.secretKeyRef;
      const value = ctx.store.getSecretValue(inst.grid, name, key);
      if (value !== undefined) out[`${name}/${key}`] = value;
    }
  }
  return out;
}
