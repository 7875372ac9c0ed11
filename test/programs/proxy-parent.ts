/*
 * A process that runs a ServiceProxy (native engine, 2 relay threads) with a backend of its own, for the
 * test that kills it with SIGKILL: prints `{"parent":PID,"relay":PID}` once serving, then idles until killed.
 * Argument: the VIP and port to serve (default 127.96.202.50:18150).
 */
import { ServiceProxy } from '../../src/proxy/index.js';
import { endpoint, endpointsOf, replyServer, snapshotOf } from '../../src/proxy/proxy-fixtures.js';

const [host = '127.96.202.50', port = '18150'] = (process.argv[2] ?? '').split(':').filter(Boolean);
const backend = await replyServer('127.21.202.99', 'parent-backend');
const proxy = new ServiceProxy({ threads: 2 });
await proxy.start();
await proxy.sync(snapshotOf([endpointsOf({ clusterIP: host, ports: [{ name: '', protocol: 'TCP', port: Number(port) }], endpoints: [endpoint('127.21.202.99', backend.port)] })]));
process.stdout.write(`${JSON.stringify({ parent: process.pid, relay: proxy.relayStatus()?.pid })}\n`);
setInterval(() => {}, 60_000);
