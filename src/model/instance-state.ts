/*
 * Instance states only move forward (swarmkit's TaskState as a lamport clock). A restart is a new
 * instance in the same slot, never a state moving back.
 *
 *   new ──▶ pending ──▶ starting ──▶ running ──▶ complete   (exited 0)
 *                │           │           ├────▶ failed     (exited ≠ 0, or killed)
 *                │           └──────────▶├────▶ shutdown   (stopped because desired state said so)
 *                └──────────────────────▶└────▶ rejected   (could not be started: bad command, no driver)
 *
 *   new       created by a controller, not yet seen by an agent
 *   pending   the agent accepted it and prepares it (directories, address)
 *   starting  the driver is starting its containers
 *   running   every container has started
 *   complete / failed / shutdown / rejected   terminal; the process is gone
 */
export const INSTANCE_STATES = ['new', 'pending', 'starting', 'running', 'complete', 'failed', 'shutdown', 'rejected'] as const;
export type InstanceState = (typeof INSTANCE_STATES)[number];

const ORDER: Record<InstanceState, number> = {
  new: 0, pending: 100, starting: 200, running: 300, complete: 400, failed: 500, shutdown: 600, rejected: 700,
};

/** The state an instance's desired state may name: keep it running, or stop it. */
export type DesiredState = 'running' | 'shutdown';

export function isTerminal(state: InstanceState): boolean {
  return ORDER[state] >= ORDER.complete;
}

/** True when moving from `from` to `to` keeps the order (terminal states never change). */
export function canAdvance(from: InstanceState, to: InstanceState): boolean {
  if (isTerminal(from)) return from === to;
  return ORDER[to] >= ORDER[from];
}
