/**
 * The berth side of the rollout, failover and zero-downtime benches: a real `berth server` (the built
 * binary, as the e2e tests start it) on its own address ranges, the programs it runs, and waiting for
 * a rollout's update status (service.status.update, written by the controller).
 *
 * Ranges: each bench passes its own instance range in 127.11.60–69.0/24; the harness derives the
 * service range (127.97.K.0/24) and node ports (31000 + 20·K …) from it, so a bench never shares
 * an address with the tests other people run at the same time.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BerthClient } from '../src/client/index.js';
import type { Instance, ServiceEvent, UpdateStatus } from '../src/model/index.js';
import { ROOT, cleanup, startBerth, type RunningBerth } from '../test/e2e/harness.js';

export { cleanup, type RunningBerth };

export const GRID = 'default';
/** bench/tiny-http.c: answers every request with "ok"; starts in about a millisecond. */
export const TINY_HTTP = join(ROOT, 'build', 'tiny-http');
/** bench/slow-http.mjs: 200–500 ms per request, /healthz at once. */
export const SLOW_HTTP = join(ROOT, 'bench', 'slow-http.mjs');

/** Compiles bench/tiny-http.c into build/tiny-http when it is not there (as the converge bench does). */
export function buildTinyHttp(): string {
  if (!existsSync(TINY_HTTP)) {
    mkdirSync(join(ROOT, 'build'), { recursive: true });
    execFileSync(process.env.CC || 'cc', ['-O2', '-o', TINY_HTTP, join(ROOT, 'bench', 'tiny-http.c')]);
  }
  return TINY_HTTP;
}

/** A service of `replicas` bench/tiny-http.c instances with a readiness probe (httpGet /, period 1 s) and a 1 s restart delay. */
export function tinyHttpSpec(name: string, replicas: number) {
  return {
    name,
    replicas,
    containers: [
      {
        command: [buildTinyHttp()],
        env: { BIND: '$(BERTH_INSTANCE_IP)' },
        ports: [{ containerPort: 8080 }],
        readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 },
      },
    ],
    restartPolicy: { delay: '1s' },
  };
}

/** Starts `berth server` with the bench's instance range (one of 127.11.60–69.0/24). */
export function startBenchBerth(instanceRange: string): Promise<RunningBerth> {
  if (!/^127\.11\.6\d\.0\/24$/.test(instanceRange)) throw new Error(`bench instance ranges are 127.11.60–69.0/24, not ${instanceRange}`);
  return startBerth({ instanceRange });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Polls GET …/services/NAME every `intervalMs` until the rollout of the deployment requested at
 * `requestedAt` is `completed`; returns when the poll saw it (performance.now()) and the status.
 * @throws Error when it pauses or rolls back (with the controller's message), or after `timeoutMs`.
 */
export async function waitRollout(client: BerthClient, name: string, requestedAt: string, options: { timeoutMs?: number; intervalMs?: number } = {}): Promise<{ at: number; update: UpdateStatus }> {
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  let last: UpdateStatus | undefined;
  for (;;) {
    const svc = await client.getService(GRID, name);
    const update = svc.status.update;
    if (update && update.requestedAt === requestedAt) {
      last = update;
      if (update.state === 'completed') return { at: performance.now(), update };
      if (update.state !== 'updating') throw new Error(`rollout of ${name}: ${update.state}: ${update.message}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`rollout of ${name} not completed after ${options.timeoutMs ?? 120_000} ms (${last ? `${last.state}, ${last.updatedInstances}/${last.totalInstances}: ${last.message}` : 'no update status for this deploy yet'})`);
    }
    await sleep(options.intervalMs ?? 20);
  }
}

/** Waits until `n` instances of the service are ready in its endpoints (and no other is listed). */
export async function waitReadyEndpoints(client: BerthClient, name: string, n: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const eps = (await client.endpoints(GRID, name)).endpoints;
    if (eps.length === n && eps.every((e) => e.ready)) return;
    if (Date.now() > deadline) throw new Error(`${name}: ${eps.filter((e) => e.ready).length} ready of ${eps.length} endpoints after ${timeoutMs} ms (want ${n})`);
    await sleep(20);
  }
}

/** Waits until exactly `n` instances are active (a scale-down's stopped instances have ended). */
export async function waitActive(client: BerthClient, name: string, n: number, timeoutMs = 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const active = await client.listInstances(GRID, name, { active: true });
    if (active.length === n && active.every((i) => i.status.state === 'running')) return performance.now();
    if (Date.now() > deadline) throw new Error(`${name}: ${active.length} active instances after ${timeoutMs} ms (want ${n})`);
    await sleep(20);
  }
}

/** Where the time an instance became ready comes from: its health (probes), an event, or its start. */
export type ReadySource = 'health.readySince' | 'instance.ready event' | 'status.startedAt (no probe result)';

/**
 * From created to ready, in ms: `health.readySince` (set by the agent's readiness probe) when there
 * is one, else the `instance.ready` event, else the instance's start (berth without probes counts an
 * instance ready once it runs).
 */
export function createdToReady(i: Instance, events: readonly ServiceEvent[]): { ms: number; source: ReadySource } | undefined {
  const created = Date.parse(i.createdAt);
  const since = i.status.health?.readySince;
  if (since !== undefined) return { ms: Date.parse(since) - created, source: 'health.readySince' };
  const ev = events.find((e) => e.type === 'instance.ready' && e.instance === i.id);
  if (ev) return { ms: Date.parse(ev.time) - created, source: 'instance.ready event' };
  if (i.status.startedAt !== undefined) return { ms: Date.parse(i.status.startedAt) - created, source: 'status.startedAt (no probe result)' };
  return undefined;
}

/** The service's whole event history (not followed). */
export async function allEvents(client: BerthClient, name: string): Promise<ServiceEvent[]> {
  const out: ServiceEvent[] = [];
  for await (const e of client.events(GRID, name)) out.push(e);
  return out;
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

export const ms = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(0)} ms` : 'n/a');
export const secs = (x: number): string => (Number.isFinite(x) ? `${(x / 1000).toFixed(2)} s` : 'n/a');
