import { Command, InvalidArgumentError } from 'commander';
import type { RecordType } from 'dns-packet';
import { parseDuration } from '../lib/index.js';
import { CliContext } from './cli-context.js';
import type { CliDeps } from './cli-deps.js';
import { CliError } from './cli-error.js';
import { DnsTimeoutError, formatAnswer, queryDns } from './dns-query.js';

/** berth's DNS zone (`berth server`'s default domain). */
export const DEFAULT_DOMAIN = 'berth.local';
const TYPES = ['A', 'AAAA', 'CNAME', 'SRV', 'TXT', 'MX', 'NS', 'PTR', 'SOA', 'ANY'] as const;

interface LookupFlags {
  readonly dns?: { readonly host: string; readonly port: number };
  readonly timeout: number;
}

/** `berth dns lookup NAME [TYPE]`: asks berth's DNS server, as `dig @server NAME TYPE` would. */
export function dnsCommand(deps: CliDeps): Command {
  const dns = new Command('dns').description("ask berth's DNS server");
  dns.addCommand(
    new Command('lookup')
      .description(`resolve NAME through berth's DNS server; a NAME without a dot is a service of the grid (NAME.<grid>.${DEFAULT_DOMAIN})`)
      .argument('<name>', 'web, web-2, _http._tcp.web, or a full name such as example.org')
      .argument('[type]', `record type: ${TYPES.join(', ')} (default A)`, typeValue, 'A')
      .option('--dns <host:port>', "the DNS server to ask (default: the one the berth server reports in GET /v1/version)", hostPortValue)
      // dig's 5 s: longer than berth's DNS waits for an upstream (2 s), so a name it forwards to an
      // upstream that does not answer gets the server's SERVFAIL, not "no answer from the DNS server".
      .option('--timeout <duration>', 'how long to wait for the answer (default 5s, as dig)', timeoutValue, 5000)
      .action(async (name: string, type: RecordType, flags: LookupFlags, cmd: Command) => {
        const ctx = CliContext.of(deps, cmd);
        const server = flags.dns ?? (await serverDns(ctx));
        const fqdn = qualify(name, ctx.grid);
        let reply;
        try {
          reply = await queryDns(server, { name: fqdn, type }, { timeoutMs: flags.timeout });
        } catch (e) {
          if (e instanceof DnsTimeoutError) throw new CliError(`${fqdn} ${type}: ${e.message}`, { cause: e });
          throw e;
        }
        for (const answer of reply.answers) ctx.out(formatAnswer(answer));
        if (reply.truncated) ctx.note(';; truncated: the answer did not fit in one UDP datagram');
        if (reply.rcode !== 'NOERROR') throw new CliError(`${fqdn} ${type}: ${reply.rcode}`);
        if (reply.answers.length === 0) ctx.note(`;; no ${type} records for ${fqdn}`);
      }),
  );
  return dns;
}

/**
 * `web` → `web.<grid>.berth.local.`; a name with a dot is taken as given (`web.shop.berth.local`,
 * `example.org`), as a resolver with berth's search path would.
 */
export function qualify(name: string, grid: string): string {
  const trimmed = name.trim();
  const full = trimmed.includes('.') ? trimmed : `${trimmed}.${grid}.${DEFAULT_DOMAIN}`;
  return full.replace(/\.$/, '');
}

async function serverDns(ctx: CliContext): Promise<{ host: string; port: number }> {
  const info = await ctx.client.version();
  if (!info.dns && info.controlPlane) {
    // A server on etcd runs no data plane: the agents' DNS servers answer, each at the address its start line printed.
    throw new CliError(`the berth server at ${ctx.host} is one of several servers on etcd and runs no DNS server: every node's agent runs one (\`berth agent --dns HOST:PORT\`; its start line says where); pass --dns HOST:PORT of one`);
  }
  if (!info.dns) {
    throw new CliError(`the berth server at ${ctx.host} runs no DNS server: start it with \`berth server --dns 127.0.0.1:5353\`, or pass --dns HOST:PORT`);
  }
  try {
    return parseHostPort(info.dns);
  } catch {
    throw new CliError(`the berth server at ${ctx.host} reports its DNS server as "${info.dns}", which is not host:port; pass --dns HOST:PORT`);
  }
}

/** `127.0.0.1:5353`, `localhost:53` or `[::1]:5353`. */
export function parseHostPort(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value.trim());
  const port = Number(m?.[3]);
  const host = m?.[1] ?? m?.[2];
  if (!m || host === undefined || port < 1 || port > 65535) throw new Error(`"${value}": expected HOST:PORT, e.g. 127.0.0.1:5353`);
  return { host, port };
}

function hostPortValue(value: string): { host: string; port: number } {
  try {
    return parseHostPort(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

function typeValue(value: string): RecordType {
  const upper = value.toUpperCase();
  if (!(TYPES as readonly string[]).includes(upper)) throw new InvalidArgumentError(`"${value}": expected one of ${TYPES.join(', ')}`);
  return upper as RecordType;
}

function timeoutValue(value: string): number {
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch {
    throw new InvalidArgumentError(`"${value}": expected seconds or a duration such as 500ms or 2s`);
  }
  if (!(ms > 0)) throw new InvalidArgumentError(`"${value}": must be more than 0`);
  return ms;
}
