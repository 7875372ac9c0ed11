import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from '../src/api/index.js';
import { FakeTelemetry, createApi } from '../src/api/index.js';
import { adminAuthenticator } from '../src/api/testing/fixtures.js';

/**
 * The real API (admin requests, fake telemetry) on a loopback port for CLI tests, and the env that
 * points the CLI at it. `deps` adds to or overrides the defaults (store is required).
 */
export async function serveRealApi(deps: Pick<ApiDeps, 'store'> & Partial<ApiDeps>): Promise<{ app: FastifyInstance; env: NodeJS.ProcessEnv }> {
  const app = createApi({ authenticator: adminAuthenticator, telemetry: new FakeTelemetry(), node: 'n1', version: 'test', ...deps });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  return { app, env: { BERTH_HOST: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}` } };
}
