import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import type { BerthClient } from '../../src/client/index.js';
import { BerthApiError } from '../../src/client/index.js';
import type { Instance, Service } from '../../src/model/index.js';
import { isTerminal } from '../../src/model/index.js';
import type { RunningBerth } from './harness.js';
import { startBerth, tempDir, waitFor } from './harness.js';
import { launchedProcesses } from './recovery-procs.js';

/*
 * Issue #9 §2: the server is SIGKILLed at random points while several writers create, update, scale
 * and delete services through the client; after each restart and at the end, /proc must show that
 * every process berth launched is tracked by exactly one live instance or gone, no instance id runs
 * twice, no slot holds two instances, and no acknowledged write was lost; once every service is
 * removed, nothing berth launched is left.
 */

const GRID = 'default';
const WRITERS = 4;
const KILLS = 22;
const MARK = 'BERTH_CRASH_TEST';

/** What a writer knows a service to be: created with `replicas` and `tag`, removed, or never created. */
type Known = { readonly kind: 'present'; readonly replicas: number; readonly tag: string } | { readonly kind: 'removed' };

interface Ledger {
  /** The states the service may be in: the last acknowledged one plus unacknowledged attempts since. */
  possible: Known[];
}

const spec = (name: string, replicas: number, tag: string, dataDir: string) => ({
  name,
  replicas,
  containers: [{ command: ['sleep', '100000'], env: { [MARK]: dataDir, TAG: tag }, stopGracePeriod: '1s' }],
  restartPolicy: { delay: '0.2s' },
});

function observed(service: Service | undefined): Known {
  if (!service || service.desired === 'removing') return { kind: 'removed' };
  const env = service.spec.containers[0]?.env ?? [];
  const tag = (Array.isArray(env) ? (env.find((e: { name: string }) => e.name === 'TAG') as { value?: string } | undefined)?.value : (env as Record<string, string>).TAG) ?? '';
  return { kind: 'present', replicas: service.spec.replicas, tag };
}

const same = (a: Known, b: Known): boolean => JSON.stringify(a) === JSON.stringify(b);

/** A 4xx answer: the server refused the write, so nothing changed. Anything else may have been applied. */
const refused = (e: unknown): boolean => e instanceof BerthApiError && e.status >= 400 && e.status < 500;

describe('exact adoption across crashes', () => {
  it(`${KILLS} SIGKILLs under concurrent creates, updates, scales and deletes: no leaked process, no duplicate, no lost acknowledged write`, { timeout: 300_000 }, async () => {
    const dataDir = tempDir('berth-crash-');
    const range = '127.11.57.0/24';
    const startedAt = Date.now();
    let berth: RunningBerth = await startBerth({ dataDir, instanceRange: range });
    let generation = 0;
    let up: Promise<void> = Promise.resolve();
    const ledgers = new Map<string, Ledger>();
    const lost: string[] = [];
    const duplicates: string[] = [];
    let acked = 0;
    let unacked = 0;
    let stopping = false;
    const client = (): BerthClient => berth.client;

    /** Checks each of the writer's services against what it may be, then pins it to what it is. */
    async function verify(names: readonly string[]): Promise<void> {
      for (const name of names) {
        const ledger = ledgers.get(name);
        if (!ledger) continue;
        const svc = await client().getService(GRID, name).catch((e: unknown) => {
          if (e instanceof BerthApiError && e.status === 404) return undefined;
          throw e;
        });
        const now = observed(svc);
        if (!ledger.possible.some((p) => same(p, now))) lost.push(`${name}: ${JSON.stringify(now)} is none of ${JSON.stringify(ledger.possible)}`);
        ledger.possible = [now];
      }
    }

    async function writer(w: number): Promise<void> {
      const mine: string[] = [];
      let seen = generation;
      let next = 0;
      const rnd = (n: number): number => Math.floor(Math.random() * n);
      while (!stopping) {
        try {
          if (seen !== generation) {
            seen = generation;
            await verify(mine);
          }
          const live = mine.filter((n) => ledgers.get(n)?.possible.some((p) => p.kind === 'present'));
          let name: string;
          let target: Known;
          let write: () => Promise<unknown>;
          if (live.length < 2) {
            name = `w${w}-${next++}`;
            mine.push(name);
            ledgers.set(name, { possible: [{ kind: 'removed' }] });
            target = { kind: 'present', replicas: 1 + rnd(3), tag: `t${rnd(1e6)}` };
            const t = target;
            write = () => client().createService(GRID, spec(name, t.replicas, t.tag, dataDir), { deploy: true });
          } else {
            name = live[rnd(live.length)] as string;
            const current = ledgers.get(name)?.possible.find((p) => p.kind === 'present');
            if (current?.kind !== 'present') continue;
            const dice = rnd(10);
            if (dice < 4) {
              target = { ...current, tag: `t${rnd(1e6)}` };
              const t = target;
              write = () => client().updateService(GRID, name, spec(name, t.replicas, t.tag, dataDir), { deploy: true });
            } else if (dice < 8) {
              target = { ...current, replicas: 1 + rnd(3) };
              const t = target;
              write = () => client().scale(GRID, name, t.replicas);
            } else {
              target = { kind: 'removed' };
              write = () => client().removeService(GRID, name);
            }
          }
          const ledger = ledgers.get(name) as Ledger;
          try {
            await write();
            ledger.possible = [target];
            acked++;
          } catch (e) {
            if (refused(e)) throw e;
            ledger.possible = [...ledger.possible.filter((p) => !same(p, target)), target];
            unacked++;
            await up;
          }
          await new Promise((r) => setTimeout(r, 20 + rnd(60)));
        } catch (e) {
          if (refused(e)) throw new Error(`writer ${w}: the server refused a write it should take: ${(e as Error).message}`);
          await up; // the server died under a read
        }
      }
    }

    /** Live processes of the data directory: no instance id may run twice. */
    function checkNoDuplicates(when: string): void {
      const seen = new Map<string, number>();
      for (const c of launchedProcesses(dataDir, { name: MARK, value: dataDir }).containers) {
        const key = `${c.instance}/${c.container}`;
        if (seen.has(key)) duplicates.push(`${when}: ${key} runs twice (pids ${seen.get(key)} and ${c.pid})`);
        seen.set(key, c.pid);
      }
    }

    const restartMs: number[] = [];
    const phases: string[] = [];
    const mark = (phase: string): void => void phases.push(`${phase} ${Date.now() - startedAt} ms`);
    const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));
    try {
      for (let k = 0; k < KILLS; k++) {
        // Each kill lands while the writers are busy: after a few writes went through this server (a
        // loaded machine restarts slowly), then at a random moment.
        const before = acked;
        await waitFor('writes through the restarted server', () => acked - before >= 3, { timeoutMs: 20_000, intervalMs: 5 }).catch(() => undefined);
        await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 400)));
        let release!: () => void;
        up = new Promise<void>((r) => (release = r));
        await berth.kill();
        checkNoDuplicates(`after kill ${k + 1}`);
        const t0 = Date.now();
        berth = await startBerth({ dataDir, instanceRange: range });
        restartMs.push(Date.now() - t0);
        generation++;
        release();
      }
      stopping = true;
      await Promise.all(writers);
      mark('kills done');
      generation++;
      const names = [...ledgers.keys()];
      await verify(names);
      assert.ok(acked >= 3 * KILLS, `the writers got writes through between the kills (${acked} acknowledged, ${unacked} not)`);

      // Converged: every present service runs its replicas (or the wait ends, and the checks say why).
      const present = names.filter((n) => ledgers.get(n)?.possible[0]?.kind === 'present');
      const instancesOf = async (): Promise<Map<string, Instance[]>> => {
        const all = new Map<string, Instance[]>();
        for (const svc of await client().listServices(GRID)) all.set(svc.name, await client().listInstances(GRID, svc.name));
        return all;
      };
      const isConverged = (all: Map<string, Instance[]>): boolean => {
        for (const name of present) {
          const want = (ledgers.get(name)?.possible[0] as { replicas: number }).replicas;
          const live = (all.get(name) ?? []).filter((i) => !isTerminal(i.status.state));
          if (live.length !== want || live.some((i) => i.status.state !== 'running' || i.desiredState !== 'running')) return false;
        }
        for (const [name, list] of all) if (!present.includes(name) && list.some((i) => !isTerminal(i.status.state))) return false;
        return true;
      };
      const converged = await waitFor('every service running its replicas', async () => {
        const all = await instancesOf();
        return isConverged(all) ? all : undefined;
      }, { timeoutMs: 40_000, intervalMs: 200 }).catch(() => instancesOf());
      mark('converged');
      checkNoDuplicates('at the end');

      // Every launched process is tracked by exactly one live instance (its recorded pid), or gone.
      const trackers = new Map<number, string[]>();
      const twoInSlot: string[] = [];
      for (const [name, list] of converged) {
        const live = list.filter((i) => !isTerminal(i.status.state));
        const slots = live.map((i) => i.slot);
        if (new Set(slots).size !== slots.length) twoInSlot.push(`${name}: slots ${slots.join(',')}`);
        for (const i of live) for (const c of i.status.containers ?? []) if (c.pid !== undefined) trackers.set(c.pid, [...(trackers.get(c.pid) ?? []), i.id]);
      }
      const procs = launchedProcesses(dataDir, { name: MARK, value: dataDir });
      const untracked = procs.containers
        .filter((c) => trackers.get(c.pid)?.length !== 1 || trackers.get(c.pid)?.[0] !== c.instance)
        .map((c) => `pid ${c.pid} of ${c.instance}: tracked by [${(trackers.get(c.pid) ?? []).join(', ')}]`);
      const containerParents = new Set(procs.containers.map((c) => c.ppid));
      const strayShims = procs.shims.filter((s) => s.ppid !== berth.proc.pid && !containerParents.has(s.pid)).map((s) => `shim ${s.pid}`);

      // Removing every service leaves nothing berth launched.
      await Promise.all(present.map((n) => client().removeService(GRID, n).catch(() => undefined)));
      await waitFor('every service removed', async () => (await client().listServices(GRID)).length === 0, { timeoutMs: 30_000, intervalMs: 200 }).catch(() => undefined);
      const leftovers = (): string[] => {
        const p = launchedProcesses(dataDir, { name: MARK, value: dataDir });
        return [...p.containers.map((c) => `container ${c.pid} of ${c.instance}`), ...p.shims.filter((s) => s.ppid !== berth.proc.pid).map((s) => `shim ${s.pid}`)];
      };
      mark('removed');
      await waitFor('nothing berth launched is left', () => leftovers().length === 0, { timeoutMs: 10_000, intervalMs: 100 }).catch(() => undefined);

      assert.deepEqual(
        { lost, duplicates, twoInSlot, untracked, strayShims, converged: isConverged(converged), afterRemoval: leftovers() },
        { lost: [], duplicates: [], twoInSlot: [], untracked: [], strayShims: [], converged: true, afterRemoval: [] },
        'no acknowledged write lost, no instance id twice, no slot twice, every process tracked, nothing left after removal',
      );
      const elapsed = Date.now() - startedAt;
      const sorted = [...restartMs].sort((a, b) => a - b);
      console.log(`crash test: ${KILLS} kills, ${acked} acknowledged and ${unacked} unacknowledged writes, ${names.length} services, ${elapsed} ms; restarts median ${sorted[sorted.length >> 1]} ms, max ${sorted.at(-1)} ms; ${phases.join(', ')}`);
    } finally {
      stopping = true;
      await Promise.allSettled(writers);
      await berth.stop();
      // Whatever berth leaked is ours to end (this test started it), by pid.
      for (const c of launchedProcesses(dataDir, { name: MARK, value: dataDir }).containers) {
        try {
          process.kill(c.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      // Their shims write the exit files as they end.
      await waitFor('the shims ended', () => launchedProcesses(dataDir, { name: MARK, value: dataDir }).shims.length === 0, { timeoutMs: 5_000 }).catch(() => undefined);
      rmSync(dataDir, { recursive: true, force: true, maxRetries: 5 });
    }
  });
});
