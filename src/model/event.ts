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
  | 'instance.created'
  | 'instance.started'
  | 'instance.exited'
  | 'instance.restarting'
  | 'instance.restart_exhausted'
  | 'instance.stopping'
  | 'instance.stopped'
  | 'instance.rejected'
  | 'instance.adopted';

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
