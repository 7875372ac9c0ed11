import { Command } from 'commander';
import { BerthClient } from '../client/index.js';
import { readCliConfig, withContext, writeCliConfig } from './cli-config.js';
import { CliContext, normalizeHost } from './cli-context.js';
import type { CliDeps } from './cli-deps.js';
import { CliError, UsageError } from './cli-error.js';
import { renderTable } from './table.js';

interface LoginFlags {
  readonly token?: string;
  readonly tokenStdin?: boolean;
  readonly name?: string;
}

/**
 * `berth login SERVER --token T`: checks the token against the server (GET /v1/whoami), then saves a
 * context (server and token) in the CLI config and makes it current (`kubectl config set-context` and
 * `use-context` in one, as Kontena's `master login`).
 */
export function loginCommand(deps: CliDeps): Command {
  return new Command('login')
    .description('save a server and its token as a context of the CLI config, and use it')
    .argument('[server]', 'server URL, e.g. https://berth.example.org:7420 (default: --host, BERTH_HOST or the local server)')
    .option('--token <token>', 'the token (visible to other users in ps: prefer --token-stdin or BERTH_TOKEN)')
    .option('--token-stdin', 'read the token from stdin')
    .option('--name <context>', 'context name (default: host:port of the server)')
    .action(async (server: string | undefined, flags: LoginFlags, cmd: Command) => {
      const ctx = CliContext.of(deps, cmd);
      const url = normalizeHost(server ?? ctx.host);
      let token = flags.token ?? ctx.env['BERTH_TOKEN'];
      if (flags.tokenStdin) token = (await readAll(ctx.stdin)).trim();
      if (!token) throw new UsageError('give the token with --token-stdin, --token or BERTH_TOKEN (`berth token create` makes one)');
      const identity = await new BerthClient({ baseUrl: url, token }).whoami();
      const name = flags.name ?? new URL(url).host;
      const config = withContext(readCliConfig(ctx.configPath), { name, server: url, token }, true);
      writeCliConfig(ctx.configPath, config);
      ctx.out(`logged in to ${url} as ${identity.subject}; context "${name}" is now current (${ctx.configPath})`);
    });
}

/** `berth config get-contexts | use-context NAME | current-context | delete-context NAME`. */
export function configCommand(deps: CliDeps): Command {
  const config = new Command('config').description('the CLI\'s contexts: which servers it knows and which it talks to');
  config.addCommand(
    new Command('get-contexts')
      .description('list the contexts (* marks the current one)')
      .action((_flags: unknown, cmd: Command) => {
        const ctx = CliContext.of(deps, cmd);
        const file = readCliConfig(ctx.configPath);
        if (file.contexts.length === 0) {
          ctx.note(`no contexts in ${ctx.configPath}: \`berth server\` writes "local", \`berth login\` adds others`);
          return;
        }
        ctx.out(renderTable(['CURRENT', 'NAME', 'SERVER', 'TOKEN'], file.contexts.map((c) => [c.name === file.currentContext ? '*' : '', c.name, c.server, c.token ? `${c.token.slice(0, 18)}…` : '-'])));
      }),
  );
  config.addCommand(
    new Command('use-context')
      .description('make a context the current one')
      .argument('<name>', 'context name')
      .action((name: string, _flags: unknown, cmd: Command) => {
        const ctx = CliContext.of(deps, cmd);
        const file = readCliConfig(ctx.configPath);
        if (!file.contexts.some((c) => c.name === name)) {
          throw new CliError(`no context "${name}" in ${ctx.configPath}; known: ${file.contexts.map((c) => c.name).join(', ') || 'none'}`);
        }
        writeCliConfig(ctx.configPath, { ...file, currentContext: name });
        ctx.out(`switched to context "${name}"`);
      }),
  );
  config.addCommand(
    new Command('current-context')
      .description('print the current context')
      .action((_flags: unknown, cmd: Command) => {
        const ctx = CliContext.of(deps, cmd);
        const current = readCliConfig(ctx.configPath).currentContext;
        if (!current) throw new CliError(`no current context in ${ctx.configPath}`);
        ctx.out(current);
      }),
  );
  config.addCommand(
    new Command('delete-context')
      .description('forget a context and its token')
      .argument('<name>', 'context name')
      .action((name: string, _flags: unknown, cmd: Command) => {
        const ctx = CliContext.of(deps, cmd);
        const file = readCliConfig(ctx.configPath);
        if (!file.contexts.some((c) => c.name === name)) throw new CliError(`no context "${name}" in ${ctx.configPath}`);
        const contexts = file.contexts.filter((c) => c.name !== name);
        const currentContext = file.currentContext === name ? undefined : file.currentContext;
        writeCliConfig(ctx.configPath, { ...(currentContext ? { currentContext } : {}), contexts });
        ctx.out(`deleted context "${name}"`);
      }),
  );
  return config;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
  return text;
}
