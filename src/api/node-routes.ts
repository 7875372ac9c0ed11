import type { FastifyInstance } from 'fastify';
import { CodedError } from '../lib/index.js';
import type { NodeDetail, NodeInfo, WhatIfChange, WhatIfPlan } from '../model/index.js';
import { NodeNotFoundError, isTerminal } from '../model/index.js';
import { identityOf } from './access-control.js';
import { PlanBody, RemoveNodeQuery, UpdateNodeBody, parseRequest } from './request-schemas.js';
import type { RouteContext } from './route-context.js';

interface NodeParams {
  readonly node: string;
}

/**
 * Nodes (Swarm's `docker node ls|inspect|update|rm`, Kubernetes' Node objects): read with
 * `cluster-read`, changed with `manage-nodes`. Agents register and heartbeat their nodes themselves;
 * the API sets what users own: availability and labels.
 */
export function registerNodeRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { store } = ctx;
  app.get('/v1/nodes', async (): Promise<{ items: NodeInfo[] }> => ({ items: store.listNodes() }));

  app.get<{ Params: NodeParams }>('/v1/nodes/:node', async (request): Promise<NodeDetail> => {
    const node = store.getNode(request.params.node);
    if (!node) throw new NodeNotFoundError(request.params.node);
    const instances = store
      .listInstances({ node: node.name, active: true })
      .map((i) => ({ id: i.id, grid: i.grid, service: i.service, slot: i.slot, desiredState: i.desiredState, state: i.status.state }));
    return { ...node, instances };
  });

  app.patch<{ Params: NodeParams }>('/v1/nodes/:node', async (request) => {
    const body = parseRequest(UpdateNodeBody, request.body, 'body');
    const current = store.getNode(request.params.node);
    if (!current) throw new NodeNotFoundError(request.params.node);
    const labels = body.labels ?? (body.labelsAdd || body.labelsRemove ? editedLabels(current.labels, body.labelsAdd ?? {}, body.labelsRemove ?? []) : undefined);
    const node = store.updateNode(
      current.name,
      { ...(body.availability ? { availability: body.availability } : {}), ...(labels ? { labels } : {}) },
      body.version === undefined ? {} : { ifVersion: body.version },
    );
    ctx.logger.info({ node: node.name, availability: node.availability, labels: node.labels, by: identityOf(request).subject }, 'node updated');
    return node;
  });

  app.delete<{ Params: NodeParams }>('/v1/nodes/:node', async (request, reply) => {
    const query = parseRequest(RemoveNodeQuery, request.query, 'query');
    const node = store.removeNode(request.params.node, { force: query.force === true });
    const left = store.listInstances({ node: node.name, active: true }).filter((i) => !isTerminal(i.status.state)).length;
    ctx.logger.info({ node: node.name, force: query.force === true, instancesLeft: left, by: identityOf(request).subject }, 'node removed');
    return reply.status(204).send();
  });
}

/** The labels after `--label-add` and `--label-rm` (removals last, as `docker node update` applies them). */
function editedLabels(labels: Readonly<Record<string, string>>, add: Readonly<Record<string, string>>, remove: readonly string[]): Record<string, string> {
  const out: Record<string, string> = { ...labels, ...add };
  for (const key of remove) delete out[key];
  return out;
}

/** `POST /v1/plan`: what one hypothetical change of the nodes would do (docs/scheduling.md). Nothing is written. */
export function registerPlanRoute(app: FastifyInstance, ctx: RouteContext): void {
  app.post('/v1/plan', async (request): Promise<WhatIfPlan> => {
    const body = parseRequest(PlanBody, request.body, 'body');
    if (!ctx.planner) throw new CodedError('ROUTE_NOT_FOUND', 'this server does not plan', {});
    const change: WhatIfChange = body.failNode
      ? { kind: 'fail-node', node: body.failNode }
      : body.drain
        ? { kind: 'drain', node: body.drain }
        : { kind: 'add-node', ...(body.addNode ?? {}) };
    return ctx.planner(change);
  });
}
