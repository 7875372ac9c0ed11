import { Command } from 'commander';
import { applyManifest } from './apply-manifest.js';
import { CliContext } from './cli-context.js';
import type { CliDeps } from './cli-deps.js';
import { CliError } from './cli-error.js';
import { readManifest } from './manifest.js';
import { DEFAULT_WAIT_TIMEOUT, rolloutTarget, waitWithProgress } from './wait-flags.js';
import { durationValue } from './spec-flags.js';

interface ApplyFlags {
  readonly file: string;
  readonly wait?: boolean;
  readonly timeout: string;
}

/**
 * `berth apply -f FILE`: creates or updates every service of a manifest and deploys those whose spec
 * moved past what is deployed (kubectl apply, with Kontena's explicit deploy folded in).
 */
export function applyCommand(deps: CliDeps): Command {
  return new Command('apply')
    .description('create or update the services of a manifest and deploy the changed ones')
    .requiredOption('-f, --file <file>', 'YAML manifest, one service spec per document (--- between them); - reads stdin')
    .option('--wait', 'wait until every service of the file runs its deployed generation')
    .option('--timeout <duration>', 'how long --wait waits: seconds or a duration', durationValue, DEFAULT_WAIT_TIMEOUT)
    .action(async (flags: ApplyFlags, cmd: Command) => {
      const ctx = CliContext.of(deps, cmd);
      const manifest = await readManifest(flags.file, ctx);
      if (manifest.services.length === 0) throw new CliError(`${manifest.source} holds no services`);
      const { applied, failed } = await applyManifest(ctx, manifest, { keepGoing: true });
      if (flags.wait && applied.length > 0) {
        const targets = applied.map((a) => (a.deployed ? rolloutTarget(a.grid, a.service) : { grid: a.grid, name: a.name, goal: 'running' as const }));
        await waitWithProgress(ctx, targets, { timeout: flags.timeout });
      }
      if (failed > 0) throw new CliError(`${failed} of ${manifest.services.length} services could not be applied`);
    });
}
