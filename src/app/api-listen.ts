import { fileURLToPath } from 'node:url';
import type { ApiDeps } from '../api/index.js';
import { createApi } from '../api/index.js';
import type { DisposableStore } from '../lib/index.js';
import { DEFAULT_MAX_REPLICAS, MAX_REPLICAS_CEILING } from '../model/index.js';

/* Where and how a server (all-in-one or control plane) listens: its flags' values and the API listener. */

/** `berth server --listen`'s default. */
export const DEFAULT_LISTEN = '127.0.0.1:7420';

/**
 * The replica limit: the flag's, else BERTH_MAX_REPLICAS, else DEFAULT_MAX_REPLICAS (1000).
 * @throws Error for a value that is not a whole number from 1 to MAX_REPLICAS_CEILING: an operator's
 *   typo must not silently become another limit.
 */
export function maxReplicasOf(flag: number | undefined, env: NodeJS.ProcessEnv): number {
  const raw = flag ?? env.BERTH_MAX_REPLICAS?.trim();
  if (raw === undefined || raw === '') return DEFAULT_MAX_REPLICAS;
  const n = typeof raw === 'number' ? raw : /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_REPLICAS_CEILING) {
    const from = flag !== undefined ? '--max-replicas' : 'BERTH_MAX_REPLICAS';
    throw new Error(`${from} must be a whole number from 1 to ${MAX_REPLICAS_CEILING}, got ${JSON.stringify(String(raw))}`);
  }
  return n;
}

/** Creates the API and listens at host:port; closed with `owned`. Returns it and the URL it answers at (https when it has a certificate). */
export async function listenApi(deps: ApiDeps, host: string, port: number, owned: DisposableStore): Promise<{ api: ReturnType<typeof createApi>; url: string }> {
  const api = createApi(deps);
  await api.listen({ host, port });
  owned.defer(() => api.close());
  const address = api.server.address();
  const url = `${deps.https ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${typeof address === 'object' && address ? address.port : port}`;
  return { api, url };
}

export function splitListen(listen: string): [string, number] {
  const m = /^(.*):(\d+)$/.exec(listen);
  if (!m) throw new Error(`invalid --listen "${listen}": expected HOST:PORT, e.g. ${DEFAULT_LISTEN}`);
  return [(m[1] as string).replace(/^\[|\]$/g, '') || '127.0.0.1', Number(m[2])];
}

/**
 * The built web console: BERTH_CONSOLE_DIR, else `dist/web` of berth's own directory (this file is
 * src/app/server.ts or dist/app/server.js, two levels below it), where `npm run build` writes it.
 */
export function consoleDir(): string {
  return process.env.BERTH_CONSOLE_DIR ?? fileURLToPath(new URL('../../dist/web', import.meta.url));
}
