/**
 * The service controller's passes at scale, in one process, without etcd or HTTP: an in-memory store,
 * N simulated nodes, one apply of a service of BENCH_INSTANCES replicas (default 10,000), then every
 * instance reported starting and running in batches of one node's instances (as agents report them).
 * Prints how many passes ran, their durations (p50/max/total), and where a pass spends its time, to
 * find what bench/control-plane-scale.bench.ts's leader spends its CPU on.
 * Run: node --import tsx bench/controller-pass.bench.ts
 */
import { DEFAULT_SPEC_LIMITS, parseServiceSpec } from '../src/model/index.js';
import { openSqliteStore } from '../src/store/index.js';
import { ServiceController } from '../src/controllers/index.js';

const INSTANCES = Number(process.env.BENCH_INSTANCES ?? 10_000);
const NODES = Number(process.env.BENCH_NODES ?? 100);

const limits = { ...DEFAULT_SPEC_LIMITS, maxReplicas: Math.max(INSTANCES, 1000) };
const store = openSqliteStore(':memory:');
const now = new Date().toISOString();
for (let i = 0; i < NODES; i++) store.upsertNode({ name: `sim-${i}`, address: `10.1.${i >> 8}.${(i & 255) + 1}`, drivers: ['process'], ready: true, heartbeatAt: now });
const controller = new ServiceController({ store, limits, instanceRange: '127.64.0.0/10' });
const passes: number[] = [];
const target = controller as unknown as { reconcile: (key: string) => Promise<unknown> };
const reconcile = target.reconcile.bind(controller);
target.reconcile = async (key) => {
  const t = performance.now();
  const r = reconcile(key);
  passes.push(performance.now() - t);
  return r;
};
controller.start();
const t0 = performance.now();
store.createService({ grid: 'default', spec: parseServiceSpec({ name: 'scale', replicas: INSTANCES, containers: [{ command: ['/bin/sleep', 'infinity'] }] }, { limits }), deploy: true });
await controller.idle();
const created = performance.now() - t0;
const createPasses = passes.length;
const byNode = new Map<string, string[]>();
for (const i of store.listInstances({ grid: 'default', service: 'scale' })) byNode.set(i.node, [...(byNode.get(i.node) ?? []), i.id]);
const t1 = performance.now();
for (const state of ['starting', 'running'] as const) {
  for (const [node, ids] of byNode) {
    const at = new Date().toISOString();
    void node;
    store.setInstanceStatuses(ids.map((id) => ({ id, status: state === 'running' ? { state, timestamp: at, message: 'running', startedAt: at } : { state, timestamp: at, message: 'starting' } })));
    await new Promise((r) => setImmediate(r)); // one report per macrotask, as HTTP requests come
  }
}
await controller.idle();
const reported = performance.now() - t1;
const s = store.getService('default', 'scale');
const sorted = [...passes].sort((a, b) => a - b);
const q = (x: number): string => (sorted[Math.min(sorted.length - 1, Math.floor(x * sorted.length))] ?? NaN).toFixed(1);
console.log(`controller passes, ${INSTANCES} instances over ${NODES} nodes (in-memory store, no etcd)`);
console.log(`  created in ${created.toFixed(0)} ms (${createPasses} passes); statuses reported and re-planned in ${reported.toFixed(0)} ms (${passes.length - createPasses} passes)`);
console.log(`  pass ms: p50 ${q(0.5)}, p90 ${q(0.9)}, max ${q(1)}, total ${passes.reduce((a, b) => a + b, 0).toFixed(0)}; status ${s?.status.runningInstances}/${s?.status.desiredInstances} running`);
await controller.stop();
store.close();
