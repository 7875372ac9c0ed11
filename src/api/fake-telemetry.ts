import type { Instance, InstanceStats, LogLine, UnreachableNode } from '../model/index.js';
import type { Telemetry } from './ports.js';

/**
 * A Telemetry double with knobs, for API tests (and anyone testing against the port): `lines` are the
 * stored log lines, `push` adds a live one for followers, `logsError` / `statsError` make the next call
 * fail, `unreachable` are nodes reported missing (their instances' lines and stats left out), and every
 * call is recorded.
 */
export class FakeTelemetry implements Telemetry {
  lines: LogLine[] = [];
  logsError: Error | undefined;
  statsError: Error | undefined;
  unreachable: UnreachableNode[] = [];
  readonly logsCalls: { instances: readonly Instance[]; options: Parameters<Telemetry['logs']>[1] }[] = [];
  readonly statsCalls: (readonly Instance[])[] = [];
  /** Followers currently waiting, with the signal they were given. */
  readonly followers = new Set<{ ids: Set<string>; wake: () => void; signal: AbortSignal | undefined }>();
  private live: LogLine[] = [];

  push(line: LogLine): void {
    this.live.push(line);
    for (const f of this.followers) f.wake();
  }

  async *logs(instances: readonly Instance[], options: Parameters<Telemetry['logs']>[1]): AsyncIterable<LogLine> {
    this.logsCalls.push({ instances, options });
    if (this.logsError) throw this.logsError;
    for (const u of this.unreachable) options.onUnreachable?.(u);
    const missing = new Set(this.unreachable.flatMap((u) => u.instances));
    const ids = new Set(instances.map((i) => i.id).filter((id) => !missing.has(id)));
    let selected = this.lines.filter((l) => ids.has(l.instance) && (options.since === undefined || l.time >= options.since));
    if (options.tail !== undefined) selected = selected.slice(Math.max(0, selected.length - options.tail));
    yield* selected;
    if (!options.follow) return;
    let seen = this.live.length;
    const follower = { ids, wake: () => {}, signal: options.signal };
    this.followers.add(follower);
    try {
      while (!options.signal?.aborted) {
        for (; seen < this.live.length; seen++) {
          const line = this.live[seen] as LogLine;
          if (ids.has(line.instance)) yield line;
        }
        await new Promise<void>((resolve) => {
          follower.wake = resolve;
          options.signal?.addEventListener('abort', () => resolve(), { once: true });
        });
      }
    } finally {
      this.followers.delete(follower);
    }
  }

  async stats(instances: readonly Instance[], options: Parameters<Telemetry['stats']>[1] = {}): Promise<InstanceStats[]> {
    this.statsCalls.push(instances);
    if (this.statsError) throw this.statsError;
    for (const u of this.unreachable) options.onUnreachable?.(u);
    const missing = new Set(this.unreachable.flatMap((u) => u.instances));
    return instances.filter((i) => !missing.has(i.id)).map((i) => ({ instance: i.id, slot: i.slot, time: '2026-01-01T00:00:00.000Z', cpuPercent: 1.5, memoryBytes: 1024, processes: 1 }));
  }
}
