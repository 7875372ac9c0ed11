/**
 * The store backend, issue 13 "Performance": writes/s and watch latency of the etcd backend (EtcdKv)
 * against raw etcd3 client calls in the same run (goal ≥ 0.8×), and against the SQLite backend (SqliteKv
 * on a file, WAL) — side by side, on one etcd 3.4 member started by test/etcd-harness.ts on loopback.
 *
 * - writes/s, one at a time (latency-bound) and 32 in flight: raw `etcd3.put(key).value(v)` vs
 *   `EtcdKv.put` (a plain Put); and compare-and-set: raw `etcd3.if(key, 'Mod', '==', rev).then(put).commit()`
 *   vs `EtcdKv.put` with ifModRevision (a Txn with a get in its failure branch), one writer per key
 *   vs `SqliteKv.put`. After a warm-up, each side runs three times (every other round in reverse order) and keeps its best run (the machine is shared: single runs vary by ±30 %).
 * - watch latency: a writer puts one key at a time with its send time; the watcher's delivery time
 *   minus the send time, p50 and p99, over WATCH_WRITES writes, two rounds (the second reversed),
 *   the round with the lower p50 kept: raw etcd3 Watcher vs EtcdKv.watch vs
 *   SqliteKv.watch. Both etcd watches see the same writer (raw puts), so the figure is the watch path's own.
 *
 * Needs: /usr/bin/etcd (apt-get install etcd-server).
 * Run: npm run bench -- store-backend   (or node --import tsx bench/store-backend.bench.ts; BENCH_SECONDS=1 for a quick look)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { EtcdKv, SqliteKv } from '../src/store/backend/index.js';
import type { KvBackend } from '../src/store/backend/index.js';
import { startEtcd } from '../test/etcd-harness.js';
import { lpad, pad } from './bench-tools.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const ROUNDS = 3;
const WATCH_WRITES = Number(process.env.BENCH_WATCH_WRITES ?? 500);
const VALUE = JSON.stringify({ kind: 'instance', spec: { image: 'nginx:1.27', ports: [80, 443], env: { A: 'x'.repeat(200) } } });

/** Runs `op` with `concurrency` in flight for `seconds`; returns operations per second. */
async function rate(op: (i: number) => Promise<unknown>, concurrency: number, seconds: number): Promise<number> {
  let next = 0;
  let done = 0;
  const end = Date.now() + seconds * 1000;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        await op(next++);
        done++;
      }
    }),
  );
  return done / (Number(process.hrtime.bigint() - started) / 1e9);
}

type Latencies = { p50: number; p99: number };

function percentiles(ms: number[]): Latencies {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
  return { p50: at(0.5), p99: at(0.99) };
}

/** Writes WATCH_WRITES keys one at a time with their send time; `subscribe` gets a callback per delivered key. */
async function watchLatency(write: (key: string, value: string) => Promise<unknown>, subscribe: (onDelivered: (value: string) => void) => Promise<() => Promise<void> | void>): Promise<Latencies> {
  const ms: number[] = [];
  let waiting: (() => void) | undefined;
  const stop = await subscribe((value) => {
    const sent = Number((JSON.parse(value) as { sent: string }).sent);
    ms.push(Number(process.hrtime.bigint() - BigInt(sent)) / 1e6);
    waiting?.();
  });
  for (let i = 0; i < WATCH_WRITES; i++) {
    const delivered = new Promise<void>((resolve) => (waiting = resolve));
    await write(`/bench/watch/${i % 100}`, JSON.stringify({ sent: String(process.hrtime.bigint()), pad: VALUE }));
    await delivered;
  }
  await stop();
  return percentiles(ms);
}

function kvWatch(kv: KvBackend) {
  return async (onDelivered: (value: string) => void) => {
    const rev = await kv.revision();
    const handle = kv.watch('/bench/watch/', rev, { events: (events) => events.forEach((e) => onDelivered(e.kv.value)), compacted: () => {} });
    await new Promise((r) => setTimeout(r, 200)); // the watch stream is up
    return () => handle.dispose();
  };
}

async function main(): Promise<void> {
  const cluster = await startEtcd({ members: 1, portBase: 23900 });
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-kv-'));
  const raw = new Etcd3({ hosts: [...cluster.endpoints] });
  const etcdKv = new EtcdKv({ endpoints: cluster.endpoints });
  const sqliteKv = new SqliteKv({ path: join(dir, 'kv.db') });
  try {
    await raw.put('/bench/warm').value('1');
    await etcdKv.put('/bench/warm', '1');
    const cas = new Map<string, number>();
    const rawCas = new Map<string, number>();
    const sides: [string, (i: number) => Promise<unknown>][] = [
      ['raw etcd3 put', (i) => raw.put(`/bench/raw/${i % 1000}`).value(VALUE).exec()],
      ['EtcdKv.put', (i) => etcdKv.put(`/bench/kv/${i % 1000}`, VALUE)],
      [
        'raw etcd3 CAS',
        async (i) => {
          const key = `/bench/rawcas/${i % 1000}`;
          const r = await raw.if(key, 'Mod', '==', rawCas.get(key) ?? 0).then(raw.put(key).value(VALUE)).commit();
          if (!r.succeeded) throw new Error(`unexpected CAS conflict on ${key}`);
          rawCas.set(key, Number(r.header.revision));
        },
      ],
      [
        'EtcdKv.put CAS',
        async (i) => {
          const key = `/bench/cas/${i % 1000}`;
          const r = await etcdKv.put(key, VALUE, { ifModRevision: cas.get(key) ?? 0 });
          if (!r.ok) throw new Error(`unexpected CAS conflict on ${key}`);
          cas.set(key, r.revision);
        },
      ],
      ['SqliteKv.put', (i) => sqliteKv.put(`/bench/sqlite/${i % 1000}`, VALUE)],
    ];
    const results = new Map<string, number[]>();
    for (const [, op] of sides) await rate(op, 8, 0.5); // warm-up: connections, JIT, etcd's caches
    for (const concurrency of [1, 32]) {
      for (let round = 0; round < ROUNDS; round++) {
        for (const [name, op] of round % 2 === 0 ? sides : [...sides].reverse()) {
          if (name.includes('CAS') && concurrency > 1) continue; // one writer per key: CAS keys would conflict across workers
          const r = await rate(op, concurrency, SECONDS);
          const k = `${name}@${concurrency}`;
          results.set(k, [...(results.get(k) ?? []), r]);
        }
      }
    }
    const best = (k: string): number => Math.max(...(results.get(k) ?? [NaN]));
    console.log(`\nwrites/s (${SECONDS} s per run, best of ${ROUNDS}; value ${VALUE.length} bytes)`);
    console.log(`${pad('', 18)}${lpad('1 in flight', 14)}${lpad('32 in flight', 14)}`);
    for (const [name] of sides) console.log(`${pad(name, 18)}${lpad(best(`${name}@1`).toFixed(0), 14)}${lpad(name.includes('CAS') ? '—' : best(`${name}@32`).toFixed(0), 14)}`);
    for (const c of [1, 32]) {
      const ratio = best(`EtcdKv.put@${c}`) / best(`raw etcd3 put@${c}`);
      console.log(`ratio EtcdKv / raw etcd3, ${c} in flight: ${ratio.toFixed(2)}× (goal ≥ 0.8×) ${ratio >= 0.8 ? 'MET' : 'NOT MET'}`);
    }
    const casRatio = best('EtcdKv.put CAS@1') / best('raw etcd3 CAS@1');
    console.log(`ratio EtcdKv CAS / raw etcd3 CAS (if().then().commit()), 1 in flight: ${casRatio.toFixed(2)}× (goal ≥ 0.8×) ${casRatio >= 0.8 ? 'MET' : 'NOT MET'}`);
    for (const c of [1, 32]) console.log(`ratio SqliteKv / EtcdKv, ${c} in flight: ${(best(`SqliteKv.put@${c}`) / best(`EtcdKv.put@${c}`)).toFixed(1)}×`);

    const watchSides: [string, () => Promise<Latencies>][] = [
      [
        'raw etcd3 watch',
        () =>
          watchLatency(
            (k, v) => raw.put(k).value(v).exec(),
            async (onDelivered) => {
              const w = await raw.watch().prefix('/bench/watch/').create();
              w.on('put', (kv) => onDelivered(kv.value.toString()));
              return () => w.cancel();
            },
          ),
      ],
      // The same writer (raw etcd3 put) for both etcd watches: the figure is the watch path's own.
      ['EtcdKv.watch', () => watchLatency((k, v) => raw.put(k).value(v).exec(), kvWatch(etcdKv))],
      ['SqliteKv.watch', () => watchLatency((k, v) => sqliteKv.put(k, v), kvWatch(sqliteKv))],
    ];
    const lat = new Map<string, Latencies>();
    for (let round = 0; round < 2; round++) {
      for (const [name, run] of round === 0 ? watchSides : [...watchSides].reverse()) {
        const l = await run();
        const had = lat.get(name);
        if (!had || l.p50 < had.p50) lat.set(name, l);
      }
    }
    const rawWatch = lat.get('raw etcd3 watch') as Latencies;
    const kvLat = lat.get('EtcdKv.watch') as Latencies;
    console.log(`\nwatch latency, put → listener (${WATCH_WRITES} writes one at a time, the round with the lower p50 of 2), ms`);
    console.log(`${pad('', 18)}${lpad('p50', 10)}${lpad('p99', 10)}`);
    for (const [name] of watchSides) {
      const l = lat.get(name) as Latencies;
      console.log(`${pad(name, 18)}${lpad(l.p50.toFixed(2), 10)}${lpad(l.p99.toFixed(2), 10)}`);
    }
    const lratio = rawWatch.p50 / kvLat.p50;
    console.log(`ratio raw etcd3 / EtcdKv watch latency p50 (higher is better for EtcdKv): ${lratio.toFixed(2)}× (goal ≥ 0.8×) ${lratio >= 0.8 ? 'MET' : 'NOT MET'}`);
  } finally {
    raw.close();
    await etcdKv.close();
    await sqliteKv.close();
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
