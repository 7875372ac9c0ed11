import type Database from 'better-sqlite3';
import type { AtRestCipher } from '../lib/index.js';
import { AtRestDecryptError, IDENTITY_KEY, parseCiphertext } from '../lib/index.js';
import type { SecretInfo, Service } from '../model/index.js';
import { SecretExistsError, SecretInUseError, SecretNotFoundError, SecretUnreadableError } from '../model/index.js';

/**
 * Secrets (schema version 4). The values live in this table only: never in a spec, event or change.
 *
 * With an at-rest cipher (`--encryption-key-file`, docs/security.md) a row's `data` is one ciphertext
 * of the JSON of all its values, bound to `secrets/<grid>/<name>`, and its key names are kept beside it
 * in `keys` (listed without decrypting, as a secret's name is); a row written before encryption (or under
 * `identity`) holds `data` as an object and is read as it is. Rows are encrypted here, before SQLite has
 * them, so the database file, the etcd rows that replicate it and every replica hold ciphertext only.
 */
export const SECRET_DDL = `
CREATE TABLE IF NOT EXISTS secrets (
  grid TEXT NOT NULL,
  name TEXT NOT NULL,
  json TEXT NOT NULL,
  PRIMARY KEY (grid, name)
);
`;

/** A secret's row: its info and its values, in plaintext (an object) or encrypted (with its key names beside). */
interface StoredSecret extends Omit<SecretInfo, 'keys'> {
  readonly data: Readonly<Record<string, string>> | string;
  readonly keys?: readonly string[];
}

/** What a rotation did (`reencryptAll`). */
export interface SecretRewrite {
  /** Rows now under the write key. */
  readonly rewritten: number;
  /** `grid/name` of rows that could not be read (a key this server lacks, or tampered): left as they are. */
  readonly unreadable: readonly { readonly secret: string; readonly message: string }[];
}

/** The secrets of the SQLite store; writes run inside the store's write transaction. */
export class SecretTable {
  private readonly get: Database.Statement;
  private readonly list: Database.Statement;
  private readonly put: Database.Statement;
  private readonly drop: Database.Statement;
  private readonly dropGrid: Database.Statement;
  private readonly servicesOfGrid: Database.Statement;
  private readonly listAll: Database.Statement;

  private readonly cipher: AtRestCipher | undefined;

  /** `cipher`: encrypt values at rest (none: rows are written in plaintext, encrypted ones refused with SECRET_UNREADABLE). */
  constructor(db: Database.Database, cipher?: AtRestCipher) {
    this.cipher = cipher;
    this.get = db.prepare(`SELECT json FROM secrets WHERE grid = ? AND name = ?`);
    this.list = db.prepare(`SELECT json FROM secrets WHERE grid = ? ORDER BY name`);
    this.put = db.prepare(`INSERT INTO secrets (grid, name, json) VALUES (?, ?, ?) ON CONFLICT (grid, name) DO UPDATE SET json = excluded.json`);
    this.drop = db.prepare(`DELETE FROM secrets WHERE grid = ? AND name = ?`);
    this.dropGrid = db.prepare(`DELETE FROM secrets WHERE grid = ?`);
    this.servicesOfGrid = db.prepare(`SELECT json FROM services WHERE grid = ? ORDER BY name`);
    this.listAll = db.prepare(`SELECT json FROM secrets ORDER BY grid, name`);
  }

  info(grid: string, name: string): SecretInfo | undefined {
    const stored = this.read(grid, name);
    return stored ? toInfo(stored) : undefined;
  }

  /**
   * One value, for a container's env; undefined when the secret or the key is missing.
   * @throws SecretUnreadableError (500) when its values are under a key this server lacks, or tampered
   */
  value(grid: string, name: string, key: string): string | undefined {
    const stored = this.read(grid, name);
    if (!stored) return undefined;
    const data = this.plain(stored);
    return Object.hasOwn(data, key) ? data[key] : undefined;
  }

  all(grid: string): SecretInfo[] {
    return (this.list.all(grid) as { json: string }[]).map((r) => toInfo(JSON.parse(r.json) as StoredSecret));
  }

  /**
   * Rewrites every row that is not under the cipher's write key (plaintext rows, rows under an older
   * key) so that it is: the step of a key rotation that lets the old key go (Kubernetes rewrites every
   * Secret for the same purpose). Times and values are kept. Rows that cannot be read are left as they
   * are and named. Run inside the store's write transaction.
   */
  reencryptAll(): SecretRewrite {
    const cipher = this.cipher;
    if (!cipher) return { rewritten: 0, unreadable: [] };
    let rewritten = 0;
    const unreadable: { secret: string; message: string }[] = [];
    for (const { json } of this.listAll.all() as { json: string }[]) {
      const stored = JSON.parse(json) as StoredSecret;
      const under = typeof stored.data === 'string' ? (parseCiphertext(stored.data)?.keyName ?? IDENTITY_KEY) : IDENTITY_KEY;
      if (under === cipher.writeKey) continue;
      let data: Readonly<Record<string, string>>;
      try {
        data = this.plain(stored);
      } catch (e) {
        unreadable.push({ secret: `${stored.grid}/${stored.name}`, message: (e as Error).message });
        continue;
      }
      this.save({ ...stored, data });
      rewritten++;
    }
    return { rewritten, unreadable };
  }

  /**
   * Creates (`mode: create`), replaces (`replace`) or adds keys to (`merge`) a secret.
   * @throws SecretExistsError (409) on create of an existing name, SecretNotFoundError (404) on replace or merge of a missing one
   */
  write(grid: string, name: string, data: Readonly<Record<string, string>>, mode: 'create' | 'replace' | 'merge', nowIso: string): SecretInfo {
    const current = this.read(grid, name);
    if (mode === 'create' && current) throw new SecretExistsError(grid, name);
    if (mode !== 'create' && !current) throw new SecretNotFoundError(grid, name);
    // Only a merge needs the old values: a replace works even when they cannot be read (a way out of a lost key).
    const merged = mode === 'merge' && current ? { ...this.plain(current), ...data } : { ...data };
    return toInfo(this.save({ grid, name, data: merged, createdAt: current?.createdAt ?? nowIso, updatedAt: nowIso }));
  }

  /** @throws SecretNotFoundError (404), SecretInUseError (409) while a service's spec refers to it */
  remove(grid: string, name: string): void {
    if (!this.read(grid, name)) throw new SecretNotFoundError(grid, name);
    const users = (this.servicesOfGrid.all(grid) as { json: string }[])
      .map((r) => JSON.parse(r.json) as Service)
      .filter((s) => secretsOf(s).has(name))
      .map((s) => s.name);
    if (users.length > 0) throw new SecretInUseError(grid, name, users);
    this.drop.run(grid, name);
  }

  removeGrid(grid: string): void {
    this.dropGrid.run(grid);
  }

  /** Writes the row, its values encrypted under the write key (unless that is `identity`, or there is no cipher). */
  private save(secret: StoredSecret & { readonly data: Readonly<Record<string, string>> }): StoredSecret {
    const { grid, name, data, createdAt, updatedAt } = secret;
    const stored: StoredSecret =
      this.cipher && this.cipher.writeKey !== IDENTITY_KEY
        ? { grid, name, keys: Object.keys(data).sort(), data: this.cipher.encrypt(JSON.stringify(data), contextOf(grid, name)), createdAt, updatedAt }
        : { grid, name, data, createdAt, updatedAt };
    this.put.run(grid, name, JSON.stringify(stored));
    return stored;
  }

  /** The values of a row in plaintext. @throws SecretUnreadableError naming the key and the fix */
  private plain(stored: StoredSecret): Readonly<Record<string, string>> {
    if (typeof stored.data !== 'string') return stored.data;
    const keyName = parseCiphertext(stored.data)?.keyName ?? '?';
    if (!this.cipher) {
      throw new SecretUnreadableError(stored.grid, stored.name, keyName, `its values are encrypted with the key "${keyName}" and this server has no --encryption-key-file; start it with the key file that holds "${keyName}" (every server of a cluster needs the same file)`);
    }
    try {
      return JSON.parse(this.cipher.decrypt(stored.data, contextOf(stored.grid, stored.name))) as Record<string, string>;
    } catch (e) {
      if (e instanceof AtRestDecryptError) throw new SecretUnreadableError(stored.grid, stored.name, e.keyName, e.message);
      throw e;
    }
  }

  private read(grid: string, name: string): StoredSecret | undefined {
    const row = this.get.get(grid, name) as { json: string } | undefined;
    return row ? (JSON.parse(row.json) as StoredSecret) : undefined;
  }
}

/** The secrets a service's spec (and the deployed one) refer to. */
export function secretsOf(service: Service): Set<string> {
  const names = new Set<string>();
  for (const spec of [service.spec, service.deployment?.spec]) {
    for (const c of spec?.containers ?? []) {
      for (const e of c.env) if ('valueFrom' in e) names.add(e.valueFrom.secretKeyRef.name);
    }
  }
  return names;
}

function toInfo(stored: StoredSecret): SecretInfo {
  const keys = typeof stored.data === 'string' ? [...(stored.keys ?? [])] : Object.keys(stored.data).sort();
  return { grid: stored.grid, name: stored.name, keys, createdAt: stored.createdAt, updatedAt: stored.updatedAt };
}

/** The authenticated data of a secret's ciphertext: a row copied under another name does not decrypt. */
function contextOf(grid: string, name: string): string {
  return `secrets/${grid}/${name}`;
}
