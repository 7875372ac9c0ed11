import type { Logger } from '../lib/index.js';
import { newSigningKey } from '../lib/index.js';
import type { KvBackend } from '../store/index.js';
import type { AddressRanges } from './address-ranges.js';
import { DEFAULT_RANGES, RANGE_KINDS, formatRange, rangesFromEnv } from './address-ranges.js';

/**
 * What every server of one cluster must agree on, kept once in etcd (`<prefix>cluster`): the key that
 * signs service-account and node credentials (a credential minted by one server is checked by all),
 * and the address ranges the controller and the API hand out. The first server writes it (a put only
 * while absent); the others read it. A server whose environment asks for other ranges is told the
 * cluster's win.
 */
export interface ClusterConfig {
  readonly serviceAccountKey: Buffer;
  readonly ranges: AddressRanges;
}

export async function loadClusterConfig(kv: KvBackend, prefix: string, options: { readonly env: NodeJS.ProcessEnv; readonly instanceRange?: string; readonly logger: Logger }): Promise<ClusterConfig> {
  const key = `${prefix}cluster`;
  const asked = rangesFromEnv(options.env, options.instanceRange);
  const mine = { serviceAccountKey: newSigningKey().toString('base64'), ranges: { ...DEFAULT_RANGES, ...asked } };
  const result = await kv.txn({ compare: [{ key, absent: true }], success: [{ op: 'put', key, value: JSON.stringify(mine) }], failure: [{ op: 'get', key }] });
  const answer = result.responses[0];
  const stored = result.succeeded ? mine : (JSON.parse(answer && answer.op === 'get' && answer.kv ? answer.kv.value : '{}') as typeof mine);
  if (typeof stored.serviceAccountKey !== 'string' || !stored.ranges) throw new Error(`the cluster record at ${key} in etcd is malformed; another program wrote there, or a newer berth`);
  for (const kind of RANGE_KINDS) {
    const want = asked[kind];
    if (want !== undefined && formatRange(kind, want) !== formatRange(kind, stored.ranges[kind])) {
      options.logger.warn({ kind, asked: formatRange(kind, want), cluster: formatRange(kind, stored.ranges[kind]) }, 'the environment asks for another range than the cluster was started with: the cluster\'s is used');
    }
  }
  return { serviceAccountKey: Buffer.from(stored.serviceAccountKey, 'base64'), ranges: stored.ranges };
}
