import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CodedError } from '../lib/index.js';
import type { Disposable } from '../lib/index.js';

/**
 * Claims a data directory for one berth server: two servers on one directory would both adopt the
 * same instances and fight over them. The claim is `<dataDir>/server.pid`, created exclusively; a
 * file left by a server that died (its pid gone, or now another program) is taken over.
 * @throws CodedError `DATA_DIR_IN_USE` naming the pid of the server that holds it.
 */
export function claimDataDir(dataDir: string): Disposable {
  const file = join(dataDir, 'server.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return { dispose: () => rmSync(file, { force: true }) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = Number(readFileSync(file, 'utf8').trim());
      if (holder !== process.pid && isBerth(holder)) {
        throw new CodedError('DATA_DIR_IN_USE', `another berth server (pid ${holder}) is using ${dataDir}; stop it, or give this one another --data-dir`, { pid: holder, dataDir });
      }
      rmSync(file, { force: true }); // stale: its server is gone
    }
  }
  throw new CodedError('DATA_DIR_IN_USE', `could not claim ${dataDir}`, { dataDir });
}

function isBerth(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 1) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('berth');
  } catch {
    return false;
  }
}
