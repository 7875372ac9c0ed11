import type { ExplanationReason, LogLine, Service, ServiceExplanation } from '../model/index.js';
import { explainService } from '../reconcile/index.js';
import type { RouteContext } from './route-context.js';

/** Events the explainer reads: the newest of the service (warnings since the deployment are what count). */
const EVENTS_READ = 200;
/** Log lines added per failed container, and how many instances get them. */
export const LAST_LOG_LINES = 5;
const INSTANCES_WITH_LOGS = 5;
/** A log read slower than this is left out of the evidence rather than delaying the answer. */
const LOG_READ_TIMEOUT_MS = 2000;

/** Lines read per instance before keeping its own last 5 (a telemetry may widen an instance to its slot's history). */
const LINES_READ = 50;

const WITH_LOGS: ReadonlySet<ExplanationReason['kind']> = new Set(['crashed', 'probe_failing', 'rejected']);

/**
 * The service's explanation (reconcile's explainService over its instances and recent events).
 * With `logLines`, the reasons about crashed, rejected or unhealthy instances get the last 5 lines
 * their containers wrote (`evidence.lastLogLines`), read through the telemetry; a read that fails or
 * takes longer than 2 s is left out.
 */
export async function explain(ctx: RouteContext, service: Service, options: { readonly logLines: boolean }): Promise<ServiceExplanation> {
  const explanation = explainNow(ctx, service);
  if (!options.logLines) return explanation;
  const ids = [...new Set(explanation.reasons.filter((r) => WITH_LOGS.has(r.kind) && r.instance !== undefined).map((r) => r.instance as string))].slice(0, INSTANCES_WITH_LOGS);
  const logs = new Map<string, string[]>();
  await Promise.all(
    ids.map(async (id) => {
      const instance = ctx.store.getInstance(id);
      if (!instance) return;
      const lines = await lastLines(ctx, instance).catch(() => undefined);
      if (lines && lines.length > 0) logs.set(id, lines);
    }),
  );
  return {
    ...explanation,
    reasons: explanation.reasons.map((r) => {
      const lines = r.instance === undefined ? undefined : logs.get(r.instance);
      return lines ? { ...r, evidence: { ...r.evidence, lastLogLines: lines } } : r;
    }),
  };
}

/** Without log lines: synchronous, cheap enough for every GET of a service. */
export function explainNow(ctx: RouteContext, service: Service): ServiceExplanation {
  const { grid, name } = service;
  const instances = ctx.store.listInstances({ grid, service: name });
  const events = ctx.store.listEvents({ grid, service: name, tail: EVENTS_READ });
  const downNodes = new Set(ctx.store.listNodes().filter((n) => !n.ready).map((n) => n.name));
  return explainService(service, instances, { events, now: ctx.clock.now(), downNodes });
}

async function lastLines(ctx: RouteContext, instance: Parameters<RouteContext['telemetry']['logs']>[0][number]): Promise<string[]> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), LOG_READ_TIMEOUT_MS);
  try {
    const out: LogLine[] = [];
    const read = (async () => {
      for await (const line of ctx.telemetry.logs([instance], { tail: LINES_READ, signal: abort.signal })) if (line.instance === instance.id) out.push(line);
    })();
    const aborted = new Promise<void>((resolve) => abort.signal.addEventListener('abort', () => resolve(), { once: true }));
    await Promise.race([read, aborted]);
    if (abort.signal.aborted) {
      void read.catch(() => undefined);
      return [];
    }
    return out.slice(-LAST_LOG_LINES).map((l) => l.text);
  } finally {
    clearTimeout(timer);
  }
}
