import type { FastifyInstance } from 'fastify';
import { parseServiceSpec } from '../model/index.js';
import { serviceEvent } from './service-events.js';
import { EndpointsQuery, SetEndpointsBody, parseRequest } from './request-schemas.js';
import { NdjsonStream } from './ndjson-stream.js';
import { streamOptions } from './instance-routes.js';
import type { ServiceEndpoints } from '../model/index.js';
import type { RouteContext, ServiceParams } from './route-context.js';
import { mutateService, requireService } from './route-context.js';

/** A service's endpoints as the data plane serves them, and hand-set endpoints (services without containers). */
export function registerEndpointRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get<{ Params: ServiceParams }>('/v1/grids/:grid/services/:name/endpoints', async (request, reply) => {
    const { grid, name } = request.params;
    const query = parseRequest(EndpointsQuery, request.query, 'query');
    const service = requireService(ctx.store, grid, name);
    const current = (): ServiceEndpoints =>
      ctx.endpoints?.get(grid, name) ?? {
        grid, service: name, type: service.spec.type, headless: service.spec.clusterIP === 'None', externalIPs: [], loadBalancerIPs: [],
        ports: [], endpoints: [], sessionAffinity: { type: 'None' }, publishNotReadyAddresses: false,
      };
    if (!query.follow) return current();
    // The endpoints now, then again each time a snapshot changes them, until the client goes.
    const stream = new NdjsonStream(reply, streamOptions(ctx));
    let last = JSON.stringify(current());
    stream.write(current());
    const unsubscribe = ctx.endpoints?.subscribe(() => {
      const next = current();
      const text = JSON.stringify(next);
      if (text !== last) {
        last = text;
        stream.write(next);
      }
    });
    stream.open();
    try {
      await stream.done;
    } finally {
      unsubscribe?.();
    }
    return reply;
  });

  app.put<{ Params: ServiceParams }>('/v1/grids/:grid/services/:name/endpoints', async (request) => {
    const { grid, name } = request.params;
    const body = parseRequest(SetEndpointsBody, request.body, 'body');
    return mutateService(ctx, request.params, body.version, (current) => {
      // The stored spec is valid input; validation then names a bad address or a service with containers.
      const spec = parseServiceSpec({ ...current.spec, endpoints: body.addresses }, { limits: ctx.limits });
      return {
        spec,
        events: [serviceEvent(grid, name, 'service.updated', `endpoints set by hand: ${body.addresses.join(', ') || 'none'}`, { endpoints: body.addresses })],
      };
    });
  });
}
