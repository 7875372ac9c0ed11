import { readFile } from 'node:fs/promises';
import { AsyncChannel } from '../lib/index.js';
import type { Instance, InstanceStats, LogLine } from '../model/index.js';
import { isTerminal } from '../model/index.js';
import type { ContainerHandle, ContainerLogLine, ContainerStats, Driver } from '../drivers/index.js';
import { handleFile } from './instance-files.js';

export interface LogQuery {
  readonly tail?: number;
  readonly since?: string;
  readonly follow?: boolean;
  readonly signal?: AbortSignal;
  /**
   * While following: called with a time (RFC 3339, nanoseconds) once every line older than it has been
   * yielded, so a consumer can merge another stream in order (the timeline of `logs --events`).
   */
  readonly onWatermark?: (time: string) => void;
}

/** Where instances come from: a fixed list, or a function re-read while following (restarts appear). */
export type InstanceSource = readonly Instance[] | (() => readonly Instance[]);

/** Lines that arrive within this window are sorted before they are sent (log readers lag a little). */
const REORDER_WINDOW_MS = 200;
/** How often followed lines are flushed, and how often instances without all their readers are looked for. */
const FLUSH_MS = 50;
const SCAN_MS = 100;
/** Samples older than this are not used as the start of a CPU interval. */
const SAMPLE_MAX_AGE_MS = 10_000;
/** Interval of the first CPU measurement of an instance. */
const FIRST_SAMPLE_MS = 250;

/**
 * Logs and stats of instances, read through the driver from what it keeps per container (handles are
 * found in `<dataDir>/instances/<id>/<container>.handle.json`, so ended instances' logs stay readable).
 * Logs of several instances are merged in time order: the history is sorted as a whole, and followed
 * lines pass through a short reorder window, so `logs -f` never interleaves by arrival (Swarm's bug).
 */
export class InstanceTelemetry {
  private readonly samples = new Map<string, { cpuTimeMs: number; at: number }>();

  constructor(
    private readonly driver: Driver,
    private readonly dataDir: string,
  ) {}

  async *logs(source: InstanceSource, query: LogQuery): AsyncIterable<LogLine> {
    const list = (): readonly Instance[] => (typeof source === 'function' ? source() : source);
    const cutoff = toNanoIso(Date.now());
    const history: LogLine[] = [];
    await Promise.all(
      list().map(async (inst) => {
        for (const { name, handle } of await this.handlesOf(inst)) {
          for await (const line of this.driver.logs(handle, { ...(query.tail !== undefined ? { tail: query.tail } : {}), ...(query.since ? { since: query.since } : {}) })) {
            if (query.follow && line.time >= cutoff) continue;
            history.push(tag(line, inst, name));
          }
        }
      }),
    );
    history.sort(byTime);
    const start = query.tail !== undefined ? Math.max(0, history.length - query.tail) : 0;
    for (let k = start; k < history.length; k++) yield history[k] as LogLine;
    if (!query.follow) return;
    query.onWatermark?.(cutoff);
    yield* this.follow(list, cutoff, query.signal, query.onWatermark);
  }

  private async *follow(list: () => readonly Instance[], since: string, signal: AbortSignal | undefined, onWatermark: ((time: string) => void) | undefined): AsyncIterable<LogLine> {
    const channel = new AsyncChannel<{ lines: LogLine[]; watermark: string }>();
    const followed = new Set<string>();
    // Instances whose every container has a reader (or that ended): later scans skip them.
    const settled = new Set<string>();
    const abort = new AbortController();
    const onAbort = (): void => abort.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    let buffer: LogLine[] = [];
    // When the last complete scan started: every instance that existed then has its readers.
    let scannedAt = Date.now();
    let scanning = false;
    const attach = async (): Promise<void> => {
      if (scanning) return;
      scanning = true;
      const startedAt = Date.now();
      try {
        for (const inst of list()) {
          if (settled.has(inst.id) || abort.signal.aborted) continue;
          const handles = await this.handlesOf(inst);
          if (handles.length === inst.spec.containers.length || isTerminal(inst.status.state)) settled.add(inst.id);
          for (const { name, handle } of handles) {
            const key = `${inst.id}/${name}`;
            if (followed.has(key) || abort.signal.aborted) continue;
            followed.add(key);
            void (async () => {
              try {
                for await (const line of this.driver.logs(handle, { since, follow: true, signal: abort.signal })) buffer.push(tag(line, inst, name));
              } catch {
                // The reader ended (container gone, aborted): nothing more to read from it.
              }
            })();
          }
        }
        scannedAt = startedAt;
      } finally {
        scanning = false;
      }
    };
    await attach();
    // Lines older than `since` were the history's (the follow drops them): the watermark starts there.
    let lastWatermark = since;
    const flusher = setInterval(() => {
      // A line reaches the buffer within the reorder window of its time, once its instance has a
      // reader: what is older than both bounds has all arrived, and is sent in order.
      const limit = toNanoIso(Math.min(Date.now(), scannedAt) - REORDER_WINDOW_MS);
      const ready = buffer.filter((l) => l.time < limit).sort(byTime);
      if (ready.length > 0) buffer = buffer.filter((l) => l.time >= limit);
      if (ready.length > 0 || limit > lastWatermark) {
        if (limit > lastWatermark) lastWatermark = limit;
        channel.push({ lines: ready, watermark: lastWatermark });
      }
    }, FLUSH_MS);
    // New instances (a scale, a restart) are found within a scan period; settled ones cost nothing.
    const rescan = setInterval(() => void attach(), SCAN_MS);
    abort.signal.addEventListener('abort', () => {
      clearInterval(flusher);
      clearInterval(rescan);
      channel.close();
    }, { once: true });
    try {
      for await (const batch of channel) {
        yield* batch.lines;
        onWatermark?.(batch.watermark);
      }
    } finally {
      abort.abort();
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** CPU % over the interval since the previous sample (or a fresh 250 ms one) and memory, per instance. */
  async stats(instances: readonly Instance[]): Promise<InstanceStats[]> {
    const first = await Promise.all(instances.map((inst) => this.sample(inst)));
    const needFresh = instances.filter((inst, k) => {
      const prev = this.samples.get(inst.id);
      return first[k] !== undefined && (!prev || (first[k] as ContainerStats).sampledAt - prev.at > SAMPLE_MAX_AGE_MS);
    });
    if (needFresh.length > 0) {
      needFresh.forEach((inst) => {
        const s = first[instances.indexOf(inst)] as ContainerStats;
        this.samples.set(inst.id, { cpuTimeMs: s.cpuTimeMs, at: s.sampledAt });
      });
      await new Promise((r) => setTimeout(r, FIRST_SAMPLE_MS));
    }
    const out: InstanceStats[] = [];
    for (const inst of instances) {
      const now = needFresh.includes(inst) ? await this.sample(inst) : first[instances.indexOf(inst)];
      if (!now) continue;
      const prev = this.samples.get(inst.id);
      const dt = prev ? now.sampledAt - prev.at : 0;
      const cpuPercent = prev && dt > 0 ? Math.max(0, ((now.cpuTimeMs - prev.cpuTimeMs) / dt) * 100) : 0;
      this.samples.set(inst.id, { cpuTimeMs: now.cpuTimeMs, at: now.sampledAt });
      out.push({ instance: inst.id, slot: inst.slot, time: new Date().toISOString(), cpuPercent: Math.round(cpuPercent * 10) / 10, memoryBytes: now.memoryBytes, processes: now.processes });
    }
    return out;
  }

  /** Sum of the instance's containers' samples; undefined when none is running. */
  private async sample(inst: Instance): Promise<ContainerStats | undefined> {
    const parts = (await Promise.all((await this.handlesOf(inst)).map(({ handle }) => this.driver.stats(handle)))).filter((s): s is ContainerStats => s !== undefined);
    if (parts.length === 0) return undefined;
    return parts.reduce((a, b) => ({ cpuTimeMs: a.cpuTimeMs + b.cpuTimeMs, memoryBytes: a.memoryBytes + b.memoryBytes, processes: a.processes + b.processes, sampledAt: Math.max(a.sampledAt, b.sampledAt) }));
  }

  private async handlesOf(inst: Instance): Promise<{ name: string; handle: ContainerHandle }[]> {
    const out: { name: string; handle: ContainerHandle }[] = [];
    for (const c of inst.spec.containers) {
      const name = c.name ?? inst.service;
      try {
        const saved = JSON.parse(await readFile(handleFile(this.dataDir, inst.id, name), 'utf8')) as { handle: ContainerHandle };
        out.push({ name, handle: saved.handle });
      } catch {
        // Never started (or its files were cleaned up): nothing to read.
      }
    }
    return out;
  }
}

function tag(line: ContainerLogLine, inst: Instance, container: string): LogLine {
  return { time: line.time, stream: line.stream, text: line.text, instance: inst.id, slot: inst.slot, container };
}

function byTime(a: LogLine, b: LogLine): number {
  return a.time < b.time ? -1 : a.time > b.time ? 1 : 0;
}

/** Epoch ms as RFC 3339 with 9 fractional digits, comparable with the shim's timestamps as strings. */
export function toNanoIso(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '000000Z');
}
