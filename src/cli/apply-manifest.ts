import { isApiError } from '../client/index.js';
import type { Service } from '../model/index.js';
import type { CliContext } from './cli-context.js';
import type { Manifest, ManifestService } from './manifest.js';
import { withLocations } from './manifest-errors.js';
import { dryRunManifest } from './apply-dry-run.js';
import { errorLines } from './report-error.js';

export type ApplyOutcome = 'created' | 'configured' | 'unchanged';

export interface AppliedService {
  readonly grid: string;
  readonly name: string;
  readonly outcome: ApplyOutcome;
  /** The service after the apply (and the deploy, when one was needed). */
  readonly service: Service;
  /** Whether this apply deployed it (then its rollout decides the outcome of a wait). */
  readonly deployed: boolean;
}

/**
 * Creates or updates every service of a manifest, then deploys those whose deployed generation is
 * behind their spec — after the server's dry run of every document passed (dryRunManifest), so one
 * invalid document means nothing is applied. An update names the version it read, so a change made meanwhile is refused (409)
 * rather than overwritten. Prints `service/web created|configured|unchanged` and
 * `service/web deploying generation N`.
 * @param options.keepGoing  report a failing service and go on with the next (apply); otherwise throw (up)
 * @returns the applied services and how many failed (always 0 without keepGoing)
 */
export async function applyManifest(
  ctx: CliContext,
  manifest: Manifest,
  options: { readonly keepGoing: boolean },
): Promise<{ applied: AppliedService[]; failed: number }> {
  // Every document is validated by the server before the first is applied: one bad document, nothing changes.
  await dryRunManifest(ctx, manifest);
  const applied: AppliedService[] = [];
  let failed = 0;
  for (const entry of manifest.services) {
    try {
      applied.push(await applyOne(ctx, entry));
    } catch (e) {
      const error = withLocations(e, manifest, entry);
      if (!options.keepGoing) throw error;
      failed++;
      for (const line of errorLines(error)) ctx.stderr.write(`${line}\n`);
    }
  }
  return { applied, failed };
}

async function applyOne(ctx: CliContext, entry: ManifestService): Promise<AppliedService> {
  const grid = entry.grid ?? ctx.grid;
  const { name } = entry;
  let current: Service | null = null;
  try {
    current = await ctx.client.getService(grid, name);
  } catch (e) {
    if (!isApiError(e, 'SERVICE_NOT_FOUND')) throw e;
  }
  let service: Service;
  let outcome: ApplyOutcome;
  if (current === null) {
    service = await ctx.client.createService(grid, entry.spec);
    outcome = 'created';
  } else {
    service = await ctx.client.updateService(grid, name, entry.spec, { version: current.version });
    outcome = service.generation !== current.generation ? 'configured' : 'unchanged';
  }
  ctx.out(`service/${name} ${outcome}`);
  let deployed = false;
  if (!service.deployment || service.deployment.generation < service.generation) {
    service = await ctx.client.deploy(grid, name, { version: service.version });
    deployed = true;
    ctx.out(`service/${name} deploying generation ${service.deployment?.generation ?? service.generation}`);
  }
  return { grid, name, outcome, service, deployed };
}
