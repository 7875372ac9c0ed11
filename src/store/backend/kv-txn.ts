import { RequestInvalidError } from '../../model/index.js';
import type { Compare, KvBackend, TxnOp, WriteResult } from './kv-backend.js';

/**
 * Refuses a branch that writes one key twice or is not an op at all (etcd: "duplicate key given in txn
 * request"), so that every change of a revision names a distinct key.
 * @throws RequestInvalidError
 */
export function checkTxnOps(ops: readonly TxnOp[]): void {
  const written = new Set<string>();
  for (const op of ops) {
    if (op.op === 'get' || op.op === 'deletePrefix') continue;
    if (op.op !== 'put' && op.op !== 'delete') throw new RequestInvalidError(`txn: unknown op ${JSON.stringify((op as { op: unknown }).op)}`);
    if (typeof op.key !== 'string') throw new RequestInvalidError('txn: every op needs a string key');
    if (written.has(op.key)) throw new RequestInvalidError(`txn: key ${JSON.stringify(op.key)} is written twice in one branch`);
    written.add(op.key);
  }
}

/** True when every compare holds for the keys as `read` returns them (etcd's Compare with EQUAL). */
export function checkCompares(compares: readonly Compare[], read: (key: string) => { create_revision: number; mod_revision: number; version: number; value: string } | undefined): boolean {
  return compares.every((c) => {
    const row = read(c.key);
    if ('exists' in c) return row !== undefined;
    if ('absent' in c) return row === undefined;
    if ('modRevision' in c) return (row?.mod_revision ?? 0) === c.modRevision;
    if ('createRevision' in c) return (row?.create_revision ?? 0) === c.createRevision;
    if ('version' in c) return (row?.version ?? 0) === c.version;
    return row !== undefined && row.value === c.value;
  });
}

/** KvBackend.put as one txn: compare modRevision (when asked), put, and read the key back on failure. */
export async function putWith(kv: Pick<KvBackend, 'txn'>, key: string, value: string, options: { ifModRevision?: number; lease?: string }): Promise<WriteResult> {
  const put: TxnOp = { op: 'put', key, value, ...(options.lease !== undefined ? { lease: options.lease } : {}) };
  const compare: Compare[] = options.ifModRevision !== undefined ? [{ key, modRevision: options.ifModRevision }] : [];
  const r = await kv.txn({ compare, success: [put], failure: [{ op: 'get', key }] });
  const first = r.responses[0];
  if (r.succeeded) return { ok: true, revision: r.revision };
  return { ok: false, revision: r.revision, current: first?.op === 'get' ? first.kv : undefined };
}

/** KvBackend.delete as one txn, as putWith. */
export async function deleteWith(kv: Pick<KvBackend, 'txn'>, key: string, options: { ifModRevision?: number }): Promise<WriteResult> {
  const compare: Compare[] = options.ifModRevision !== undefined ? [{ key, modRevision: options.ifModRevision }] : [];
  const r = await kv.txn({ compare, success: [{ op: 'delete', key }], failure: [{ op: 'get', key }] });
  const first = r.responses[0];
  if (r.succeeded) return { ok: true, revision: r.revision };
  return { ok: false, revision: r.revision, current: first?.op === 'get' ? first.kv : undefined };
}

