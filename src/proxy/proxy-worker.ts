/*
 * Entry of a proxy worker process, forked by `ServiceProxy` when `workers` ≥ 2 (see worker-runtime.ts
 * and docs/proxy.md). Not meant to be started by hand: it needs its parent's IPC channel.
 */
import { runProxyWorker } from './worker-runtime.js';

runProxyWorker();
