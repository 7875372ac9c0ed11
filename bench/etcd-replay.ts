/**
 * etcd's own rate for the control plane's writes (bench/control-plane-scale.bench.ts): the transactions
 * read back from etcd's history, and replayed with raw etcd3 calls.
 */
import { Etcd3 } from 'etcd3';

/** Ops per packed transaction (etcd's --max-txn-ops is 128). */
export const DENSE_OPS = 100;
/** The key root of the server's store (`--store etcd://…` default). */
const PREFIX = '/berth/';

/** One etcd transaction as the control plane made it. */
export interface Txn {
  readonly ops: { readonly del: boolean; readonly keyLen: number; readonly valueLen: number; readonly table: string }[];
}

/**
 * Every transaction etcd applied in (fromRev, toRev], from its history (the harness never compacts):
 * a watch from fromRev + 1 until the marker put at `endRev` (> toRev) arrives. Its own client, which
 * takes watch responses of any size (etcd sends a catching-up watcher many revisions per response).
 */
export async function history(endpoints: readonly string[], fromRev: number, toRev: number, endRev: number): Promise<Txn[]> {
  const client = new Etcd3({ hosts: [...endpoints], grpcOptions: { 'grpc.max_receive_message_length': -1 } });
  const byRev = new Map<number, Txn>();
  try {
    const watcher = await client.watch().prefix('/').startRevision(String(fromRev + 1)).create();
    await new Promise<void>((resolve, reject) => {
      watcher.on('error', reject);
      watcher.on('data', (res) => {
        for (const e of res.events) {
          const rev = Number(e.kv.mod_revision);
          if (rev >= endRev) resolve();
          if (rev > toRev) continue;
          let txn = byRev.get(rev);
          if (!txn) byRev.set(rev, (txn = { ops: [] }));
          const key = e.kv.key.toString();
          // Rows by their table; the history ring's keys as one (store/history-ring.ts); the rest by key.
          const table = key.startsWith(`${PREFIX}rows/`) ? (key.slice(PREFIX.length + 5).split('/')[0] as string) : key.startsWith(`${PREFIX}history/`) ? 'history ring' : key;
          txn.ops.push({ del: e.type === 'Delete', keyLen: e.kv.key.length, valueLen: e.kv.value.length, table });
        }
      });
    });
    await watcher.cancel();
  } finally {
    client.close();
  }
  return [...byRev.entries()].sort((a, b) => a[0] - b[0]).map(([, t]) => t);
}

/**
 * Replays transactions with raw etcd3 calls under `/bench-raw/<run>/`; returns ms. `inFlight` 1: one
 * at a time. More: as ReplicaWriter sends a group commit, up to `inFlight` at once, and a transaction
 * holding the commit marker only after all before it ended.
 */
export async function replay(raw: Etcd3, txns: readonly Txn[], run: string, inFlight = 1): Promise<number> {
  const fence = `/bench-raw/${run}/fence`;
  await raw.put(fence).value('1');
  let k = 0;
  const keyOf = (len: number): string => {
    const base = `/bench-raw/${run}/${k++}/`;
    return base.length >= len ? base : base + 'k'.repeat(len - base.length);
  };
  const values = new Map<number, string>();
  const valueOf = (len: number): string => {
    let v = values.get(len);
    if (v === undefined) values.set(len, (v = 'v'.repeat(len)));
    return v;
  };
  const send = async (txn: Txn): Promise<void> => {
    const ops = txn.ops.map((o) => (o.del ? raw.delete().key(keyOf(o.keyLen)) : raw.put(keyOf(o.keyLen)).value(valueOf(o.valueLen))));
    const r = await raw.if(fence, 'Version', '>', 0).then(...ops).commit();
    if (!r.succeeded) throw new Error('raw replay: the fence failed');
  };
  const t = performance.now();
  let group: Txn[] = [];
  const flushGroup = async (): Promise<void> => {
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < group.length) await send(group[next++] as Txn);
    };
    await Promise.all(Array.from({ length: Math.min(inFlight, group.length) }, lane));
    group = [];
  };
  for (const txn of txns) {
    if (inFlight > 1 && !txn.ops.some((o) => o.table === `${PREFIX}commit`)) {
      group.push(txn);
      continue;
    }
    await flushGroup();
    await send(txn);
  }
  await flushGroup();
  return performance.now() - t;
}

/** The same ops packed DENSE_OPS per transaction: the least time etcd needs for that many key writes. */
export function dense(txns: readonly Txn[]): Txn[] {
  const ops = txns.flatMap((t) => t.ops);
  const out: Txn[] = [];
  for (let i = 0; i < ops.length; i += DENSE_OPS) out.push({ ops: ops.slice(i, i + DENSE_OPS) });
  return out;
}

