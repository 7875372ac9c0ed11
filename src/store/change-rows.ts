import type { RowChange } from './row-capture.js';

/*
 * The change history (`changes`: revision, kind, op, key, json) repeats, in `json`, the row its change
 * wrote: an instance put is its `instances` row and its `changes` row, the same 1–2 KB of JSON twice.
 * Replicated through etcd, that doubled the bytes of every write (bench/control-plane-scale). So the
 * leader leaves `json` out of a `changes` put when the same commit carries the row it describes, at that
 * very revision and text; a replica takes it back from that row (`fillChangeJson`).
 *
 * A replica that loads at a revision sees some history rows whose row changed since (the row holds a
 * later version): those cannot be filled. They are left out, and the replica's history starts after
 * the newest of them (a watch resuming before it is told to list again, as after a compaction).
 */

export const CHANGES_TABLE = 'changes';

interface ChangeRowShape {
  readonly revision: number;
  readonly kind: string;
  readonly op: string;
  readonly key: string;
  readonly json?: string;
}

/** The row a history put describes: its table, primary key, and the column that holds its revision. */
function targetOf(change: ChangeRowShape): { table: string; key: (string | number)[]; revisionColumn: string } | undefined {
  if (change.op !== 'put') return undefined;
  switch (change.kind) {
    case 'instance':
      return { table: 'instances', key: [change.key], revisionColumn: 'mod_revision' };
    case 'node':
      return { table: 'nodes', key: [change.key], revisionColumn: 'mod_revision' };
    case 'service': {
      const slash = change.key.indexOf('/');
      return slash > 0 ? { table: 'services', key: [change.key.slice(0, slash), change.key.slice(slash + 1)], revisionColumn: 'mod_revision' } : undefined;
    }
    case 'event':
      // An event's id is the revision it was recorded at; events never change.
      return { table: 'events', key: [change.revision], revisionColumn: 'id' };
    default:
      return undefined;
  }
}

/** A lookup key for a row of `table` with primary key `key`. */
export function tableRowKey(table: string, key: readonly (string | number)[]): string {
  return `${table}/${JSON.stringify(key)}`;
}

/**
 * The history row as the leader sends it: without `json` when `rowOf` (the same commit's rows) holds
 * the row it describes at the same revision with the same text; as it is otherwise.
 */
export function withoutDerivableJson(row: Readonly<Record<string, unknown>>, rowOf: (table: string, key: readonly (string | number)[]) => Readonly<Record<string, unknown>> | null | undefined): Readonly<Record<string, unknown>> {
  const change = row as unknown as ChangeRowShape;
  const target = targetOf(change);
  if (!target || typeof change.json !== 'string') return row;
  const described = rowOf(target.table, target.key);
  if (!described || described[target.revisionColumn] !== change.revision || described['json'] !== change.json) return row;
  const { json: _json, ...rest } = row;
  return rest;
}

/**
 * A replica's side: every history put without `json` gets it back from the row of the same batch it
 * describes. Returns the batch to apply (history rows that cannot be filled left out) and the newest
 * revision left out (0: none), below which this replica's history is incomplete.
 */
export function fillChangeJson(changes: readonly RowChange[]): { rows: RowChange[]; unfilledUpTo: number } {
  let rows: Map<string, Readonly<Record<string, unknown>>> | undefined;
  const out: RowChange[] = [];
  let unfilledUpTo = 0;
  for (const c of changes) {
    if (c.table !== CHANGES_TABLE || c.row === null || typeof c.row['json'] === 'string') {
      out.push(c);
      continue;
    }
    const change = c.row as unknown as ChangeRowShape;
    const target = targetOf(change);
    if (!rows) {
      rows = new Map();
      for (const r of changes) if (r.row !== null && r.table !== CHANGES_TABLE) rows.set(tableRowKey(r.table, r.key), r.row);
    }
    const described = target ? rows.get(tableRowKey(target.table, target.key)) : undefined;
    if (target && described && described[target.revisionColumn] === change.revision && typeof described['json'] === 'string') {
      out.push({ ...c, row: { ...c.row, json: described['json'] } });
    } else {
      unfilledUpTo = Math.max(unfilledUpTo, Number(change.revision));
    }
  }
  return { rows: out, unfilledUpTo };
}
