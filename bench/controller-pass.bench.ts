/**
 * The service controller's passes at scale, in one process, without etcd or HTTP: an in-memory store,
 * BENCH_NODES simulated nodes (default 100), one apply of a service of BENCH_INSTANCES replicas
 * (default 10,000), then every instance reported starting, then running, one node's instances per
 * report, each report in its own macrotask (as agents' reports come in over HTTP). Measured: how many
 * passes ran, their durations, and the CPU they took in all.
 *
 * Peer: the same controller without pacing (`paceFromMs: Infinity`: one pass per report, as before
 * PACE_FROM_MS), in the same run. Ratio = the paced controller's pass CPU / the unpaced one's.
 * Run: npm run bench -- controller-pass
 */
import { DEFAULT_SPEC_LIMITS, parseServiceSpec } from '../src/model/index.js';
import { openSqliteStore } from '../src/store/index.js';
import { ServiceController } from '../src/controllers/index.js';

const INSTANCES = Number(process.env.BENCH_INSTANCES ?? 10_000);
const NODES = Number(process.env.BENCH_NODES ?? 100);

interface Run {
  readonly createdMs: number;
  readonly createPasses: number;
  readonly reportedMs: number;
  readonly reportPasses: number;
  readonly passes: readonly number[];
  readonly running: number;
}

async function run(paceFromMs: number): Promise<Run> {
  const limits = { ...DEFAULT_SPEC_LIMITS, maxReplicas: Math.max(INSTANCES, 1000) };
  const store = openSqliteStore(':memory:');
  const now = new Date().toISOString();
  for (let i = 0; i < NODES; i++) store.upsertNode({ name: `sim-${i}`, address: `10.1.${i >> 8}.${(i & 255) + 1}`, drivers: ['process'], ready: true, heartbeatAt: now });
  const controller = new ServiceController({ store, limits, instanceRange: '127.64.0.0/10', paceFromMs });
  const passes: number[] = [];
  // Each pass's synchronous part (plan and write), which is all of its CPU.
  const target = controller as unknown as { reconcile: (key: string) => Promise<unknown> };
  const reconcile = target.reconcile.bind(controller);
  target.reconcile = (key) => {
    const t = performance.now();
    const r = reconcile(key);
    passes.push(performance.now() - t);
    return r;
  };
  controller.start();
  try {
    const t0 = performance.now();
    store.createService({ grid: 'default', spec: parseServiceSpec({ name: 'scale', replicas: INSTANCES, containers: [{ command: ['/bin/sleep', 'infinity'] }] }, { limits }), deploy: true });
    await controller.idle();
    const createdMs = performance.now() - t0;
    const createPasses = passes.length;
    const byNode = new Map<string, string[]>();
    for (const i of store.listInstances({ grid: 'default', service: 'scale' })) byNode.set(i.node, [...(byNode.get(i.node) ?? []), i.id]);
    const t1 = performance.now();
    for (const state of ['starting', 'running'] as const) {
      for (const ids of byNode.values()) {
        const at = new Date().toISOString();
        store.setInstanceStatuses(ids.map((id) => ({ id, status: state === 'running' ? { state, timestamp: at, message: 'running', startedAt: at } : { state, timestamp: at, message: 'starting' } })));
        await new Promise((r) => setImmediate(r));
      }
    }
    await controller.idle();
    return { createdMs, createPasses, reportedMs: performance.now() - t1, reportPasses: passes.length - createPasses, passes, running: store.getService('default', 'scale')?.status.runningInstances ?? 0 };
  } finally {
    await controller.stop();
    store.close();
  }
}

function describe(label: string, r: Run): number {
  const sorted = [...r.passes].sort((a, b) => a - b);
  const q = (x: number): string => (sorted[Math.min(sorted.length - 1, Math.floor(x * sorted.length))] ?? NaN).toFixed(1);
  const total = r.passes.reduce((a, b) => a + b, 0);
  console.log(`  ${label}: created in ${r.createdMs.toFixed(0)} ms (${r.createPasses} passes); ${2 * NODES} reports re-planned in ${r.reportedMs.toFixed(0)} ms (${r.reportPasses} passes); pass ms p50 ${q(0.5)}, p90 ${q(0.9)}, max ${q(1)}; pass CPU ${total.toFixed(0)} ms; ${r.running}/${INSTANCES} running`);
  return total;
}

console.log(`controller passes: ${INSTANCES} instances over ${NODES} nodes (in-memory store, no etcd), ${2 * NODES} status reports`);
const paced = describe('paced (PACE_FROM_MS)', await run(10));
const unpaced = describe('unpaced (one pass per report)', await run(Infinity));
console.log(`  ratio of pass CPU, paced / unpaced: ${(paced / unpaced).toFixed(2)}×`);
