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
