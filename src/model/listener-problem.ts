import type { HostListenerKind } from './host-listeners.js';
import type { ListenerProblem } from './service.js';

/** The kind of a listener in words, for messages: "node port", "external IP" … */
export const LISTENER_KIND_WORDS: Readonly<Record<HostListenerKind, string>> = {
  clusterIP: 'virtual IP',
  externalIP: 'external IP',
  loadBalancerIP: 'load-balancer address',
  nodePort: 'node port',
};

/**
 * A listener that is not open, in one sentence: `TCP 127.0.0.1:30000 (node port of 80/TCP) cannot be
 * opened: EADDRINUSE (listen EADDRINUSE: address already in use 127.0.0.1:30000)`.
 */
export function describeListenerProblem(p: Omit<ListenerProblem, 'since'>): string {
  const what = `${p.listener} (${LISTENER_KIND_WORDS[p.kind]} of ${p.servicePort})`;
  if (p.error === 'ADDRESS_CONFLICT') return `${what} is not served: ${p.message}`;
  return `${what} cannot be opened: ${p.error} (${p.message})`;
}
