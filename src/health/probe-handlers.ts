import { request } from 'node:http';
import { connect } from 'node:net';
import { formatDuration } from '../lib/index.js';
import type { Probe } from '../model/index.js';

/** What one probe run saw. `output` is at most MAX_PROBE_OUTPUT bytes. */
export interface ProbeOutcome {
  readonly ok: boolean;
  /** "HTTP 200", "HTTP 503: not ready", "connect ECONNREFUSED 127.10.0.3:8080", "exit 1: …", "timed out after 1s". */
  readonly output: string;
}

/** What a handler needs to know of the instance it probes. */
export interface ProbeContext {
  /** The instance's address: the default host of httpGet and tcpSocket. */
  readonly address: string;
  /** A port number as is; a name as the container's port of that name; undefined for an unknown name. */
  resolvePort(port: number | string): number | undefined;
  /**
   * Runs an exec probe's command beside the container (the driver's exec); absent when the driver
   * cannot. Resolves for every outcome of the command.
   */
  exec?(argv: readonly string[], options: { readonly timeoutMs: number; readonly signal: AbortSignal }): Promise<{ exitCode: number; output: string; timedOut: boolean }>;
}

/** Probe output kept per result, bytes (InstanceHealth's `lastOutput` bound). */
export const MAX_PROBE_OUTPUT = 1024;
/** Body bytes of a failing HTTP answer shown in the output ("HTTP 503: <first 200 bytes>"). */
const HTTP_BODY_SHOWN = 200;
/** As kubelet's "kube-probe/<version>": lets a server tell probes from users in its access log. */
const USER_AGENT = 'berth-probe/1';

/**
 * Runs one probe once (Kubernetes' prober handlers):
 * - httpGet: GET `http://<host ?? address>:<port><path>` with the probe's headers on a fresh connection;
 *   success is a status 200–399 (redirects are not followed: a 3xx counts as success, as kubelet counts
 *   a redirect to another host);
 * - tcpSocket: success when a TCP connect completes;
 * - exec: success when the command exits 0.
 * A run that takes longer than `timeoutMs` fails with "timed out after …". Never rejects; aborting
 * `signal` ends the run at once (its outcome is then meaningless and the caller drops it).
 */
export async function runProbe(probe: Probe, context: ProbeContext, timeoutMs: number, signal: AbortSignal): Promise<ProbeOutcome> {
  // The run's own signal: the caller's, or the timeout. Linked by hand, not with AbortSignal.any
  // (composite signals of a long-lived one leak in Node, nodejs/node#55351).
  const run = new AbortController();
  const both = run.signal;
  const stop = (): void => run.abort(signal.reason);
  signal.addEventListener('abort', stop, { once: true });
  if (signal.aborted) stop();
  const timer = setTimeout(() => run.abort(new Error(`timed out after ${formatDuration(timeoutMs)}`)), timeoutMs);
  try {
    const handled = probe.httpGet
      ? httpGet(probe.httpGet, context, both)
      : probe.tcpSocket
        ? tcpSocket(probe.tcpSocket, context, both)
        : execCommand(probe.exec?.command ?? [], context, timeoutMs, signal);
    // Whatever a handler (or a driver's exec) does, the run ends at the timeout.
    const outcome = await Promise.race([handled, rejectOnAbort(both)]);
    return { ok: outcome.ok, output: boundOutput(outcome.output) };
  } catch (error) {
    const reason: unknown = both.aborted ? both.reason : error;
    return { ok: false, output: boundOutput(reason instanceof Error ? reason.message : String(reason)) };
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', stop);
  }
}

function rejectOnAbort(signal: AbortSignal): Promise<never> {
  return new Promise<never>((_resolve, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/** Cuts `text` to MAX_PROBE_OUTPUT bytes of UTF-8, on a character boundary. */
export function boundOutput(text: string): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= MAX_PROBE_OUTPUT) return text;
  let end = MAX_PROBE_OUTPUT;
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--; // not inside a multi-byte character
  return bytes.subarray(0, end).toString('utf8');
}

function portOf(port: number | string, context: ProbeContext): number {
  const resolved = context.resolvePort(port);
  if (resolved === undefined) throw new Error(`the container has no port named "${String(port)}"`);
  return resolved;
}

function httpGet(action: NonNullable<Probe['httpGet']>, context: ProbeContext, signal: AbortSignal): Promise<ProbeOutcome> {
  const port = portOf(action.port, context);
  const headers: Record<string, string> = { 'user-agent': USER_AGENT, accept: '*/*', connection: 'close' };
  for (const h of action.httpHeaders) headers[h.name.toLowerCase()] = h.value;
  return new Promise<ProbeOutcome>((resolve, reject) => {
    const req = request({ host: action.host ?? context.address, port, path: action.path, method: 'GET', headers, agent: false, signal }, (res) => {
      const status = res.statusCode ?? 0;
      const ok = status >= 200 && status < 400;
      if (ok) {
        res.destroy(); // the body of a success says nothing more
        resolve({ ok, output: `HTTP ${status}` });
        return;
      }
      const body: Buffer[] = [];
      let size = 0;
      const done = (): void => {
        const text = Buffer.concat(body).subarray(0, HTTP_BODY_SHOWN).toString('utf8').trim();
        res.destroy();
        resolve({ ok, output: text ? `HTTP ${status}: ${text}` : `HTTP ${status}` });
      };
      res.on('data', (chunk: Buffer) => {
        body.push(chunk);
        size += chunk.length;
        if (size >= HTTP_BODY_SHOWN) done();
      });
      res.once('end', done);
      res.once('error', done); // the status is known: a body cut short does not change the answer
    });
    req.on('error', reject);
    req.end();
  });
}

function tcpSocket(action: NonNullable<Probe['tcpSocket']>, context: ProbeContext, signal: AbortSignal): Promise<ProbeOutcome> {
  const port = portOf(action.port, context);
  const host = action.host ?? context.address;
  return new Promise<ProbeOutcome>((resolve, reject) => {
    const socket = connect({ host, port, signal });
    socket.once('connect', () => {
      socket.destroy();
      resolve({ ok: true, output: `connected to ${host}:${port}` });
    });
    socket.on('error', reject);
  });
}

async function execCommand(argv: readonly string[], context: ProbeContext, timeoutMs: number, signal: AbortSignal): Promise<ProbeOutcome> {
  if (!context.exec) return { ok: false, output: 'this driver cannot run exec probes' };
  const result = await context.exec(argv, { timeoutMs, signal });
  if (result.timedOut) return { ok: false, output: `timed out after ${formatDuration(timeoutMs)}` };
  const text = result.output.trim();
  if (result.exitCode === 0) return { ok: true, output: text };
  return { ok: false, output: text ? `exit ${result.exitCode}: ${text}` : `exit ${result.exitCode}` };
}
