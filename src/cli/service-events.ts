import { Command, Option } from 'commander';
import { stringify } from 'yaml';
import type { ServiceEvent } from '../model/index.js';
import { CliContext } from './cli-context.js';
import type { CliDeps } from './cli-deps.js';
import type { Palette } from './palette.js';
import { countValue } from './spec-flags.js';

interface EventsFlags {
  readonly follow?: boolean;
  readonly tail: number;
  readonly since?: string;
  readonly output: 'table' | 'json' | 'yaml';
}

/** `berth service events NAME`: the service's history (Kontena's `service events`). */
export function serviceEventsCommand(deps: CliDeps): Command {
  return new Command('events')
    .description('show the event history of a service: deploys, scaling, instance starts and exits')
    .argument('<name>', 'service name')
    .option('-f, --follow', 'keep printing new events until Ctrl-C')
    .option('--tail <n>', 'events to show from the end', countValue, 100)
    .option('--since <time>', 'only events since an RFC 3339 time or a duration ago (10m, 1h)')
    .addOption(
      new Option('-o, --output <format>', 'table: one line per event; json: one JSON object per line; yaml: one document per event')
        .choices(['table', 'json', 'yaml'])
        .default('table'),
    )
    .action(async (name: string, flags: EventsFlags, cmd: Command) => {
      const ctx = CliContext.of(deps, cmd);
      const interrupt = flags.follow ? ctx.interruptSignal() : undefined;
      try {
        const events = ctx.client.events(ctx.grid, name, {
          tail: flags.tail,
          ...(flags.since ? { since: flags.since } : {}),
          ...(flags.follow ? { follow: true } : {}),
          ...(interrupt ? { signal: interrupt.signal } : {}),
          onResume: (r) => ctx.noteResumed(r),
        });
        for await (const event of events) {
          if (flags.output === 'json') ctx.out(JSON.stringify(event));
          else if (flags.output === 'yaml') ctx.stdout.write(`---\n${stringify(event, { lineWidth: 0 })}`);
          else ctx.out(formatEvent(name, event, ctx.palette));
        }
      } finally {
        interrupt?.dispose();
      }
    });
}

/** `2026-11-21T15:04:05Z  instance.exited  web-2  exited with code 1` (warnings yellow, errors red). */
export function formatEvent(service: string, event: ServiceEvent, palette: Palette): string {
  const time = event.time.replace(/\.\d+Z$/, 'Z');
  const who = event.slot !== undefined ? `${service}-${event.slot}` : service;
  const colour = event.severity === 'error' ? palette.red : event.severity === 'warning' ? palette.yellow : (t: string): string => t;
  return `${palette.dim(time)}  ${colour(event.type.padEnd(26))}  ${who.padEnd(service.length + 3)}  ${event.message}`;
}
