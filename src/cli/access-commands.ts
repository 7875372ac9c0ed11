import { Command, InvalidArgumentError } from 'commander';
import type { Identity, Role, TokenInfo } from '../model/index.js';
import { CliContext } from './cli-context.js';
import type { CliDeps } from './cli-deps.js';
import { formatAge } from './format-age.js';
import type { OutputFormat } from './output-format.js';
import { formatStructured, outputOption } from './output-format.js';
import { renderTable } from './table.js';

/*
 * Who you are and what you may do: `berth whoami`, `berth token create|ls|revoke` (KubeSphere's and
 * Kontena's tokens), `berth grid create|ls|rm` (Kontena's grids, Kubernetes' namespaces).
 */

/** `berth whoami`: the identity of the token the CLI sends, and where the token came from. */
export function whoamiCommand(deps: CliDeps): Command {
  return new Command('whoami')
    .description('show who the CLI is to the server: the token\'s subject and roles')
    .addOption(outputOption())
    .action(async (flags: { readonly output: OutputFormat }, cmd: Command) => {
      const ctx = CliContext.of(deps, cmd);
      const identity = await ctx.client.whoami();
      if (flags.output !== 'table') {
        ctx.stdout.write(formatStructured({ server: ctx.host, tokenSource: ctx.tokenSource, ...identity }, flags.output));
        return;
      }
      ctx.out(`${identity.subject} at ${ctx.host}`);
      ctx.out(`roles: ${describeRoles(identity)}`);
      if (ctx.tokenSource) ctx.note(`token from ${ctx.tokenSource}`);
    });
}

function describeRoles(identity: Identity): string {
  const parts = identity.grants.map((g) => (g.grid ? `${g.role} in grid ${g.grid}` : g.role));
  if (identity.service) parts.push(`reads its own service ${identity.service.grid}/${identity.service.name}`);
  return parts.length === 0 ? 'none' : parts.join(', ');
}

/** The roles, as the API takes them (model/access.ts ROLES; the CLI imports model types only). */
const ROLES: readonly Role[] = ['cluster-admin', 'admin', 'operator', 'viewer', 'node'];
/** Roles without a grid (model/access.ts CLUSTER_ROLES). */
const CLUSTER_ROLES: readonly Role[] = ['cluster-admin', 'node'];

function roleValue(value: string): Role {
  const role = ROLES.find((r) => r === value);
  if (!role) throw new InvalidArgumentError(`"${value}": expected one of ${ROLES.join(', ')}`);
  return role;
}

interface TokenCreateFlags {
  readonly role: Role;
  readonly name?: string;
  readonly ttl?: string;
  readonly output: OutputFormat;
}

/** `berth token create|ls|revoke`. */
export function tokenCommand(deps: CliDeps): Command {
  const token = new Command('token').alias('tokens').description('create, list and revoke API tokens');
  token.addCommand(
    new Command('create')
      .description('create a token (printed once: store it safely); grid roles act in --grid (default: the current grid)')
      .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`, roleValue)
      .option('--name <text>', 'what the token is for (shown by token ls)')
      .option('--ttl <duration>', 'how long it is valid, e.g. 24h or 30d (default: until revoked)')
      .addOption(outputOption())
      .action(async (flags: TokenCreateFlags, cmd: Command) => {
        const ctx = CliContext.of(deps, cmd);
        const created = await ctx.client.createToken({
          role: flags.role,
          ...(CLUSTER_ROLES.includes(flags.role) ? {} : { grid: ctx.grid }),
          ...(flags.name ? { name: flags.name } : {}),
          ...(flags.ttl ? { ttl: flags.ttl } : {}),
        });
        if (flags.output !== 'table') {
          ctx.stdout.write(formatStructured(created, flags.output));
          return;
        }
        ctx.out(created.token);
        ctx.note(`token ${created.id}: ${created.role}${created.grid ? ` in grid ${created.grid}` : ''}${created.expiresAt ? `, expires ${created.expiresAt}` : ''}. It is shown only now.`);
        if (created.role === 'node') ctx.note(`join a machine with: berth agent --join ${ctx.host} --token <token>`);
        else ctx.note(`use it with: berth login ${ctx.host} --token <token>   (or BERTH_TOKEN=<token>)`);
      }),
  );
  token.addCommand(
    new Command('ls')
      .alias('list')
      .description('list the tokens you may manage (of --grid when given)')
      .addOption(outputOption())
      .action(async (flags: { readonly output: OutputFormat }, cmd: Command) => {
        const ctx = CliContext.of(deps, cmd);
        const gridGiven = cmd.optsWithGlobals<{ grid?: string }>().grid ?? ctx.env['BERTH_GRID'];
        const tokens = await ctx.client.listTokens(gridGiven ? { grid: gridGiven } : {});
        if (flags.output !== 'table') ctx.stdout.write(formatStructured(tokens, flags.output));
        else if (tokens.length === 0) ctx.note('no tokens');
        else ctx.out(renderTokens(tokens, ctx.now()));
      }),
  );
  token.addCommand(
    new Command('revoke')
      .alias('rm')
      .description('revoke a token by its id (the first column of token ls); it stops working at once')
      .argument('<id>', 'token id')
      .action(async (id: string, _flags: unknown, cmd: Command) => {
        const ctx = CliContext.of(deps, cmd);
        await ctx.client.revokeToken(id);
        ctx.out(`token/${id} revoked`);
      }),
  );
  return token;
}

function renderTokens(tokens: readonly TokenInfo[], now: number): string {
  return renderTable(
    ['ID', 'NAME', 'ROLE', 'GRID', 'AGE', 'EXPIRES'],
    tokens.map((t) => [t.id, t.name, t.role, t.grid ?? '*', formatAge(t.createdAt, now), t.expiresAt ? expiresIn(t.expiresAt, now) : 'never']),
  );
}

function expiresIn(time: string, now: number): string {
  const ms = Date.parse(time) - now;
  return ms <= 0 ? 'expired' : `in ${formatAge(new Date(now - ms).toISOString(), now)}`;
}

/** `berth grid create|ls|rm`. */
export function gridCommand(deps: CliDeps): Command {
  const grid = new Command('grid').alias('grids').description('create, list and remove grids (namespaces)');
  grid.addCommand(
    new Command('create')
      .description('create a grid (needs cluster-admin)')
      .argument('<name>', 'grid name (a DNS-1035 label)')
      .action(async (name: string, _flags: unknown, cmd: Command) => {
        const ctx = CliContext.of(deps, cmd);
        await ctx.client.createGrid(name);
        ctx.out(`grid/${name} created`);
      }),
  );
  grid.addCommand(
    new Command('ls')
      .alias('list')
      .description('list the grids you hold a role in (all of them for a cluster-admin)')
      .option('-q, --quiet', 'print names only')
      .addOption(outputOption())
      .action(async (flags: { readonly quiet?: boolean; readonly output: OutputFormat }, cmd: Command) => {
        const ctx = CliContext.of(deps, cmd);
        const grids = await ctx.client.listGrids();
        if (flags.quiet) for (const g of grids) ctx.out(g.name);
        else if (flags.output !== 'table') ctx.stdout.write(formatStructured(grids, flags.output));
        else ctx.out(renderTable(['NAME', 'AGE'], grids.map((g) => [g.name, formatAge(g.createdAt, ctx.now())])));
      }),
  );
  grid.addCommand(
    new Command('rm')
      .alias('remove')
      .description('remove an empty grid and its tokens (needs cluster-admin)')
      .argument('<name>', 'grid name')
      .action(async (name: string, _flags: unknown, cmd: Command) => {
        const ctx = CliContext.of(deps, cmd);
        await ctx.client.removeGrid(name);
        ctx.out(`grid/${name} removed`);
      }),
  );
  return grid;
}
