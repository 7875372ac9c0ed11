import type { ExplanationReason, Service } from '../model/index.js';
import { describeListenerProblem } from '../model/index.js';

/*
 * The listener part of `why`: host listeners of the service that the data plane could not open (its
 * ListenersOpen condition), each a blocking reason naming the listener, the system's error and since
 * when, with what frees it.
 */

/** One blocking reason per listener of the service's ListenersOpen condition that is not open. */
export function listenerReasons(service: Service): ExplanationReason[] {
  const condition = service.status.conditions?.find((c) => c.type === 'ListenersOpen' && c.status === 'False');
  return (condition?.listeners ?? []).map((l) => ({
    kind: 'listener',
    message: `${describeListenerProblem(l)}, since ${l.since}; retried with back-off`,
    evidence: { listener: l },
  }));
}

export function butListeners(listeners: readonly ExplanationReason[]): string {
  const first = listeners[0];
  return first ? `; and ${first.message}` : '';
}

/** What frees a listener, by its error. */
export function listenerSuggestions(reasons: readonly ExplanationReason[]): string[] {
  const out: string[] = [];
  for (const r of reasons) {
    const l = r.evidence.listener;
    if (r.kind !== 'listener' || !l) continue;
    const [protocol, address = ''] = l.listener.split(' ');
    const port = address.slice(address.lastIndexOf(':') + 1);
    const host = address.slice(0, address.lastIndexOf(':')).replace(/^\[|\]$/g, '');
    if (l.error === 'EADDRINUSE') out.push(`another program holds ${l.listener} (\`ss -${protocol === 'UDP' ? 'u' : 't'}lnp 'sport = :${port}'\` names it): stop it, or give the service another port; berth opens it as soon as it is free`);
    else if (l.error === 'EADDRNOTAVAIL') out.push(`${host} is not an address of this host: add it (\`ip addr add ${host}/32 dev lo\` as root) or take it out of spec.externalIPs`);
    else if (l.error === 'EACCES') out.push(`port ${port} is below 1024: run berth as root (or with CAP_NET_BIND_SERVICE), or use a port of 1024 or above`);
    else if (l.error === 'ADDRESS_CONFLICT') out.push(`${l.listener} is asked for by two services: give one of them another port or address`);
  }
  return out;
}
