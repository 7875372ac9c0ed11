import { isApiError } from '../client/index.js';
import type { Service } from '../model/index.js';
import type { CliContext } from './cli-context.js';
import { CliError } from './cli-error.js';
import type { Manifest, ManifestService } from './manifest.js';
import { withLocations } from './manifest-errors.js';
import { errorLines } from './report-error.js';

/** What applying one document would do, as the server's dry run answers it. */
export interface PlannedApply {
  readonly entry: ManifestService;
  readonly grid: string;
  readonly name: string;
  /** The service as it is now; null when apply would create it. */
  readonly live: Service | null;
  /** The service the server would store (its dry run of the create or update, with the deploy apply makes). */
  readonly merged: Service;
  readonly outcome: 'created' | 'configured' | 'unchanged';
}

/**
 * The server-side dry run of every document of a manifest, before anything is changed (kubectl apply
 * --dry-run=server): each document is sent as the create or update apply would make, with the deploy
 * that follows it, and `?dryRun=All`, so the server validates it, checks its limits and allocations
 * (a node port, the instance addresses a deploy needs) and stores nothing.
 *
 * Each document is checked against what is stored now, not against the others of the file: two
 * documents asking for the same node port each pass here, and the second then fails when applied.
 * @returns one plan per document, in file order
 * @throws CliError naming every failing document (`service/api (app.yaml, document 2) is invalid:`)
 *   with each field's place in the file, when any fails; SERVER_UNREACHABLE at once
 */
export async function dryRunManifest(ctx: CliContext, manifest: Manifest): Promise<PlannedApply[]> {
  const plans: PlannedApply[] = [];
  const failures: CliError[] = [];
  for (const entry of manifest.services) {
    try {
      plans.push(await dryRunOne(ctx, entry));
    } catch (e) {
      if (isApiError(e, 'SERVER_UNREACHABLE')) throw e;
      const located = withLocations(e, manifest, entry);
      failures.push(located instanceof CliError ? located : new CliError(errorLines(located).join('; ')));
    }
  }
  const total = manifest.services.length;
  const [first] = failures;
  if (first && total === 1) throw first;
  if (failures.length > 0) {
    throw new CliError(`${failures.length} of the ${total} services of ${manifest.source} are invalid; nothing was changed:`, {
      lines: failures.flatMap((f) => [f.message, ...f.lines.map((l) => `  ${l}`)]),
    });
  }
  return plans;
}

async function dryRunOne(ctx: CliContext, entry: ManifestService): Promise<PlannedApply> {
  const grid = entry.grid ?? ctx.grid;
  const { name } = entry;
  let live: Service | null = null;
  try {
    live = await ctx.client.getService(grid, name);
  } catch (e) {
    if (!isApiError(e, 'SERVICE_NOT_FOUND')) throw e;
  }
  if (live === null) {
    const merged = await ctx.client.createService(grid, entry.spec, { deploy: true, dryRun: true });
    return { entry, grid, name, live, merged, outcome: 'created' };
  }
  const merged = await ctx.client.updateService(grid, name, entry.spec, { version: live.version, deploy: true, dryRun: true });
  return { entry, grid, name, live, merged, outcome: merged.generation !== live.generation ? 'configured' : 'unchanged' };
}
