import { readFileSync } from 'node:fs';
import { RequestInvalidError } from '../../model/index.js';
import { EtcdKv } from './etcd-kv.js';
import type { KvBackend } from './kv-backend.js';
import { SqliteKv } from './sqlite-kv.js';
import type { StoreUrl } from './store-url.js';

/**
 * Opens the backend a parsed `--store` names: SqliteKv on its file, or EtcdKv with the TLS files read
 * now (so a missing certificate fails at start, naming the option and the file).
 * @throws RequestInvalidError when a TLS file cannot be read
 */
export function openKvBackend(url: StoreUrl): KvBackend {
  if (url.kind === 'sqlite') return new SqliteKv({ path: url.path });
  const read = (option: string, file: string | undefined): Buffer | undefined => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (error) {
      throw new RequestInvalidError(`--store: ${option}=${file} cannot be read: ${(error as Error).message}`);
    }
  };
  const ca = read('cacert', url.tls?.caFile);
  const cert = read('cert', url.tls?.certFile);
  const key = read('key', url.tls?.keyFile);
  return new EtcdKv({
    endpoints: url.endpoints,
    dialTimeoutMs: url.dialTimeoutMs,
    ...(url.tls ? { tls: { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) } } : {}),
    ...(url.auth ? { auth: url.auth } : {}),
  });
}
