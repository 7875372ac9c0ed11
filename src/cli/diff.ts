import { Command } from 'commander';
import { dryRunManifest } from './apply-dry-run.js';
import type { PlannedApply } from './apply-dry-run.js';
import { CliContext } from './cli-context.js';
import type { CliDeps } from './cli-deps.js';
import { CliError, QuietExit } from './cli-error.js';
import { unifiedHunks } from './line-diff.js';
import { readManifest } from './manifest.js';
import { formatStructured } from './output-format.js';
import type { Palette } from './palette.js';
import { errorLines } from './report-error.js';

interface DiffFlags {
  readonly file: string;
}

/**
 * `berth diff -f FILE`: what `berth apply -f FILE` would change, as `kubectl diff` shows it — for each
 * service, its spec as stored now (`live/GRID/NAME`, empty for a service apply would create) against
 * the spec the server would store (`merged/GRID/NAME`, the server's dry run: defaults filled in, node
 * ports and the virtual IP kept), as a unified diff of the YAML. Changes nothing.
 *
 * Exit code as `diff` and `kubectl diff`: 0 no differences, 1 differences, 2 an error (an invalid
 * document, no server …).
 */
export function diffCommand(deps: CliDeps): Command {
  return new Command('diff')
    .description('show what apply -f FILE would change (the server validates every service; nothing changes); exit 0 same, 1 different, 2 error')
    .requiredOption('-f, --file <file>', 'YAML manifest, one service spec per document (--- between them); - reads stdin')
    .action(async (flags: DiffFlags, cmd: Command) => {
      const ctx = CliContext.of(deps, cmd);
      let plans: PlannedApply[];
      try {
        const manifest = await readManifest(flags.file, ctx);
        if (manifest.services.length === 0) throw new CliError(`${manifest.source} holds no services`);
        plans = await dryRunManifest(ctx, manifest);
      } catch (e) {
        // An error is exit code 2, so that 1 keeps meaning "there are differences".
        const [head = 'error: diff failed', ...rest] = errorLines(e);
        throw new CliError(head.replace(/^error: /, ''), { exitCode: 2, lines: rest.map((l) => l.replace(/^ {2}/, '')), cause: e });
      }
      let differs = false;
      for (const plan of plans) {
        const lines = specDiff(plan, ctx.palette);
        if (lines.length === 0) continue;
        differs = true;
        for (const line of lines) ctx.out(line);
      }
      if (differs) throw new QuietExit(1);
    });
}

/** The unified diff of one service's spec, with its header; empty when apply would change nothing. */
export function specDiff(plan: PlannedApply, c: Palette): string[] {
  const live = plan.live ? formatStructured(plan.live.spec, 'yaml') : '';
  const merged = formatStructured(plan.merged.spec, 'yaml');
  const hunks = unifiedHunks(live, merged);
  if (hunks.length === 0) return [];
  const path = `${plan.grid}/${plan.name}`;
  const paint = (line: string): string => (line.startsWith('@@') ? c.dim(line) : line.startsWith('-') ? c.red(line) : line.startsWith('+') ? c.green(line) : line);
  return [c.bold(`diff -u -N live/${path} merged/${path}`), `--- live/${path}`, `+++ merged/${path}`, ...hunks.map(paint)];
}
