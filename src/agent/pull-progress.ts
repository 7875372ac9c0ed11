import type { PullProgress } from '../drivers/index.js';
import type { InstanceStatus } from '../model/index.js';

type Layer = { id: string; status: string; current?: number; total?: number };

/** How a PullReporter speaks: through the runner's status reports. */
export interface PullReports {
  /** A `starting` status; with `event`, an `instance.image_pulling` event of that message too. */
  status(partial: Pick<InstanceStatus, 'state' | 'message' | 'pull'>, event?: string): void;
  /** The pull is over: an `instance.image_pulled` event. */
  pulled(message: string, data: { image: string; layers: number }): void;
}

/**
 * The engine pulls an image for an instance: said once as an event, then as the status's `pull` (per
 * layer, as `docker pull` shows it) at most twice a second, so a big pull does not write the store per
 * byte; when the containers started (or failed to), one event with the pull's time.
 */
export class PullReporter {
  private pulling: { image: string; layers: Map<string, Layer>; began: number; reportedAt: number } | undefined;

  constructor(
    private readonly now: () => number,
    private readonly name: () => string,
    private readonly reports: PullReports,
  ) {}

  progress(p: PullProgress): void {
    const now = this.now();
    if (!this.pulling || this.pulling.image !== p.image) {
      this.pulling = { image: p.image, layers: new Map(), began: now, reportedAt: now };
      this.reports.status({ state: 'starting', message: `pulling image ${p.image}` }, `${this.name()} pulling image ${p.image}`);
    }
    if (p.layer) this.pulling.layers.set(p.layer, { id: p.layer, status: p.status, ...(p.current !== undefined ? { current: p.current } : {}), ...(p.total !== undefined ? { total: p.total } : {}) });
    if (now - this.pulling.reportedAt < 500) return;
    this.pulling.reportedAt = now;
    const layers = [...this.pulling.layers.values()];
    const done = layers.filter((l) => /complete|already exists/i.test(l.status)).length;
    this.reports.status({ state: 'starting', message: `pulling image ${p.image}: ${done}/${layers.length} layers done`, pull: { image: p.image, layers } });
  }

  /** After the containers started (or failed to): the pull, if one ran, is over. */
  ended(): void {
    const pull = this.pulling;
    if (!pull) return;
    this.pulling = undefined;
    const secs = ((this.now() - pull.began) / 1000).toFixed(1);
    this.reports.pulled(`${this.name()} pulled image ${pull.image} (${pull.layers.size} layers) in ${secs} s`, { image: pull.image, layers: pull.layers.size });
  }
}
