import type { IncomingMessage } from 'node:http';
import type Dockerode from 'dockerode';
import type { ContainerLogLine, LogReadOptions } from '../driver.js';
import { LogLineAssembler, normalizeRfc3339, RecentLines, Ring, TimeOrder } from './log-lines.js';
import { FrameDemuxer } from './stream-frames.js';

/** A normalised RFC 3339 time as the engine's `since`: unix seconds with nine fraction digits ("1795100645.123456789"). */
function unixSeconds(normalized: string): string {
  const seconds = Math.floor(Date.parse(`${normalized.slice(0, 19)}Z`) / 1000);
  return `${seconds}.${normalized.slice(20, 29)}`;
}

/**
 * Reads a container's log from the engine (GET /containers/{id}/logs, stdout and stderr, timestamps),
 * in time order across both streams for what is read at once (TimeOrder: the engine's own order is the
 * json-file's, which can differ by microseconds), in the engine's order while following. Containers without a TTY only
 * (the stream is then multiplexed; a TTY's is not, and the read fails).
 *
 * - `tail`: the last N lines. Without `since` the engine cuts (cheap); with `since`, the lines from
 *   `since` on are read and the last N of them kept here, as the process driver does (since, then tail).
 * - `since`: RFC 3339, any offset; passed to the engine as unix seconds with fraction, then applied
 *   exactly to each line's time (string compare of normalised times). A `since` that is not RFC 3339 is
 *   only compared as a string, as the process driver does.
 * - `follow`: then yields new lines until the container has exited and its log is read to the end, or
 *   `signal` aborts — which ends the iteration quietly. The engine's follow stream ends when the
 *   container stops, but Docker 20.10 leaves out a last line without newline (measured: every time);
 *   so when it ends, the container is inspected: still running (the engine dropped the stream) → follow
 *   again from the last line's time; stopped → one last plain read from there, which finds the rest.
 *   Lines read twice by these re-reads are yielded once (RecentLines).
 *
 * Lines: `time` is the line's engine timestamp normalised to UTC with nine fraction digits, `text` the
 * line without its newline (decoded as UTF-8 once whole). Docker cuts a line longer than 16 KiB into
 * 16 KiB pieces, each logged with its own time and without a newline but the last: they are joined
 * here, per stream, into the one line the container wrote, with the time of its first piece (as CRI
 * readers join P records) — up to MAX_JOINED_LINE_BYTES, past which the line is yielded in pieces of
 * that size. A last line written without a newline (the container exited after it) is yielded as a line.
 * With `tail` the engine counts pieces, not lines: a cut inside a long line yields its tail end only.
 *
 * @throws the engine client's error (HTTP 404 `no such container` …) from the first iteration.
 */
export function readContainerLogs(docker: Dockerode, containerId: string, options: LogReadOptions): AsyncIterable<ContainerLogLine> {
  return readLogs(docker, containerId, options);
}

const minTime = (a: string | undefined, b: string | undefined): string | undefined => (a === undefined ? b : b === undefined ? a : a < b ? a : b);
const maxTime = (a: string | undefined, b: string | undefined): string | undefined => (a === undefined ? b : b === undefined ? a : a > b ? a : b);

async function* readLogs(docker: Dockerode, containerId: string, options: LogReadOptions): AsyncGenerator<ContainerLogLine> {
  const { signal, follow = false } = options;
  if (signal?.aborted) return;
  const sinceTime = options.since === undefined ? undefined : normalizeRfc3339(options.since);
  const since = sinceTime ?? options.since;
  const keep = (line: ContainerLogLine): boolean => since === undefined || line.time >= since;
  const tail = options.tail === undefined ? undefined : Math.max(0, Math.floor(options.tail));
  const localTail = tail !== undefined && since !== undefined;

  if (!follow) {
    const ring = localTail ? new Ring<ContainerLogLine>(tail) : undefined;
    for await (const line of logPass(docker, containerId, { follow: false, since: sinceTime, tail: localTail ? undefined : tail, flush: true }, signal)) {
      if (!keep(line)) continue;
      if (ring) ring.push(line);
      else yield line;
    }
    if (ring && !signal?.aborted) yield* ring.drain();
    return;
  }

  const seen = new RecentLines();
  /** Every line logged before this time has been yielded, or cut on purpose (tail). */
  let floor = sinceTime;
  let resume = sinceTime;
  let engineTail = tail;
  if (localTail) {
    // since, then tail: read what is there, keep the last lines, then follow from the last line read.
    const ring = new Ring<ContainerLogLine>(tail);
    const pass = { follow: false, since: sinceTime, flush: false } as PassOptions;
    for await (const line of logPass(docker, containerId, pass, signal)) {
      floor = maxTime(floor, line.time);
      if (keep(line)) ring.push(line);
    }
    if (signal?.aborted) return;
    for (const line of ring.drain()) {
      seen.add(line);
      yield line;
    }
    resume = minTime(floor, pass.openSince);
    engineTail = undefined;
  }
  for (;;) {
    if (engineTail !== undefined) floor = maxTime(floor, normalizeRfc3339(new Date().toISOString())); // older lines: in the tail or cut
    const pass: PassOptions = { follow: true, since: resume, tail: engineTail, flush: false };
    for await (const line of logPass(docker, containerId, pass, signal)) {
      if (!keep(line) || seen.has(line)) continue;
      seen.add(line);
      floor = maxTime(floor, line.time);
      yield line;
    }
    if (signal?.aborted) return;
    engineTail = undefined;
    resume = minTime(floor, pass.openSince); // a line still open is read again whole
    if (await isRunning(docker, containerId)) {
      await new Promise((r) => setTimeout(r, 100)); // the engine dropped the stream: follow again
      continue;
    }
    for await (const line of logPass(docker, containerId, { follow: false, since: resume, flush: true }, signal)) {
      if (!keep(line) || seen.has(line)) continue;
      seen.add(line);
      yield line;
    }
    return;
  }
}

interface PassOptions {
  readonly follow: boolean;
  /** Normalised RFC 3339. */
  readonly since?: string | undefined;
  readonly tail?: number | undefined;
  /** Yield the lines still open at the end (a last line without newline); else leave them in `openSince`. */
  readonly flush: boolean;
  /** Set at the end of a pass that does not flush: the time of the oldest line left open. */
  openSince?: string;
}

/**
 * One request for the container's log: yields its lines, in the engine's order. Ends quietly when
 * `signal` aborts (nothing is yielded after it, even from a chunk already read); throws the engine's error.
 */
async function* logPass(docker: Dockerode, containerId: string, pass: PassOptions, signal: AbortSignal | undefined): AsyncGenerator<ContainerLogLine> {
  if (signal?.aborted) return;
  const query: Record<string, string | number | boolean> = { stdout: true, stderr: true, timestamps: true, follow: pass.follow };
  if (pass.tail !== undefined) query.tail = pass.tail;
  if (pass.since !== undefined) query.since = unixSeconds(pass.since);
  const request = new AbortController();
  const onAbort = (): void => request.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  let response: IncomingMessage | undefined;
  try {
    try {
      response = await new Promise<IncomingMessage>((resolve, reject) =>
        docker.modem.dial(
          {
            path: `/containers/${encodeURIComponent(containerId)}/logs?`,
            method: 'GET',
            options: query,
            isStream: true,
            abortSignal: request.signal,
            statusCodes: { 200: true, 404: 'no such container', 500: 'server error' },
          },
          (err, res) => (err ? reject(err) : resolve(res as IncomingMessage)),
        ),
      );
    } catch (e) {
      if (signal?.aborted) return;
      throw e;
    }
    const lines = new LogLineAssembler();
    const demuxer = new FrameDemuxer();
    // A read of what is there is put in time order across the two streams (TimeOrder); a followed
    // stream goes as the engine sends it (a line can come microseconds out of order there).
    const order = pass.follow ? undefined : new TimeOrder<ContainerLogLine>();
    try {
      for await (const chunk of response as AsyncIterable<Buffer>) {
        for (const frame of demuxer.push(chunk)) {
          for (const line of lines.push(frame.stream, frame.payload)) {
            if (signal?.aborted) return;
            const out = order ? order.push(line) : line;
            if (out) yield out;
          }
        }
      }
    } catch (e) {
      if (signal?.aborted) return; // quietly, as the contract says
      throw e;
    }
    if (signal?.aborted) return;
    const open = pass.flush ? [...lines.end()] : [];
    if (!pass.flush) pass.openSince = lines.openSince();
    if (order) {
      for (const line of open) order.push(line);
      yield* order.drain();
    } else yield* open;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    response?.destroy(); // a consumer that stopped early closes the engine's stream
  }
}

async function isRunning(docker: Dockerode, containerId: string): Promise<boolean> {
  try {
    return (await docker.getContainer(containerId).inspect()).State.Running;
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) return false;
    throw e;
  }
}
