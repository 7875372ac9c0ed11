import type { Clock } from '../lib/index.js';
import { systemClock } from '../lib/index.js';
import type { InstanceHealth, Probe, ProbeKind, ProbeStatus } from '../model/index.js';
import type { ProbeOutcome } from './probe-handlers.js';

/** One probe of one container, ready to run. */
export interface ProbeSpec {
  readonly kind: ProbeKind;
  readonly container: string;
  readonly probe: Probe;
  /** How the probe is shown: "GET http://127.10.0.3:8080/health" (describeProbe). */
  readonly target: string;
  /** One run, bounded by the probe's timeoutSeconds; never rejects (runProbe). */
  run(signal: AbortSignal): Promise<ProbeOutcome>;
}

/**
 * What changed, with the probe that changed it:
 * - started: the instance's last startup probe passed (readiness and liveness now run);
 * - ready: the instance became ready (`first` the first time since it started);
 * - unready: a readiness probe reached its failure threshold (the instance is not ready);
 * - unhealthy: a liveness probe, or a startup probe, reached its failure threshold — the instance must
 *   be stopped; the prober has stopped probing;
 * - probe: a probe's result changed without changing the instance's state (e.g. liveness unknown → success).
 */
export type HealthTransition =
  | { readonly type: 'started' | 'unready' | 'unhealthy' | 'probe'; readonly probe: ProbeStatus }
  | { readonly type: 'ready'; readonly probe: ProbeStatus; readonly first: boolean };

export interface ProberOptions {
  readonly probes: readonly ProbeSpec[];
  /** When the instance's containers started (epoch ms): initial delays count from here. Default: now. */
  readonly startedAt?: number;
  readonly clock?: Clock;
  /**
   * Fast start: until the instance has been ready once, readiness and startup probes also run every
   * `fastStartMs` between their regular ticks; those extra runs count only when they pass. Default 100;
   * 0 turns it off (Kubernetes' behaviour).
   */
  readonly fastStartMs?: number;
  /**
   * The health reported before berth restarted: results, counters and readySince carry on, so a
   * re-adopted instance keeps its readiness until new results say otherwise (and gets no fast start
   * if it had been ready).
   */
  readonly previous?: InstanceHealth;
  /** Called with the transitions of one result and the health after them; never after `stop()`. */
  readonly onChange: (transitions: readonly HealthTransition[], health: InstanceHealth) => void;
}

interface Worker {
  readonly spec: ProbeSpec;
  result: ProbeStatus['result'];
  successes: number;
  failures: number;
  lastOutput: string;
  lastCheckedAt: string | undefined;
  /** A startup probe that passed runs no more (as kubelet). */
  done: boolean;
  /** A regular tick found the probe gated: it runs as soon as the startup probe passes. */
  owed: boolean;
  /** Ends the worker's current sleep early (startup passed: gated probes may run now). */
  wake: (() => void) | undefined;
}

/**
 * Kubernetes' prober for one instance: one worker per probe, each running its probe after
 * initialDelaySeconds and then every periodSeconds, and flipping the probe's result after
 * successThreshold consecutive successes or failureThreshold consecutive failures. Startup probes gate
 * their container's readiness and liveness probes until they pass.
 *
 * Better than kubelet at start: until the instance has been ready once, readiness (and startup)
 * probes also run every `fastStartMs` between ticks, and only their successes count — a failure between
 * ticks never moves a probe towards its failure threshold. An instance is then ready about 100 ms after
 * it starts listening, not a period later. The first run, at the initial delay, is such a fast run, so
 * the first failure that counts is one period after the initial delay (a process just started is not
 * listening yet; kubelet would count that failure and report it).
 *
 * Health is derived, never stored twice: started = every startup probe passed; live = no liveness or
 * startup probe reached its failure threshold; ready = started, live and every readiness probe passing.
 * Invariants: a probe's runs never overlap; nothing runs, and `onChange` is not called, after `stop()`.
 */
export class Prober {
  private readonly workers: Worker[];
  private readonly clock: Clock;
  private readonly fastStartMs: number;
  private readonly startedAt: number;
  private readonly abort = new AbortController();
  private stopped = false;
  private readySince: string | undefined;
  private everReady: boolean;

  constructor(private readonly options: ProberOptions) {
    this.clock = options.clock ?? systemClock;
    this.fastStartMs = options.fastStartMs ?? 100;
    this.startedAt = options.startedAt ?? this.clock.now();
    const previous = options.previous?.probes ?? [];
    this.workers = options.probes.map((spec) => {
      const before = previous.find((p) => p.kind === spec.kind && p.container === spec.container);
      return {
        spec,
        result: before?.result ?? 'unknown',
        successes: before?.consecutiveSuccesses ?? 0,
        failures: before?.consecutiveFailures ?? 0,
        lastOutput: before?.lastOutput ?? '',
        lastCheckedAt: before?.lastCheckedAt,
        done: spec.kind === 'startup' && before?.result === 'success',
        owed: false,
        wake: undefined,
      };
    });
    const ready = this.state().ready;
    this.readySince = options.previous?.readySince ?? (ready ? new Date(this.startedAt).toISOString() : undefined);
    this.everReady = ready || this.readySince !== undefined;
  }

  /** The instance's health now: what the agent reports with the running status. */
  health(): InstanceHealth {
    const { started, ready, live } = this.state();
    return { started, ready, live, ...(this.readySince !== undefined ? { readySince: this.readySince } : {}), probes: this.workers.map((w) => this.status(w)) };
  }

  /** Starts every probe's worker. Call once. */
  start(): void {
    for (const w of this.workers) {
      this.loop(w).catch(() => undefined); // runs never reject; a clock that throws only ends the worker
    }
  }

  /** Stops every worker at once (a run in progress is aborted and its result dropped). Idempotent. */
  stop(): void {
    this.stopped = true;
    this.abort.abort(new Error('prober stopped'));
  }

  private state(): { started: boolean; ready: boolean; live: boolean } {
    const started = this.workers.every((w) => w.spec.kind !== 'startup' || w.result === 'success');
    const live = this.workers.every((w) => w.spec.kind === 'readiness' || w.result !== 'failure');
    const ready = started && live && this.workers.every((w) => w.spec.kind !== 'readiness' || w.result === 'success');
    return { started, ready, live };
  }

  private status(w: Worker): ProbeStatus {
    return {
      kind: w.spec.kind,
      container: w.spec.container,
      target: w.spec.target,
      result: w.result,
      consecutiveSuccesses: w.successes,
      consecutiveFailures: w.failures,
      lastOutput: w.lastOutput,
      ...(w.lastCheckedAt !== undefined ? { lastCheckedAt: w.lastCheckedAt } : {}),
    };
  }

  /** Readiness and liveness wait for their container's startup probe. */
  private gated(w: Worker): boolean {
    if (w.spec.kind === 'startup') return false;
    return this.workers.some((o) => o.spec.kind === 'startup' && o.spec.container === w.spec.container && o.result !== 'success');
  }

  private fast(w: Worker): boolean {
    return this.fastStartMs > 0 && !this.everReady && w.spec.kind !== 'liveness';
  }

  private async loop(w: Worker): Promise<void> {
    const { probe } = w.spec;
    const periodMs = probe.periodSeconds * 1000;
    const signal = this.abort.signal;
    const firstTick = this.startedAt + probe.initialDelaySeconds * 1000;
    // With fast start, the first run (at the initial delay) is a fast one: a process that was just
    // forked is not listening yet, and that says nothing. Failures count from one period later.
    let nextRegular = this.fast(w) ? firstTick + periodMs : firstTick;
    while (!signal.aborted && !w.done) {
      const now = this.clock.now();
      let regular: boolean;
      if (w.owed && !this.gated(w)) {
        regular = true; // the tick startup held back
        w.owed = false;
      } else if (now >= nextRegular) {
        regular = true;
        nextRegular += periodMs; // a ticker: a slow run does not push the schedule back …
        if (nextRegular <= now) nextRegular = now + periodMs; // … but missed ticks are skipped, not bunched
      } else if (this.fast(w) && now >= firstTick) {
        regular = false;
      } else {
        await this.sleep(w, (this.fast(w) && now < firstTick ? firstTick : nextRegular) - now);
        continue;
      }
      if (!this.gated(w)) {
        const outcome = await w.spec.run(signal);
        if (signal.aborted) return;
        this.record(w, outcome, regular);
      } else if (regular) {
        w.owed = true;
      }
      const wait = nextRegular - this.clock.now();
      await this.sleep(w, this.fast(w) ? Math.min(this.fastStartMs, wait) : wait);
    }
  }

  private async sleep(w: Worker, ms: number): Promise<void> {
    if (ms <= 0 || this.abort.signal.aborted) return;
    // Linked by hand, not with AbortSignal.any: composite signals of a long-lived one leak in Node
    // (nodejs/node#55351), and a prober lives as long as its instance.
    const wake = new AbortController();
    const end = (): void => wake.abort();
    this.abort.signal.addEventListener('abort', end, { once: true });
    w.wake = end;
    try {
      await this.clock.sleep(ms, wake.signal);
    } catch {
      // woken or stopped
    } finally {
      this.abort.signal.removeEventListener('abort', end);
      w.wake = undefined;
    }
  }

  /** Counts one result; regular runs count both ways, fast-start runs only when they pass. */
  private record(w: Worker, outcome: ProbeOutcome, regular: boolean): void {
    const at = new Date(this.clock.now()).toISOString();
    if (outcome.ok) {
      w.successes++;
      w.failures = 0;
    } else if (regular) {
      w.failures++;
      w.successes = 0;
    } else {
      w.successes = 0; // a fast-start failure breaks a run of successes, and is otherwise not counted
      return;
    }
    w.lastOutput = outcome.output;
    w.lastCheckedAt = at;
    // Kubernetes requires successThreshold 1 for liveness and startup probes.
    const successThreshold = w.spec.kind === 'readiness' ? w.spec.probe.successThreshold : 1;
    if (outcome.ok && w.result !== 'success' && w.successes >= successThreshold) this.flip(w, 'success');
    else if (!outcome.ok && w.result !== 'failure' && w.failures >= w.spec.probe.failureThreshold) this.flip(w, 'failure');
  }

  private flip(w: Worker, result: 'success' | 'failure'): void {
    const before = this.state();
    w.result = result;
    if (w.spec.kind === 'startup' && result === 'success') w.done = true;
    const after = this.state();
    const probe = this.status(w);
    const transitions: HealthTransition[] = [];
    if (!after.live) transitions.push({ type: 'unhealthy', probe });
    else {
      if (after.started && !before.started) transitions.push({ type: 'started', probe });
      if (after.ready && !before.ready) {
        transitions.push({ type: 'ready', probe, first: !this.everReady });
        this.readySince = new Date(this.clock.now()).toISOString();
        this.everReady = true;
      } else if (w.spec.kind === 'readiness' && result === 'failure') transitions.push({ type: 'unready', probe });
      if (transitions.length === 0) transitions.push({ type: 'probe', probe });
    }
    if (!this.stopped) this.options.onChange(transitions, this.health());
    if (!after.live) this.abort.abort(new Error('unhealthy: the instance is being stopped'));
    else if (after.started && !before.started) for (const o of this.workers) o.wake?.();
  }
}
