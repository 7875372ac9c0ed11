/** Event types berth records in a service's history (Kontena's `service events`). */
export type EventType =
  | 'service.created'
  | 'service.updated'
  | 'service.deploy'
  | 'service.scaled'
  | 'service.started'
  | 'service.stopped'
  | 'service.restarted'
  | 'service.removing'
  | 'service.removed'
  | 'service.converged'
  /** Entered `degraded`: slots wait for a down node or for a node that fits, nothing on its way (said once per spell). */
  | 'service.degraded'
  /** The deployed spec cannot be run by this server (past a limit); nothing is started for it. */
  | 'service.unrunnable'
  /** New instances wait for free addresses of the instance range (said once, with the range). */
  | 'service.address_wait'
  | 'instance.created'
  | 'instance.started'
  | 'instance.image_pulling'
  | 'instance.image_pulled'
  | 'instance.exited'
  | 'instance.restarting'
  | 'instance.restart_exhausted'
  | 'instance.stopping'
  | 'instance.stopped'
  | 'instance.rejected'
  | 'instance.adopted'
  /** A stateful slot's data directory held data an earlier service of the same name left (rm without --volumes). */
  | 'instance.data_found'
  /** Probes (health): readiness passed / failed, liveness failed (the instance is restarted), startup passed. */
  | 'instance.ready'
  | 'instance.unready'
  | 'instance.unhealthy'
  | 'instance.started_probe'
  /** Zero-downtime stop: left the endpoints, waiting for open connections; then drained (or timed out). */
  | 'instance.draining'
  | 'instance.drained'
  /** Rollouts (Swarm's UpdateStatus states). */
  | 'service.update_started'
  | 'service.update_paused'
  | 'service.update_completed'
  | 'service.update_failed_instance'
  | 'service.rollback_started'
  | 'service.rollback_paused'
  | 'service.rollback_completed'
  /** The data plane: a host listener of the service could not be opened (with its error) / is open again. */
  | 'service.listener_failed'
  | 'service.listener_opened'
  /** A node that runs instances of the service stopped sending heartbeats (down) / sends them again. */
  | 'node.down'
  | 'node.ready';

export type EventSeverity = 'info' | 'warning' | 'error';

export interface ServiceEvent {
  /** Store revision at which it was recorded; increases with time. */
  readonly id: number;
  readonly time: string;
  readonly grid: string;
  readonly service: string;
  readonly type: EventType;
  readonly severity: EventSeverity;
  readonly message: string;
  readonly instance?: string;
  readonly slot?: number;
  readonly data?: Readonly<Record<string, unknown>>;
}

/** What a writer gives; the store assigns id and time. */
export type NewServiceEvent = Omit<ServiceEvent, 'id' | 'time'> & { time?: string };

/**
 * Routine events (severity info, about one instance) that a burst folds into one: Kubernetes' event
 * correlator combines similar events beyond 10 within its window into one ("combined from similar
 * events", client-go tools/record/events_cache.go EventAggregator). Warnings and errors are never folded:
 * `service why` reads them per instance.
 */
export const FOLDED_EVENT_TYPES: ReadonlySet<EventType> = new Set<EventType>(['instance.created', 'instance.started', 'instance.stopping', 'instance.stopped', 'instance.ready', 'instance.draining', 'instance.drained', 'instance.adopted']);

/** More than this many routine events of one type, service and write are folded into one (Kubernetes' maxEvents of the aggregator: 10). */
export const FOLD_FROM = 10;

/** Messages of a folded event's first events quoted in its message. */
const FOLDED_QUOTED = 3;

/** Instance ids a folded event lists in `data.instances` (the first ones; a pass of 500 creates would make every event 10 KB). */
export const FOLDED_IDS = 50;

/**
 * `events` with each group of more than `from` routine events (FOLDED_EVENT_TYPES, severity info) of the
 * same grid, service and type replaced by one event, where the group's first one was: its message
 * counts them and quotes the first three (`500 × instance.created: web.1 created (new) at …; … and 497
 * more`), `data.folded` is the count and `data.instances` the first FOLDED_IDS instance ids; it names no
 * instance or slot. A 10,000-replica apply then records tens of events, not 20,000 of which a service keeps 1,000
 * (docs/benchmarks.md, "Control plane at scale"). Other events pass as they are, in order.
 */
export function foldRoutineEvents(events: readonly NewServiceEvent[], from = FOLD_FROM): readonly NewServiceEvent[] {
  if (events.length <= from) return events;
  const groupOf = (e: NewServiceEvent): string | undefined =>
    e.severity === 'info' && e.instance !== undefined && FOLDED_EVENT_TYPES.has(e.type) ? `${e.grid}\u0000${e.service}\u0000${e.type}` : undefined;
  const groups = new Map<string, NewServiceEvent[]>();
  for (const e of events) {
    const key = groupOf(e);
    if (key === undefined) continue;
    const group = groups.get(key);
    if (group) group.push(e);
    else groups.set(key, [e]);
  }
  if (![...groups.values()].some((g) => g.length > from)) return events;
  const out: NewServiceEvent[] = [];
  for (const e of events) {
    const key = groupOf(e);
    const group = key === undefined ? undefined : groups.get(key);
    if (!group || group.length <= from) {
      out.push(e);
      continue;
    }
    if (group[0] !== e) continue; // folded into the group's first
    const first = group[0];
    const quoted = group.slice(0, FOLDED_QUOTED).map((g) => g.message).join('; ');
    out.push({
      grid: first.grid,
      service: first.service,
      type: first.type,
      severity: 'info',
      message: `${group.length} × ${first.type}: ${quoted}; … and ${group.length - FOLDED_QUOTED} more`,
      data: { folded: group.length, instances: group.slice(0, FOLDED_IDS).map((g) => g.instance as string) },
      ...(first.time !== undefined ? { time: first.time } : {}),
    });
  }
  return out;
}
