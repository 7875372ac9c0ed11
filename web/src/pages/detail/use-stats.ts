import { useEffect, useState } from 'react';
import { useSession } from '../../session/session.js';
import { appendSample } from './sparkline.js';

/** How often stats are read while the page is visible: the page's one periodic request. */
export const STATS_INTERVAL_MS = 5000;
/** Samples kept per instance for its sparkline (5 min at 5 s). */
export const STATS_KEPT = 60;

/** Recent CPU (percent of a core) and memory (bytes) samples of one instance, oldest first. */
export interface StatsSeries {
  readonly cpu: readonly number[];
  readonly memory: readonly number[];
}

/**
 * The service's per-instance stats (`GET …/stats`), read every STATS_INTERVAL_MS only while
 * `enabled` and the document is visible (document.visibilityState): a hidden tab sends nothing, and
 * reads at once when shown again. Keyed by instance id; a failed read is skipped (the next one retries).
 */
export function useStats(grid: string, name: string, enabled: boolean): ReadonlyMap<string, StatsSeries> {
  const { client } = useSession();
  const [series, setSeries] = useState<ReadonlyMap<string, StatsSeries>>(new Map());

  useEffect(() => {
    if (!enabled) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    let busy = false; // one read at a time: a visibility change during a read does not start a second chain
    const read = async (): Promise<void> => {
      timer = undefined;
      if (stopped || busy || document.visibilityState !== 'visible') return;
      busy = true;
      try {
        const items = await client.stats(grid, name);
        if (stopped) return;
        setSeries((prev) => {
          const next = new Map<string, StatsSeries>();
          for (const s of items) {
            const old = prev.get(s.instance);
            next.set(s.instance, { cpu: appendSample(old?.cpu, s.cpuPercent, STATS_KEPT), memory: appendSample(old?.memory, s.memoryBytes, STATS_KEPT) });
          }
          return next;
        });
      } catch {
        // A missed sample: the next read retries (no storm: still one per interval).
      } finally {
        busy = false;
      }
      if (!stopped && document.visibilityState === 'visible') timer = setTimeout(() => void read(), STATS_INTERVAL_MS);
    };
    const onVisibility = (): void => {
      if (document.visibilityState === 'visible' && timer === undefined && !busy) void read();
      else if (document.visibilityState !== 'visible' && timer !== undefined) {
        clearTimeout(timer);
        timer = undefined;
      }
    };
    document.addEventListener('visibilitychange', onVisibility);
    void read();
    return () => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisibility);
    };
  }, [client, grid, name, enabled]);
  return series;
}
