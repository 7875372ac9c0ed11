/*
 * How the stub API (stub-api.ts) fakes a rollout's update status: the Swarm-style states a CLI waiting
 * on a deploy sees, and a rollout that fails and pauses or rolls back.
 */
import type { Instance, Service, UpdateStatus } from '../../model/index.js';

/** The stub's write primitives: each notifies the watch stream as the real store would. */
export interface StubSteps {
  setInstances(s: Service, change: (i: Instance) => Instance): Service;
  put(s: Service): Service;
  /** Runs `fn` one simulated step (`stepMs`) later. */
  later(fn: () => void): void;
  /** The next store revision. */
  bump(): number;
}

/** An update status as the server writes it for `state`. */
export function rolloutStatus(state: UpdateStatus['state'], s: Service, requestedAt: string, message: string): UpdateStatus {
  return {
    state, generation: s.generation, requestedAt, ...(s.deployment ? { fromGeneration: s.deployment.generation } : {}), startedAt: requestedAt, message,
    failedInstances: state === 'paused' || state === 'rollback_started' ? [`${s.name}-1-g${s.generation}r0`] : [],
    updatedInstances: state === 'completed' ? s.spec.replicas : 0, totalInstances: s.spec.replicas,
  };
}

/**
 * A rollout with failureAction continue whose slot 1 crashes (exit 3): the update `completed` with
 * failures — one slot fewer updated than it had — while the service stays `deploying`.
 */
export function degradeRollout(steps: StubSteps, s: Service, status: Service['status'], requestedAt: string): void {
  const crashed = steps.setInstances(s, (i) =>
    i.slot === 1 && i.generation === s.generation && i.status.state === 'running'
      ? { ...i, status: { ...i.status, state: 'failed', message: 'exited with code 3', exitCode: 3, finishedAt: new Date().toISOString() } }
      : i,
  );
  const n = s.spec.replicas;
  const message = `update to generation ${s.generation} completed with failures: ${n - 1}/${n} instance(s) ready, 1 failed (failureAction continue): ${s.name}-1 (generation ${s.generation}) failed: exited with code 3`;
  steps.put({ ...crashed, status: { ...status, phase: 'deploying', runningInstances: n - 1, update: { ...rolloutStatus('completed', s, requestedAt, message), updatedInstances: n - 1, failedInstances: [`${s.name}-1-g${s.generation}r0`] } } });
}

/**
 * A rollout that fails: slot 1's new instance fails its readiness probe; then the update is `paused`,
 * or (`rolls-back`, failureAction rollback) a new deployment with cause auto-rollback starts and
 * completes one step later.
 */
export function failRollout(steps: StubSteps, s: Service, status: Service['status'], requestedAt: string, outcome: 'pauses' | 'rolls-back'): void {
  const bad = steps.setInstances(s, (i) =>
    i.slot === 1 && i.generation === s.generation && i.status.state === 'running'
      ? { ...i, status: { ...i.status, health: { started: true, ready: false, live: true, probes: [{ kind: 'readiness', container: s.name, target: 'GET http://127.10.0.2:8080/health', result: 'failure', consecutiveSuccesses: 0, consecutiveFailures: 3, lastOutput: 'HTTP 503: warming up' }] } } }
      : i,
  );
  const why = `${s.name}-1 (new, generation ${s.generation}) failed: readiness probe GET http://127.10.0.2:8080/health failed 3 time(s): HTTP 503: warming up`;
  if (outcome === 'pauses') {
    steps.put({ ...bad, status: { ...status, phase: 'deploying', update: rolloutStatus('paused', s, requestedAt, `update to generation ${s.generation} paused: ${why}`) } });
    return;
  }
  const again = new Date(Date.parse(requestedAt) + 1).toISOString();
  const rollbackTo = s.generation - 1;
  const deployment = { generation: s.generation + 1, spec: s.spec, requestedAt: again, restartGeneration: 0, cause: 'auto-rollback' as const, rollbackTo };
  const rolling = steps.put({
    ...bad, generation: s.generation + 1, version: steps.bump(), deployment,
    status: { ...status, phase: 'deploying', update: { ...rolloutStatus('rollback_started', s, again, `update to generation ${s.generation} failed, rolling back to generation ${rollbackTo}: ${why}`), generation: s.generation + 1 } },
  });
  steps.later(() => {
    steps.put({ ...rolling, status: { ...rolling.status, phase: 'running', update: { ...rolloutStatus('rollback_completed', s, again, `rollback to generation ${rollbackTo} completed: ${s.spec.replicas}/${s.spec.replicas} instance(s) ready`), generation: s.generation + 1 } } });
  });
}
