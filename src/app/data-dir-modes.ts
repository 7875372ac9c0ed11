import { chmodSync, closeSync, lstatSync, mkdirSync, openSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The data directory's layout and modes (docs/security.md), applied at every start so that a directory
 * made by an older berth, or loosened by hand, is tightened again:
 *
 *   <data>/                      0700, or 0711 when instances run as another user (they pass through
 *                                to their own directories; nobody can list it)
 *   berth.db, -wal, -shm         0600 (the database is created 0600 before SQLite opens it; SQLite gives
 *                                its WAL and shm files the database's mode)
 *   server.pid, server.log       0600
 *   tls/                         0700; key.pem 0600, cert.pem 0644
 *   exits/                       0700; every exit file 0600
 *   instances/, instances/<id>/  0711; handle and log files 0600 (logs owned by the instance's user)
 *   volumes/<grid>/<service>/    0711; each slot's directory 0700, owned by the instance's user
 *
 * Only modes are changed here, never owners (the agent hands slot directories over as it prepares them).
 */
export function secureDataDir(dataDir: string, options: { readonly traverse: boolean }): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, options.traverse ? 0o711 : 0o700);
  // Created empty and 0600 before SQLite opens it, so that it is never readable by others, not even
  // for a moment; SQLite takes an empty file for a new database.
  closeSync(openSync(join(dataDir, 'berth.db'), 'a', 0o600));
  for (const name of ['berth.db', 'berth.db-wal', 'berth.db-shm', 'berth.db-journal', 'server.pid', 'server.log']) {
    setMode(join(dataDir, name), 0o600);
  }
  setMode(join(dataDir, 'tls'), 0o700);
  setMode(join(dataDir, 'tls', 'key.pem'), 0o600);

  mkdirSync(join(dataDir, 'exits'), { recursive: true, mode: 0o700 });
  setMode(join(dataDir, 'exits'), 0o700);
  for (const name of list(join(dataDir, 'exits'))) setMode(join(dataDir, 'exits', name), 0o600);

  const instances = join(dataDir, 'instances');
  setMode(instances, 0o711);
  for (const id of list(instances)) {
    const dir = join(instances, id);
    setMode(dir, 0o711);
    for (const name of list(dir)) setMode(join(dir, name), 0o600);
  }

  const volumes = join(dataDir, 'volumes');
  setMode(volumes, 0o711);
  for (const grid of list(volumes)) {
    setMode(join(volumes, grid), 0o711);
    for (const service of list(join(volumes, grid))) setMode(join(volumes, grid, service), 0o711);
  }
}

/** Creates `file` empty with mode 0600 unless it exists (server.log before the logger opens it). */
export function createPrivateFile(file: string): void {
  closeSync(openSync(file, 'a', 0o600));
  setMode(file, 0o600);
}

/** chmod when the path exists, is no symbolic link and has another mode; a file of the wrong kind is left alone. */
function setMode(path: string, mode: number): void {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (st.isSymbolicLink()) return;
  if (mode === 0o600 && !st.isFile()) return;
  if (mode !== 0o600 && !st.isDirectory()) return;
  if ((st.mode & 0o7777) !== mode) chmodSync(path, mode);
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
