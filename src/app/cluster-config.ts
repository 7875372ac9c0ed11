import { DEFAULT_NETWORK } from '../drivers/index.js';
import type { AtRestCipher, Logger } from '../lib/index.js';
import { AtRestDecryptError, CodedError, IDENTITY_KEY, formatIp, newSigningKey, parseCidr, parseCiphertext } from '../lib/index.js';
import type { KvBackend } from '../store/index.js';
import type { AddressRanges } from './address-ranges.js';
import { DEFAULT_RANGES, RANGE_KINDS, formatRange, rangesFromEnv } from './address-ranges.js';

/**
 * What every server of one cluster must agree on, kept once in etcd (`<prefix>cluster`): the key that
 * signs service-account and node credentials (a credential minted by one server is checked by all),
 * the address ranges the controller and the API hand out, and the container range (the subnet of
 * every agent's Docker bridge, where instances with images are addressed). The first server writes
 * it (a put only while absent); the others read it. A server whose environment asks for other ranges
 * is told the cluster's win. A record of an older berth, without a container range, gets one from the
 * first server that reads it (BERTH_DOCKER_SUBNET, else 10.213.0.0/16), by compare-and-set.
 *
 * With `--encryption-key-file` the signing key is kept encrypted (bound to the record's etcd key, as
 * secret values are: docs/security.md); a record written in plaintext, or under another key than the
 * file's first, is rewritten under the first key (compare-and-set on its revision, so two servers
 * starting at once write it once).
 */
export interface ClusterConfig {
  readonly serviceAccountKey: Buffer;
  readonly ranges: AddressRanges;
  /**
   * The subnet (CIDR) of the berth bridge on every agent's Docker engine, from which the leader's
   * controller addresses instances with images: one range for the cluster, so that addresses are
   * unique across nodes. Default 10.213.0.0/16 (the Docker driver's: DEFAULT_NETWORK), or
   * BERTH_DOCKER_SUBNET of the first server.
   */
  readonly containerRange: string;
  /** What the operator should read at start (berth server prints each as a warning): a range asked for in the environment that the cluster's replaces. */
  readonly notices: readonly string[];
}

const RANGE_ENV: Readonly<Record<(typeof RANGE_KINDS)[number], string>> = { instanceRange: 'BERTH_INSTANCE_RANGE', serviceRange: 'BERTH_SERVICE_RANGE', nodePortRange: 'BERTH_NODE_PORT_RANGE' };

interface ClusterRecord {
  /** base64 of the key, or its ciphertext (`berth:enc:aesgcm:v1:<key>:…`) */
  readonly serviceAccountKey: string;
  readonly ranges: AddressRanges;
  /** Absent from records of a berth older than the container range (the first server to read one adds it). */
  readonly containerRange?: string;
}

const CONTAINER_RANGE_ENV = 'BERTH_DOCKER_SUBNET';

/**
 * Reads the cluster record, writing it first when absent.
 * @throws Error for a malformed record; CodedError `SECRET_UNREADABLE` when its signing key is encrypted
 *   under a key this server lacks (or has no key file at all), or does not authenticate
 */
export async function loadClusterConfig(
  kv: KvBackend,
  prefix: string,
  options: { readonly env: NodeJS.ProcessEnv; readonly instanceRange?: string; readonly logger: Logger; readonly cipher?: AtRestCipher | undefined },
): Promise<ClusterConfig> {
  const key = `${prefix}cluster`;
  const { cipher } = options;
  const asked = rangesFromEnv(options.env, options.instanceRange);
  const askedContainers = options.env[CONTAINER_RANGE_ENV]?.trim() || undefined;
  if (askedContainers !== undefined) checkCidr(CONTAINER_RANGE_ENV, askedContainers);
  const containerRange = askedContainers ?? DEFAULT_NETWORK.subnet;
  const signingKey = newSigningKey().toString('base64');
  const mine: ClusterRecord = { serviceAccountKey: cipher ? cipher.encrypt(signingKey, key) : signingKey, ranges: { ...DEFAULT_RANGES, ...asked }, containerRange };
  const result = await kv.txn({ compare: [{ key, absent: true }], success: [{ op: 'put', key, value: JSON.stringify(mine) }], failure: [{ op: 'get', key }] });
  const answer = result.responses[0];
  let found = answer && answer.op === 'get' ? answer.kv : undefined;
  let stored = result.succeeded ? mine : parseRecord(found?.value, key);
  if (found && stored.containerRange === undefined) {
    // An older berth's record: the container range is added once, by whichever server gets there first.
    const added: ClusterRecord = { ...stored, containerRange };
    const put = await kv.txn({ compare: [{ key, modRevision: found.modRevision }], success: [{ op: 'put', key, value: JSON.stringify(added) }] });
    // Read again either way: the record as written, or as another server changed it meanwhile.
    found = await kv.get(key);
    stored = parseRecord(found?.value, key);
    if (put.succeeded) options.logger.info({ key, containerRange }, 'the cluster record had no container range (an older berth): it now has one');
  }
  const notices: string[] = [];
  for (const kind of RANGE_KINDS) {
    const want = asked[kind];
    if (want !== undefined && formatRange(kind, want) !== formatRange(kind, stored.ranges[kind])) {
      options.logger.warn({ kind, asked: formatRange(kind, want), cluster: formatRange(kind, stored.ranges[kind]) }, 'the environment asks for another range than the cluster was started with: the cluster\'s is used');
      notices.push(notUsed(RANGE_ENV[kind], formatRange(kind, want), formatRange(kind, stored.ranges[kind])));
    }
  }
  const clusterContainers = stored.containerRange ?? containerRange;
  if (askedContainers !== undefined && askedContainers !== clusterContainers) {
    options.logger.warn({ kind: 'containerRange', asked: askedContainers, cluster: clusterContainers }, 'the environment asks for another range than the cluster was started with: the cluster\'s is used');
    notices.push(notUsed(CONTAINER_RANGE_ENV, askedContainers, clusterContainers));
  }
  const plain = signingKeyOf(stored.serviceAccountKey, key, cipher);
  const under = parseCiphertext(stored.serviceAccountKey)?.keyName ?? IDENTITY_KEY;
  if (cipher && found && under !== cipher.writeKey) {
    const rewritten: ClusterRecord = { ...stored, serviceAccountKey: cipher.encrypt(plain, key) };
    const put = await kv.txn({ compare: [{ key, modRevision: found.modRevision }], success: [{ op: 'put', key, value: JSON.stringify(rewritten) }] });
    if (put.succeeded) options.logger.info({ key, from: under, to: cipher.writeKey }, 'the cluster record\'s signing key is now under the first key of --encryption-key-file');
  }
  return { serviceAccountKey: Buffer.from(plain, 'base64'), ranges: stored.ranges, containerRange: clusterContainers, notices };
}

/**
 * The controller's container range of a cluster's record (ServiceControllerOptions.containerRange):
 * the subnet without its gateway, the first address (as ensureNetwork creates the bridge; parseCidr
 * already leaves out the subnet's own address and its broadcast).
 */
export function controllerContainerRange(cidr: string): { cidr: string; reserved: string[] } {
  return { cidr, reserved: [formatIp(parseCidr(cidr).first)] };
}

function notUsed(variable: string, asked: string, cluster: string): string {
  return `${variable}=${asked} is not used: the cluster's range is ${cluster}, fixed when its first server started (a new etcd prefix, ?prefix=, starts another cluster)`;
}

/** @throws Error naming the variable when `value` is not an IPv4 CIDR */
function checkCidr(variable: string, value: string): void {
  try {
    parseCidr(value);
  } catch (error) {
    throw new Error(`${variable}=${value}: ${(error as Error).message}`);
  }
}

/** @throws Error for a record that is not one berth wrote */
function parseRecord(value: string | undefined, key: string): ClusterRecord {
  const stored = JSON.parse(value ?? '{}') as ClusterRecord;
  if (typeof stored.serviceAccountKey !== 'string' || !stored.ranges || (stored.containerRange !== undefined && typeof stored.containerRange !== 'string')) {
    throw new Error(`the cluster record at ${key} in etcd is malformed; another program wrote there, or a newer berth`);
  }
  return stored;
}

function signingKeyOf(stored: string, key: string, cipher: AtRestCipher | undefined): string {
  const keyName = parseCiphertext(stored)?.keyName;
  if (keyName === undefined) return stored;
  if (!cipher) {
    throw new CodedError('SECRET_UNREADABLE', `the signing key in the cluster record ${key} is encrypted with the key "${keyName}" and this server has no --encryption-key-file: start it with the key file the other servers use (it holds "${keyName}")`, { keyName });
  }
  try {
    return cipher.decrypt(stored, key);
  } catch (e) {
    if (e instanceof AtRestDecryptError) throw new CodedError('SECRET_UNREADABLE', `the signing key in the cluster record: ${e.message}`, { keyName: e.keyName });
    throw e;
  }
}
