import type { TxnOp } from './backend/index.js';
import { CHANGES_TABLE } from './change-rows.js';
import type { RowChange } from './row-capture.js';

/*
 * The change history (`changes`: what a watch resumes from) is not kept in etcd row by row
 * (docs/control-plane.md, "The history"). Each group commit carries its history rows packed into a few
 * values under `<prefix>history/<slot>/<part>`, and the slots are a ring: commit N writes slot N mod
 * HISTORY_RING, over what was there, and deletes the parts a larger commit left in that slot. So etcd
 * holds the history of the last HISTORY_RING commits; trimming a server's own history is its business,
 * at the leader's `compacted`.
 *
 * - A follower gets every commit's history through its watch (etcd's watch delivers every revision of
 *   a key, overwritten or not) and applies it with the commit's rows.
 * - A server that loads (it starts, it takes the lead, its watch fell behind a compaction) reads the ring
 *   at the load's revision: it fills the history it missed if the ring still holds it; otherwise its
 *   history starts at the load (change-log.ts), and a watch from before it lists again.
 *
 * Before: a `changes` put and, at trimming, a `changes` delete per revision, two thirds of the etcd ops
 * of a 10,000-instance convergence (docs/benchmarks.md, "Control plane at scale").
 */

/** Group commits whose history etcd holds (the ring's slots). */
export const HISTORY_RING = 64;

/** Bytes of history per etcd value: well under etcd's 1.5 MiB request limit, so a part always fits a transaction. */
export const HISTORY_PART_BYTES = 256 * 1024;

/** Where the ring lives under the replication prefix. */
export function historyPrefix(prefix: string): string {
  return `${prefix}history/`;
}

/** The key prefix of ring slot `slot` (its parts are `<that>0`, `<that>1`, …). */
export function historySlotPrefix(prefix: string, slot: number): string {
  return `${historyPrefix(prefix)}${slot % HISTORY_RING}/`;
}

/**
 * The ops of one group commit's history rows (`changes` rows, oldest first) in ring slot `slot`: a put
 * per HISTORY_PART_BYTES (a larger row goes alone), numbered from 0, and a delete of each part from an
 * earlier, larger commit in the slot (`heldParts`: how many the slot holds), so that etcd never holds
 * more than the last HISTORY_RING commits' history.
 */
export function historyOps(prefix: string, slot: number, rows: readonly Readonly<Record<string, unknown>>[], heldParts = 0, partBytes = HISTORY_PART_BYTES): TxnOp[] {
  const ops: TxnOp[] = [];
  let part: string[] = [];
  let bytes = 0;
  const flush = (): void => {
    if (part.length === 0) return;
    ops.push({ op: 'put', key: `${historySlotPrefix(prefix, slot)}${ops.length}`, value: `[${part.join(',')}]` });
    part = [];
    bytes = 0;
  };
  for (const row of rows) {
    const text = JSON.stringify(row);
    if (bytes > 0 && bytes + text.length > partBytes) flush();
    part.push(text);
    bytes += text.length + 1;
  }
  flush();
  for (let n = ops.length; n < heldParts; n++) ops.push({ op: 'delete', key: `${historySlotPrefix(prefix, slot)}${n}` });
  return ops;
}

/**
 * The history rows a ring value holds, as the `changes` rows a replica applies. A value that is not a
 * list of rows with an integer revision (not berth's, or damaged) gives nothing: the replica then has a
 * hole in its history, which change-log.ts turns into "list again" for a watch from before it.
 */
export function historyRowsOf(value: string): RowChange[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  const rows: RowChange[] = [];
  for (const entry of parsed as unknown[]) {
    if (entry === null || typeof entry !== 'object') continue;
    const revision = (entry as { revision?: unknown }).revision;
    if (typeof revision !== 'number' || !Number.isSafeInteger(revision) || revision <= 0) continue;
    rows.push({ table: CHANGES_TABLE, key: [revision], row: entry as Record<string, unknown> });
  }
  return rows;
}
