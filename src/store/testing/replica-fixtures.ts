import type { ServiceSpec } from '../../model/index.js';
import { parseServiceSpec } from '../../model/index.js';
import type { SqliteKv } from '../backend/index.js';
import type { NewInstance } from '../index.js';
import { LeaderElection, ReplicaWriter, openSqliteStore } from '../index.js';

/* Fixtures of the replication tests (store-replica.test.ts, history-ring.test.ts). */

export const PREFIX = '/berth/';
export const spec = (name: string, replicas = 2): ServiceSpec => parseServiceSpec({ name, replicas, containers: [{ command: ['sleep', '60'], ports: [{ containerPort: 8080 }] }], ports: [{ port: 80, targetPort: 8080 }] });

export function instance(id: string, slot: number): NewInstance {
  return {
    id,
    grid: 'default',
    service: 'web',
    serviceId: 'svc-1',
    slot,
    node: 'n1',
    generation: 1,
    restartGeneration: 0,
    restarts: 0,
    spec: { containers: [], address: `127.10.0.${slot + 1}`, restartPolicy: { condition: 'any', delay: '5s', maxAttempts: 0, window: '0s' }, env: {} },
    desiredState: 'running',
  };
}

/** A leader store whose commits go to `kv`, fenced on a key this test holds. */
export async function leaderOn(kv: SqliteKv, options: { chunkOps?: number; chunkBytes?: number; inFlight?: number; historyPartBytes?: number } = {}, storeOptions: { path?: string; historyRevisions?: number } = {}) {
  const election = new LeaderElection(kv, { key: `${PREFIX}leader`, self: { id: 'a', url: 'http://127.0.0.1:1' }, ttlSeconds: 2 });
  const fatal: Error[] = [];
  const fence = await election.campaign((e) => fatal.push(e));
  const store = openSqliteStore(storeOptions.path ?? ':memory:', storeOptions.historyRevisions !== undefined ? { historyRevisions: storeOptions.historyRevisions } : {});
  const writer = new ReplicaWriter(kv, { prefix: PREFIX, fence, onFatal: (e) => fatal.push(e), ...options });
  store.replicate({ onCommit: (rows) => writer.enqueue(rows) });
  writer.enqueue(store.replicatedRows()); // a new cluster: the rows the schema made go first
  return { store, writer, election, fatal };
}

/** Everything a reader sees, to compare two stores. */
export function view(store: ReturnType<typeof openSqliteStore>) {
  return {
    revision: store.revision(),
    services: store.listServices(),
    instances: store.listInstances(),
    events: store.listEvents({ grid: 'default', service: 'web' }),
    history: store.listSpecHistory('default', 'web'),
    tokens: store.listTokens(),
    grids: store.listGrids(),
    listeners: store.listHostListeners(),
  };
}

