import type { ListenerProblem, Service } from '../model/index.js';

/*
 * The service's listeners that are not open (its ListenersOpen condition), in the CLI's words. The
 * CLI imports model types only, so the sentence is built here (the server's is model's
 * describeListenerProblem; both say the listener, what it is for, the error name and its words).
 */

const KIND_WORDS: Readonly<Record<ListenerProblem['kind'], string>> = {
  clusterIP: 'virtual IP',
  externalIP: 'external IP',
  loadBalancerIP: 'load-balancer address',
  nodePort: 'node port',
  published: 'published port',
  instancePort: 'node-published port',
};

/** The listeners of `service` that are not open (empty when its condition is True or absent). */
export function listenersNotOpen(service: Pick<Service, 'status'>): readonly ListenerProblem[] {
  return service.status.conditions?.find((c) => c.type === 'ListenersOpen' && c.status === 'False')?.listeners ?? [];
}

/** `TCP 127.0.0.1:30000 (node port of 80/TCP) cannot be opened: EADDRINUSE (listen EADDRINUSE: address already in use …)`. */
export function describeListener(l: ListenerProblem): string {
  const what = `${l.listener} (${KIND_WORDS[l.kind]} of ${l.servicePort})`;
  return l.error === 'ADDRESS_CONFLICT' ? `${what} is not served: ${l.message}` : `${what} cannot be opened: ${l.error} (${l.message})`;
}
