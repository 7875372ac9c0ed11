import type { HostListenerKind } from './host-listeners.js';
import type { ListenerProblem } from './service.js';

/** The kind of a listener in words, for messages: "node port", "external IP" … */
export const LISTENER_KIND_WORDS: Readonly<Record<HostListenerKind, string>> = {
  clusterIP: 'virtual IP',
  externalIP: 'external IP',
  loadBalancerIP: 'load-balancer address',
  nodePort: 'node port',
  published: 'published port',
  instancePort: 'node-published port',
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

/** Linux's default net.ipv4.ip_unprivileged_port_start: ports below it need root or CAP_NET_BIND_SERVICE. */
export const FIRST_UNPRIVILEGED_PORT = 1024;

/**
 * A listen error in words, with what to do when it is the privileged-port rule: `listen EACCES:
 * permission denied 127.0.0.1:80: ports below 1024 need root, and berth runs as uid 1000: run berth
 * server as root (or give it CAP_NET_BIND_SERVICE), or publish a port of 1024 or above`.
 * @param uid  the server's user id; undefined where there is none (the hint then names no uid)
 */
export function listenErrorMessage(error: string, message: string, port: number, uid: number | undefined): string {
  if (error !== 'EACCES' || port >= FIRST_UNPRIVILEGED_PORT || uid === 0) return message;
  const who = uid === undefined ? 'berth does not run as root' : `berth runs as uid ${uid}, not root`;
  return `${message}: ports below ${FIRST_UNPRIVILEGED_PORT} need root, and ${who}: run berth server as root (or give it CAP_NET_BIND_SERVICE), or use a port of ${FIRST_UNPRIVILEGED_PORT} or above`;
}
