import { isApiError } from '../client/index.js';
import type { CliContext } from './cli-context.js';
import type { EnvPair } from './spec-flags.js';
import { secretEnvName } from './spec-flags.js';

/**
 * Puts `--secret-env` values into the service's secret `<service>-env`: keys merged into it when it
 * exists, else a new secret. The spec then refers to them (spec-flags.ts), so the values are never in
 * the spec, its history, events or API answers.
 * @returns `created` or `updated` when values were stored, undefined when none were given
 */
export async function storeSecretEnv(ctx: CliContext, service: string, pairs: readonly EnvPair[] | undefined): Promise<'created' | 'updated' | undefined> {
  if (!pairs || pairs.length === 0) return undefined;
  const data = Object.fromEntries(pairs.map((p) => [p.name, p.value]));
  const name = secretEnvName(service);
  try {
    await ctx.client.updateSecret(ctx.grid, name, data, { merge: true });
    return 'updated';
  } catch (e) {
    if (!isApiError(e, 'SECRET_NOT_FOUND')) throw e;
  }
  await ctx.client.createSecret(ctx.grid, name, data);
  return 'created';
}
