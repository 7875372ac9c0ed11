import type { Clock, Logger } from '../lib/index.js';
import { silentLogger, systemClock } from '../lib/index.js';
import type { EndpointsSnapshot, ListenerProblem, NewServiceEvent, ServiceCondition } from '../model/index.js';
import { LISTENER_KIND_WORDS, describeListenerProblem, listenErrorMessage, serviceKey } from '../model/index.js';
import type { ListenerConflict, ListenerStatus } from '../proxy/index.js';
import type { Store } from '../store/index.js';
import type { EndpointsPublisher, SnapshotSink } from './endpoints-publisher.js';

/** What the reporter reads of the proxy. */
export interface ListenerSource {
  status(): readonly ListenerStatus[];
  conflicts(): readonly ListenerConflict[];
}

/**
 * The proxy as the publisher's sink: syncs the snapshot, then asks for a retry while a listener did
 * not open (EADDRINUSE, EADDRNOTAVAIL…), so the publisher syncs again after its back-off and the proxy
 * tries that listener again.
 */
export function proxySink(proxy: ListenerSource & { sync(snapshot: EndpointsSnapshot): Promise<void> }): SnapshotSink {
  return async (snapshot) => {
    await proxy.sync(snapshot);
    return { retry: proxy.status().some((l) => l.state === 'failed') };
  };
}

/**
 * Turns the proxy's listener states into each service's `ListenersOpen` condition (status.conditions)
 * and events, after every snapshot the data plane applied: a listener that cannot be opened (taken by
 * another program, an address not on this host, a port below 1024 without the privilege: the message
 * then says that root is needed, listenErrorMessage) or that
 * another service holds makes the condition False with the listener, its error and since when, and
 * records `service.listener_failed`; once every listener of the service is open the condition turns
 * True and `service.listener_opened` is recorded. Writes only what changed (the store compares).
 * The proxy retries failed listeners with every sync; the publisher's back-off drives those.
 */
export class ListenerConditionReporter {
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly uid: number | undefined;

  /** @param options.uid  the server's user id, named when a port below 1024 cannot be opened (default process.getuid()). */
  constructor(
    private readonly store: Store,
    private readonly source: ListenerSource,
    options: { readonly clock?: Clock; readonly logger?: Logger; readonly uid?: number } = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.uid = 'uid' in options ? options.uid : process.getuid?.();
  }

  /** Reports after every snapshot the publisher's sinks took; returns the unsubscribe. */
  follow(publisher: Pick<EndpointsPublisher, 'subscribe' | 'current'>): () => void {
    return publisher.subscribe(() => {
      const snapshot = publisher.current();
      if (snapshot) this.report(snapshot);
    });
  }

  /** Brings every service of `snapshot` up to date with the proxy's listeners now. Never throws. */
  report(snapshot: EndpointsSnapshot): void {
    try {
      this.reportNow(snapshot);
    } catch (error) {
      this.logger.error({ err: error }, 'recording listener conditions failed');
    }
  }

  private reportNow(snapshot: EndpointsSnapshot): void {
    const problems = new Map<string, Omit<ListenerProblem, 'since'>[]>();
    const add = (key: string, p: Omit<ListenerProblem, 'since'>): void => {
      const list = problems.get(key);
      if (list) list.push(p);
      else problems.set(key, [p]);
    };
    for (const l of this.source.status()) {
      if (l.state !== 'failed') continue;
      const error = l.error ?? 'ERROR';
      const message = listenErrorMessage(error, l.message ?? `cannot listen on ${l.key}`, l.port, this.uid);
      add(ownerOf(l.serviceKey), { listener: l.key, kind: l.kind, servicePort: servicePortOf(l.serviceKey), error, message });
    }
    const kinds = new Map(this.source.status().map((l) => [l.key, l.kind]));
    for (const c of this.source.conflicts()) {
      add(ownerOf(c.serviceKey), {
        listener: c.key,
        kind: kinds.get(c.key) ?? 'externalIP',
        servicePort: servicePortOf(c.serviceKey),
        error: 'ADDRESS_CONFLICT',
        message: `${c.key} is served for ${ownerOf(c.heldBy)} (${servicePortOf(c.heldBy)})`,
      });
    }
    const now = new Date(this.clock.now()).toISOString();
    for (const e of snapshot.services) {
      const key = serviceKey(e.grid, e.service);
      const service = this.store.getService(e.grid, e.service);
      if (!service) continue;
      const previous = service.status.conditions?.find((c) => c.type === 'ListenersOpen');
      const found = problems.get(key) ?? [];
      const next = nextCondition(previous, found, now);
      if (next === undefined) continue;
      const others = (service.status.conditions ?? []).filter((c) => c.type !== 'ListenersOpen');
      const events = transitionEvents(e.grid, e.service, previous, next);
      if (!this.store.setServiceConditions(e.grid, e.service, [...others, next], events)) continue;
      for (const ev of events) {
        if (ev.severity === 'info') this.logger.info({ service: key }, ev.message);
        else this.logger.warn({ service: key }, ev.message);
      }
    }
  }
}

/** The condition to store, or undefined to leave none (a service whose listeners never failed has no condition). */
function nextCondition(previous: ServiceCondition | undefined, problems: readonly Omit<ListenerProblem, 'since'>[], now: string): ServiceCondition | undefined {
  if (problems.length === 0) {
    if (previous === undefined) return undefined;
    if (previous.status === 'True') return previous;
    return { type: 'ListenersOpen', status: 'True', reason: 'Open', message: 'every listener is open', lastTransitionTime: now };
  }
  const listeners = problems.map((p): ListenerProblem => {
    const before = previous?.listeners?.find((x) => x.listener === p.listener && x.error === p.error);
    return { ...p, since: before?.since ?? now };
  });
  const first = listeners[0] as ListenerProblem;
  const more = listeners.length > 1 ? ` (and ${listeners.length - 1} more)` : '';
  return {
    type: 'ListenersOpen',
    status: 'False',
    reason: first.error,
    message: `${describe(first)}${more}; retried with back-off`,
    lastTransitionTime: previous?.status === 'False' ? previous.lastTransitionTime : now,
    listeners,
  };
}

const describe = describeListenerProblem;

/** One event per listener that started failing (or fails differently), and per listener open again. */
function transitionEvents(grid: string, service: string, previous: ServiceCondition | undefined, next: ServiceCondition): NewServiceEvent[] {
  const before = previous?.status === 'False' ? (previous.listeners ?? []) : [];
  const now = next.status === 'False' ? (next.listeners ?? []) : [];
  const events: NewServiceEvent[] = [];
  for (const p of now) {
    if (before.some((b) => b.listener === p.listener && b.error === p.error)) continue;
    events.push({ grid, service, type: 'service.listener_failed', severity: 'warning', message: `${describe(p)}; retried with back-off`, data: { listener: p.listener, kind: p.kind, error: p.error } });
  }
  for (const b of before) {
    if (now.some((p) => p.listener === b.listener)) continue;
    events.push({ grid, service, type: 'service.listener_opened', severity: 'info', message: `${b.listener} (${LISTENER_KIND_WORDS[b.kind]} of ${b.servicePort}) is open now (it failed with ${b.error} since ${b.since})`, data: { listener: b.listener, kind: b.kind } });
  }
  return events;
}

/** `grid/service:port/PROTO` → `grid/service` (service and grid names are DNS labels: no ':' or '/'). */
function ownerOf(key: string): string {
  const colon = key.lastIndexOf(':');
  return colon < 0 ? key : key.slice(0, colon);
}

/** `grid/service:80/TCP` → `80/TCP`. */
function servicePortOf(key: string): string {
  const colon = key.lastIndexOf(':');
  return colon < 0 ? '' : key.slice(colon + 1);
}
