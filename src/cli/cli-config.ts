import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import YAML from 'yaml';
import { CliError } from './cli-error.js';

/*
 * The CLI's configuration: servers and their tokens, by context name, and the current one — as a
 * kubeconfig, and written the way k3s writes one at first start (`berth server` adds a context `local`
 * for its default data directory). The file holds tokens: it is created 0600 in a 0700 directory.
 */

/** One server the CLI can talk to. */
export interface CliContextEntry {
  readonly name: string;
  /** `http(s)://host:port`. */
  readonly server: string;
  readonly token?: string;
  /** PEM file of the CA (or self-signed certificate) an https server's certificate must chain to. */
  readonly ca?: string;
}

export interface CliConfig {
  readonly currentContext?: string;
  readonly contexts: readonly CliContextEntry[];
}

/** `$BERTH_CONFIG`, else `$XDG_CONFIG_HOME/berth/config`, else `~/.config/berth/config`. */
export function cliConfigPath(env: NodeJS.ProcessEnv): string {
  if (env['BERTH_CONFIG']) return env['BERTH_CONFIG'];
  const base = env['XDG_CONFIG_HOME'] || join(env['HOME'] ?? homedir(), '.config');
  return join(base, 'berth', 'config');
}

/**
 * Reads the config; a missing file is an empty config.
 * @throws CliError when the file exists but is not a berth config.
 */
export function readCliConfig(path: string): CliConfig {
  if (!existsSync(path)) return { contexts: [] };
  let raw: unknown;
  try {
    raw = YAML.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new CliError(`${path} is not valid YAML (${(e as Error).message}); fix or remove it`);
  }
  if (raw === null || raw === undefined) return { contexts: [] };
  const doc = raw as { 'current-context'?: unknown; contexts?: unknown };
  if (typeof doc !== 'object' || (doc.contexts !== undefined && !Array.isArray(doc.contexts))) {
    throw new CliError(`${path} is not a berth CLI config (expected current-context and a list of contexts)`);
  }
  const contexts: CliContextEntry[] = [];
  for (const [i, c] of ((doc.contexts as unknown[] | undefined) ?? []).entries()) {
    const entry = c as Record<string, unknown>;
    if (typeof entry !== 'object' || entry === null || typeof entry['name'] !== 'string' || typeof entry['server'] !== 'string') {
      throw new CliError(`${path}: contexts[${i}] needs a name and a server`);
    }
    contexts.push({
      name: entry['name'],
      server: entry['server'],
      ...(typeof entry['token'] === 'string' ? { token: entry['token'] } : {}),
      ...(typeof entry['ca'] === 'string' ? { ca: entry['ca'] } : {}),
    });
  }
  const current = doc['current-context'];
  return { ...(typeof current === 'string' ? { currentContext: current } : {}), contexts };
}

/** Writes the config atomically (temp file, then rename), mode 0600, directory 0700. */
export function writeCliConfig(path: string, config: CliConfig): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const doc = {
    'current-context': config.currentContext ?? null,
    contexts: config.contexts.map((c) => ({ name: c.name, server: c.server, ...(c.token ? { token: c.token } : {}), ...(c.ca ? { ca: c.ca } : {}) })),
  };
  const text = `# berth CLI configuration: servers and their tokens (written by berth server and berth login)\n${YAML.stringify(doc)}`;
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/** The config with `entry` added or replacing the context of the same name; current when `use`. */
export function withContext(config: CliConfig, entry: CliContextEntry, use: boolean): CliConfig {
  const contexts = [...config.contexts.filter((c) => c.name !== entry.name), entry].sort((a, b) => a.name.localeCompare(b.name));
  const currentContext = use || config.currentContext === undefined ? entry.name : config.currentContext;
  return { currentContext, contexts };
}

/** Same server? Compares normalized origins (`http://127.0.0.1:7420/` = `http://127.0.0.1:7420`). */
export function sameServer(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return a === b;
  }
}
