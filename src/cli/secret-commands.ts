import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { CliContext } from './cli-context.js';
import type { CliDeps } from './cli-deps.js';
import { UsageError } from './cli-error.js';
import { formatAge } from './format-age.js';
import type { OutputFormat } from './output-format.js';
import { formatStructured, outputOption } from './output-format.js';
import { renderTable } from './table.js';

interface DataFlags {
  readonly fromLiteral?: readonly [string, string][];
  readonly fromFile?: readonly [string, string][];
}

/** `KEY=VALUE` for --from-literal and --from-file (kubectl create secret generic's flags). */
function pairValue(value: string, previous: [string, string][] | undefined): [string, string][] {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`"${value}": expected KEY=VALUE`);
  return [...(previous ?? []), [value.slice(0, eq), value.slice(eq + 1)]];
}

function dataOf(ctx: CliContext, flags: DataFlags): Record<string, string> {
  const data: Record<string, string> = {};
  for (const [k, v] of flags.fromLiteral ?? []) data[k] = v;
  for (const [k, path] of flags.fromFile ?? []) {
    try {
      data[k] = readFileSync(resolve(ctx.cwd, path), 'utf8');
    } catch (e) {
      throw new UsageError(`--from-file ${k}=${path}: ${(e as Error).message}`);
    }
  }
  if (Object.keys(data).length === 0) throw new UsageError('give the values with --from-literal KEY=VALUE or --from-file KEY=PATH (repeatable)');
  return data;
}

function withDataOptions(command: Command): Command {
  return command
    .option('--from-literal <KEY=VALUE>', 'a key and its value (repeatable; visible in ps: prefer --from-file)', pairValue)
    .option('--from-file <KEY=PATH>', 'a key whose value is the content of a file (repeatable)', pairValue);
}

/**
 * `berth secret create|ls|show|update|rm` (Swarm's `docker secret`, kubectl's `create secret generic`):
 * values go in and are never shown again; containers take them with env `valueFrom.secretKeyRef` or
 * `service create --secret-env`.
 */
export function secretCommand(deps: CliDeps): Command {
  const secret = new Command('secret').alias('secrets').description('create, list, update and remove secrets (values are never shown)');
  secret.addCommand(
    withDataOptions(new Command('create').description('create a secret').argument('<name>', 'secret name')).action(async (name: string, flags: DataFlags, cmd: Command) => {
      const ctx = CliContext.of(deps, cmd);
      const info = await ctx.client.createSecret(ctx.grid, name, dataOf(ctx, flags));
      ctx.out(`secret/${info.name} created with keys ${info.keys.join(', ')}`);
    }),
  );
  secret.addCommand(
    new Command('ls')
      .alias('list')
      .description('list the secrets of the grid: names and keys')
      .addOption(outputOption())
      .action(async (flags: { readonly output: OutputFormat }, cmd: Command) => {
        const ctx = CliContext.of(deps, cmd);
        const secrets = await ctx.client.listSecrets(ctx.grid);
        if (flags.output !== 'table') ctx.stdout.write(formatStructured(secrets, flags.output));
        else if (secrets.length === 0) ctx.note(`no secrets in grid ${ctx.grid}`);
        else ctx.out(renderTable(['NAME', 'KEYS', 'AGE', 'UPDATED'], secrets.map((s) => [s.name, s.keys.join(','), formatAge(s.createdAt, ctx.now()), formatAge(s.updatedAt, ctx.now())])));
      }),
  );
  secret.addCommand(
    new Command('show')
      .description('show a secret\'s keys and times (never its values)')
      .argument('<name>', 'secret name')
      .addOption(outputOption())
      .action(async (name: string, flags: { readonly output: OutputFormat }, cmd: Command) => {
        const ctx = CliContext.of(deps, cmd);
        const info = await ctx.client.getSecret(ctx.grid, name);
        if (flags.output !== 'table') ctx.stdout.write(formatStructured(info, flags.output));
        else ctx.out([`${info.grid}/${info.name}:`, `  keys: ${info.keys.join(', ')}`, `  created: ${info.createdAt}`, `  updated: ${info.updatedAt}`].join('\n'));
      }),
  );
  secret.addCommand(
    withDataOptions(new Command('update').description('set keys of a secret (the others stay, unless --replace); instances see them when they start again').argument('<name>', 'secret name'))
      .option('--replace', 'the given keys become the whole secret')
      .action(async (name: string, flags: DataFlags & { readonly replace?: boolean }, cmd: Command) => {
        const ctx = CliContext.of(deps, cmd);
        const info = await ctx.client.updateSecret(ctx.grid, name, dataOf(ctx, flags), { merge: !flags.replace });
        ctx.out(`secret/${info.name} updated; keys ${info.keys.join(', ')}`);
        ctx.note('running instances keep the values they started with: `berth service restart NAME` gives them the new ones');
      }),
  );
  secret.addCommand(
    new Command('rm')
      .alias('remove')
      .description('remove a secret that no service refers to')
      .argument('<name>', 'secret name')
      .action(async (name: string, _flags: unknown, cmd: Command) => {
        const ctx = CliContext.of(deps, cmd);
        await ctx.client.removeSecret(ctx.grid, name);
        ctx.out(`secret/${name} removed`);
      }),
  );
  return secret;
}
