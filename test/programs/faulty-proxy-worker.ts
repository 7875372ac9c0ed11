/*
 * A proxy worker entry for tests (ServiceProxyOptions.workerEntry): the real worker, except that each
 * listener it takes over fails soon after with an accept error (EMFILE), as a worker out of file
 * descriptors would see. The error must reach the parent's onError; the worker keeps running.
 */
import { runProxyWorker } from '../../src/proxy/worker-runtime.js';

runProxyWorker({
  onListener: (_key, server) => {
    setTimeout(() => server.emit('error', Object.assign(new Error('accept EMFILE'), { code: 'EMFILE', syscall: 'accept' })), 20);
  },
});
