import { historyPrefix } from './history-ring.js';

/** The keys of the store in etcd (docs/control-plane.md, "The store on etcd"): one per row, the commit marker, the history ring. */
export interface ReplicaKeys {
  readonly rows: string;
  readonly commit: string;
  /** The history ring (history-ring.ts). */
  readonly history: string;
}

export function replicaKeys(prefix: string): ReplicaKeys {
  return { rows: `${prefix}rows/`, commit: `${prefix}commit`, history: historyPrefix(prefix) };
}

export function rowKey(keys: ReplicaKeys, change: { readonly table: string; readonly key: readonly (string | number)[] }): string {
  return `${keys.rows}${change.table}/${JSON.stringify(change.key)}`;
}

export function parseRowKey(keys: ReplicaKeys, key: string): { table: string; key: (string | number)[] } | undefined {
  const rest = key.slice(keys.rows.length);
  const slash = rest.indexOf('/');
  if (slash <= 0) return undefined;
  try {
    const parsed = JSON.parse(rest.slice(slash + 1)) as unknown;
    return Array.isArray(parsed) ? { table: rest.slice(0, slash), key: parsed as (string | number)[] } : undefined;
  } catch {
    return undefined;
  }
}
