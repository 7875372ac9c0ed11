import { Command } from 'commander';
import { applyManifest } from './apply-manifest.js';
import { CliContext } from './cli-context.js';
import type { CliDeps } from './cli-deps.js';
import { dryRunManifest } from './apply-dry-run.js';
import { CliError, UsageError } from './cli-error.js';
import { readManifest } from './manifest.js';
import { DEFAULT_WAIT_TIMEOUT, rolloutTarget, waitWithProgress } from './wait-flags.js';
import { durationValue } from './spec-flags.js';

interface ApplyFlags {
  readonly file: string;
  readonly wait?: boolean;
  readonly timeout: string;
  readonly dryRun?: boolean;
}

/**
 * `berth apply -f FILE`: creates or updates every service of a manifest and deploys those whose spec
 * moved past what is deployed (kubectl apply, with Kontena's explicit deploy folded in). Every
 * document is first validated by the server's dry run: one invalid document, nothing is applied and
 * every error is listed. `--dry-run` stops there and prints what apply would do.
 */
export function applyCommand(deps: CliDeps): Command {
  return new Command('apply')
    .description('create or update the services of a manifest and deploy the changed ones')
    .requiredOption('-f, --file <file>', 'YAML manifest, one service spec per document (--- between them); - reads stdin')
    .option('--wait', 'wait until every service of the file runs its deployed generation')
    .option('--timeout <duration>', 'how long --wait waits: seconds or a duration', durationValue, DEFAULT_WAIT_TIMEOUT)
    .option('--dry-run', 'only ask the server to validate every service of the file (its dry run) and say what apply would do; change nothing')
    .action(async (flags: ApplyFlags, cmd: Command) => {
      const ctx = CliContext.of(deps, cmd);
      const manifest = await readManifest(flags.file, ctx);
      if (manifest.services.length === 0) throw new CliError(`${manifest.source} holds no services`);
      if (flags.dryRun) {
        if (flags.wait) throw new UsageError('--wait waits for what apply changed; with --dry-run nothing changes');
        for (const plan of await dryRunManifest(ctx, manifest)) ctx.out(`service/${plan.name} ${plan.outcome} (dry run)`);
        return;
      }
      const { applied, failed } = await applyManifest(ctx, manifest, { keepGoing: true });
      if (flags.wait && applied.length > 0) {
        const targets = applied.map((a) => (a.deployed ? rolloutTarget(a.grid, a.service) : { grid: a.grid, name: a.name, goal: 'running' as const }));
        await waitWithProgress(ctx, targets, { timeout: flags.timeout });
      }
      if (failed > 0) throw new CliError(`${failed} of ${manifest.services.length} services could not be applied`);
    });
}
