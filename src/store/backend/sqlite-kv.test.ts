import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { runKvConformance } from './conformance.js';
import { SqliteKv } from './sqlite-kv.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-sqlite-kv-'));
const path = join(dir, 'kv.db');
after(() => rmSync(dir, { recursive: true, force: true }));

runKvConformance({
  name: 'SqliteKv (file, WAL)',
  open: async () => new SqliteKv({ path, leaseCheckMs: 50 }),
  disrupt: async (backend) => {
    await backend.close();
    return new SqliteKv({ path, leaseCheckMs: 50 });
  },
  watchSurvives: false,
  leaseSlackMs: 500,
});
