/**
 * The API alone, for bench/api.bench.ts: a store on disk with one service, listening on a free port,
 * with the real TokenAuthenticator (`token`) or with none at all (`none`: every request is the admin,
 * as before authentication existed). Prints `PORT TOKEN` once it listens; runs until SIGTERM.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeTelemetry, TokenAuthenticator, createApi } from '../src/api/index.js';
import { mintToken, newSigningKey } from '../src/lib/index.js';
import type { Identity } from '../src/model/index.js';
import { openSqliteStore } from '../src/store/index.js';

const mode = process.argv[2];
const dir = mkdtempSync(join(tmpdir(), 'berth-api-bench-'));
const store = openSqliteStore(join(dir, 'berth.db'));
const minted = mintToken();
store.createToken({ id: minted.id, hash: minted.hash, name: 'bench', role: 'viewer', grid: 'default', createdAt: new Date().toISOString(), createdBy: 'bench' });
store.createService({ grid: 'default', spec: { ...(await import('../src/model/index.js')).parseServiceSpec({ name: 'web', containers: [{ command: ['sleep', '1000'] }] }) }, deploy: false });
const admin: Identity = { kind: 'user', subject: 'nobody checked', grants: [{ role: 'cluster-admin' }] };
const authenticator = mode === 'none' ? { authenticate: () => admin } : new TokenAuthenticator(store, { serviceAccountKey: newSigningKey() });
const app = createApi({ store, authenticator, telemetry: new FakeTelemetry(), node: 'bench', version: 'bench' });
await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
process.stdout.write(`${typeof address === 'object' && address ? address.port : 0} ${minted.token}\n`);
process.once('SIGTERM', () => {
  void app.close().then(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  });
});
