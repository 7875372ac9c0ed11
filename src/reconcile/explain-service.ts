import type {
  ExplainedInstance,
  ExplanationEvidence,
  ExplanationReason,
  ExplanationVerdict,
  Instance,
  ProbeStatus,
  Service,
  ServiceEvent,
  ServiceExplanation,
  UpdateStatus,
} from '../model/index.js';
import { deployStateOf, describeNetworkOnly, failingProbe, healthWord, isReady, isTerminal, probeOutputLine, slotName } from '../model/index.js';
import { backoffResetAfterMs, describeEnd } from './restart-decision.js';
import { butListeners, listenerReasons, listenerSuggestions } from './explain-listeners.js';
import { groupBySlot } from './slot-groups.js';
import type { FailedUpdate } from './explain-summary.js';
import { suggestionsOf, summaryOf } from './explain-summary.js';

export interface ExplainOptions {
  /** The service's events, oldest first (the API passes those since the current deployment, at most a few hundred). */
  readonly events?: readonly ServiceEvent[];
  /** Epoch ms: how recent a restart must be to count as a crash loop (within 10 min, the back-off reset). */
  readonly now?: number;
  /**
   * Nodes the node controller marked down (no heartbeat for the grace): an instance there is not
   * counted ready, whatever its last status said (docs/scheduling.md, "Node loss"). Default none.
   */
  readonly downNodes?: ReadonlySet<string>;
}

/** How much a reason weighs in the verdict. */
type Weight = 'blocking' | 'warning' | 'progress';
interface Weighed {
  readonly weight: Weight;
  readonly reason: ExplanationReason;
}

/** A scheduler note after the service name: "-3 pending: …", "-3 and 2 more slot(s) pending: …", "-1 waits for node a …", "-1 stays on node a …". */
const PLACEMENT_NOTE = /^-(\d+) (and \d+ more slot\(s\) )?(pending:|waits for node|stays on node) /;

/**
 * Instances on their way (starting, stopping, draining) named one by one, per kind; more are one reason
 * that counts them. A rollout of 10,000 instances is explained in 50 lines, not 10,000 (each GET of the
 * service explains it: bench/control-plane-scale).
 */
export const PROGRESS_REASONS_PER_KIND = 50;

/**
 * Event types an instance's own reason already covers (its state, probe and exit code say more); a
 * `service.degraded` is the evidence of the scheduler's notes while degraded, and over once it is not.
 */
const COVERED_PREFIXES = ['instance.', 'service.update_', 'service.rollback_', 'service.listener_', 'service.degraded'];

/**
 * Why a service is (not) healthy, converged or paused: a root-cause verdict with the evidence.
 *
 * Reads the user's intent (removing, not deployed, stopped), the rollout's update status (paused,
 * rolled back, in progress, with the controller's message and failed instances), every slot's newest
 * instance and its history (rejected, crashed or crash-looping with exit code and signal, failing
 * probes with their last output, starting, draining), and warnings or errors in `events` that no
 * instance explains (e.g. an allocation refused), and host listeners that cannot be opened (the
 * data plane's ListenersOpen condition, with the system's error). Pure: no I/O, no clock (pass `now`).
 *
 * The first reason is the root cause the summary names; suggestions are commands or spec changes.
 * Log lines are not read here: the API adds them to the evidence (`lastLogLines`).
 */
export function explainService(service: Service, instances: readonly Instance[], options: ExplainOptions = {}): ServiceExplanation {
  const events = options.events ?? [];
  const name = service.name;
  const deployment = service.deployment;
  const bySlot = groupBySlot(instances);
  const down = options.downNodes;
  const readyNow = (i: Instance): boolean => isReady(i) && !(down?.has(i.node) ?? false);
  const overview = overviewOf(bySlot, readyNow);
  const base = { deployedGeneration: deployment?.generation ?? null, instances: overview };
  const alive = instances.filter((i) => !isTerminal(i.status.state)).length;
  // Listeners are served whatever the workload does (network-face changes need no deploy), so they are
  // explained even for a service that is stopped or not deployed.
  const listeners = listenerReasons(service);

  if (service.desired === 'removing') {
    // An instance on a down node stops only when its agent comes back: the removal waits for it.
    const held = instances.filter((i) => !isTerminal(i.status.state) && (down?.has(i.node) ?? false));
    const waits: ExplanationReason[] = held.map((i) => ({
      kind: 'unschedulable',
      message: `${slotName(name, i.slot)} is on node ${i.node}, which is down: it stops when that node's agent returns`,
      instance: i.id,
      slot: i.slot,
      generation: i.generation,
      evidence: { state: i.status.state },
    }));
    const nodes = [...new Set(held.map((i) => i.node))];
    const summary = `${name} is being removed${alive > 0 ? `: ${alive} instance(s) still stopping` : ''}${held.length > 0 ? `, ${held.length} of them on ${nodes.length === 1 ? 'a node' : 'nodes'} that ${nodes.length === 1 ? 'is' : 'are'} down (${nodes.join(', ')})` : ''}`;
    const suggestions = nodes.map((n) => `start node ${n}'s agent again (it stops the instance), or \`berth node rm --force ${n}\` if it will not come back (its instances then count as ended)`);
    return { ...base, verdict: 'removing', summary, reasons: [intent(`removal requested`), ...waits], suggestions };
  }
  if (!deployment && service.desired === 'running' && deployStateOf(service).kind === 'network-only') {
    // Nothing to deploy: the network face serves as stored (planService says the same).
    return { ...base, verdict: 'healthy', summary: `${name} has ${describeNetworkOnly(service.spec)}`, reasons: [], suggestions: [] };
  }
  if (!deployment) {
    return {
      ...base, verdict: 'not_deployed', summary: `${name} was created but never deployed: nothing runs${butListeners(listeners)}`,
      reasons: [intent('create and update do not deploy (Kontena)'), ...listeners], suggestions: [`\`berth service deploy ${name}\``, ...listenerSuggestions(listeners)],
    };
  }
  if (service.desired === 'stopped') {
    return {
      ...base, verdict: 'stopped', summary: `${name} is stopped${alive > 0 ? `: ${alive} instance(s) still stopping` : ''}${butListeners(listeners)}`,
      reasons: [intent('stop requested; instances stay stopped until start'), ...listeners], suggestions: [`\`berth service start ${name}\``, ...listenerSuggestions(listeners)],
    };
  }

  if (service.status.phase === 'failed') {
    // The controller found the deployed spec past this server's limits and runs nothing for it.
    return {
      ...base, verdict: 'failed', summary: `${name} cannot run: ${service.status.message}`,
      reasons: [{ kind: 'unrunnable', message: service.status.message, evidence: {} }],
      suggestions: [`\`berth service scale ${name} N\` with N within the limit, or \`berth service update ${name}\` then deploy`, 'docs/spec.md lists the limits'],
    };
  }

  const update = service.status.update?.requestedAt === deployment.requestedAt ? service.status.update : undefined;
  const failedUpdate = failedUpdateOf(service, events);
  const inRollout = update !== undefined && update.state !== 'completed' && update.state !== 'rollback_completed';
  const mark = (i: Instance): string => {
    const who = slotName(name, i.slot);
    if (failedUpdate?.generation !== undefined && i.generation === failedUpdate.generation) return `${who} (generation ${i.generation})`;
    if (!inRollout || !update) return who;
    if (i.generation === update.generation) return `${who} (new)`;
    return update.fromGeneration !== undefined && i.generation === update.fromGeneration ? `${who} (old)` : who;
  };
  // Each instance's newest event that is not info, found once (a service of 10,000 starting instances
  // looked through every event for each of them on every GET).
  const lastEvents = new Map<string, ServiceEvent>();
  for (const e of events) if (e.instance !== undefined && e.severity !== 'info') lastEvents.set(e.instance, e);
  const lastEventOf = (id: string): ServiceEvent | undefined => lastEvents.get(id);
  const notes = slotNotes(name, service.status.message);
  const explained = new Set<string>();
  // One failure per slot: a crash loop is one reason (its newest failure, with the restart count), not one per run.
  const failedSlots = new Set<number>();
  const weighed: Weighed[] = [];
  // Instances on their way (starting, stopping, draining) are named up to a limit per kind; the rest are counted.
  const progressCounts = new Map<ExplanationReason['kind'], number>();
  const add = (weight: Weight, i: Instance, reason: Omit<ExplanationReason, 'instance' | 'slot' | 'generation'>): void => {
    if (explained.has(i.id) || (weight === 'blocking' && failedSlots.has(i.slot))) return;
    explained.add(i.id);
    if (weight === 'progress') {
      const n = (progressCounts.get(reason.kind) ?? 0) + 1;
      progressCounts.set(reason.kind, n);
      if (n > PROGRESS_REASONS_PER_KIND) return;
    }
    if (weight === 'blocking') failedSlots.add(i.slot);
    const event = lastEventOf(i.id);
    const evidence = event && !reason.evidence.event ? { ...reason.evidence, event: eventEvidence(event) } : reason.evidence;
    weighed.push({ weight, reason: { ...reason, evidence, instance: i.id, slot: i.slot, generation: i.generation } });
  };

  // The rollout's failed instances first: they are what paused or rolled it back.
  const failedIds = new Set([...(failedUpdate?.instances ?? []), ...(update?.failedInstances ?? [])]);
  const failed = instances.filter((i) => failedIds.has(i.id)).sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
  for (const i of failed) explainFailure(i, mark(i), { add, notes, name, now: options.now, bySlot, force: true });
  for (const [, list] of [...bySlot.entries()].sort(([a], [b]) => a - b)) {
    for (const i of list.filter((x) => !isTerminal(x.status.state))) explainAlive(i, mark(i), { add, notes, name, now: options.now, bySlot, force: false });
    const last = list[0];
    if (last && isTerminal(last.status.state) && last.desiredState === 'running') explainFailure(last, mark(last), { add, notes, name, now: options.now, bySlot, force: false });
  }

  for (const [kind, n] of progressCounts) {
    if (n <= PROGRESS_REASONS_PER_KIND) continue;
    const what = kind === 'draining' ? 'draining' : 'starting or stopping';
    weighed.push({ weight: 'progress', reason: { kind, message: `and ${n - PROGRESS_REASONS_PER_KIND} more instance(s) ${what}`, evidence: {} } });
  }

  // The scheduler's notes (planService): slots that fit no node, wait for theirs, or cannot leave a draining one.
  // While degraded, the event that said so (since when, how many slots) is their evidence.
  const degradedEvent = service.status.phase === 'degraded' ? events.findLast((e) => e.type === 'service.degraded') : undefined;
  for (const note of notes) {
    const m = PLACEMENT_NOTE.exec(note.slice(name.length));
    if (!m) continue;
    const weight: Weight = m[3] === 'pending:' ? 'blocking' : 'warning';
    weighed.push({ weight, reason: { kind: 'unschedulable', message: note, evidence: degradedEvent ? { event: eventEvidence(degradedEvent) } : {}, slot: Number(m[1]) } });
  }

  const rollout = rolloutReason(service, update, failedUpdate);
  if (rollout) weighed.push({ weight: rollout.weight, reason: rollout.reason });
  for (const reason of listeners) weighed.push({ weight: 'blocking', reason });
  const seenTypes = new Set<string>();
  // Nodes that sent heartbeats again after going down (a newer `node.ready`): their `node.down` is over.
  const backUp = new Set<unknown>();
  for (const e of [...events].reverse()) {
    if (e.type === 'node.ready') backUp.add(e.data?.['node']);
    if (e.type === 'node.down' && backUp.has(e.data?.['node'])) continue;
    if (e.severity === 'info' || COVERED_PREFIXES.some((p) => e.type.startsWith(p)) || seenTypes.has(e.type)) continue;
    if (Date.parse(e.time) < Date.parse(deployment.requestedAt)) continue;
    seenTypes.add(e.type);
    weighed.push({ weight: e.severity === 'error' ? 'blocking' : 'warning', reason: { kind: 'event', message: e.message, evidence: { event: eventEvidence(e) } } });
  }

  const order: Record<Weight, number> = { blocking: 0, warning: 1, progress: 2 };
  const sorted = weighed
    .map((w, index) => ({ ...w, index, rolloutFirst: w.reason.kind !== 'rollout' && failedIds.has(w.reason.instance ?? '') ? 0 : 1 }))
    .sort((a, b) => a.rolloutFirst - b.rolloutFirst || order[a.weight] - order[b.weight] || a.index - b.index);
  const reasons = sorted.map((w) => w.reason);
  // Replicated: the deployed replicas (the controller's count may lag); global: the controller's count of ready nodes.
  const desired = deployment.spec.mode === 'replicated' ? deployment.spec.replicas : service.status.desiredInstances;
  const ready = instances.filter(readyNow).length;
  const verdict = verdictOf(sorted, { update, service, ready, desired });
  const root = reasons.find((r) => r.kind !== 'rollout');
  const summary = summaryOf(verdict, { service, update, failedUpdate, root, ready, desired, reasons });
  return { ...base, verdict, summary, reasons, suggestions: suggestionsOf(verdict, reasons, service, update) };
}

interface SlotContext {
  readonly add: (weight: Weight, i: Instance, reason: Omit<ExplanationReason, 'instance' | 'slot' | 'generation'>) => void;
  readonly notes: readonly string[];
  readonly name: string;
  readonly now: number | undefined;
  readonly bySlot: ReadonlyMap<number, Instance[]>;
  /** Explain even an instance that was stopped on purpose (it is a failed instance of the rollout). */
  readonly force: boolean;
}

/** An instance that ended: rejected, crashed (with the restart note of the service status), or failed its probes. */
function explainFailure(i: Instance, who: string, ctx: SlotContext): void {
  const s = i.status;
  const probe = failingProbe(i);
  const note = ctx.notes.find((n) => n.startsWith(`${slotName(ctx.name, i.slot)} `));
  const end: ExplanationEvidence = { state: s.state, message: s.message, ...exitOf(i), restarts: i.restarts };
  if (s.state === 'rejected') {
    ctx.add('blocking', i, { kind: 'rejected', message: `${who} could not start: ${s.message}`, evidence: end });
  } else if (probe) {
    ctx.add('blocking', i, { kind: 'probe_failing', message: probeMessage(who, probe), evidence: { ...end, probe: probeEvidence(probe) } });
  } else if (isTerminal(s.state) && (s.state !== 'shutdown' || ctx.force)) {
    // The controller's note says what happens next ("…; restarting in 4s (back-off 4000 ms)", "…; gave up after 3 restart attempt(s)").
    const newest = ctx.bySlot.get(i.slot)?.[0]?.id === i.id;
    const what = note && newest ? note.slice(note.indexOf(' ') + 1) : describeEnd(i);
    const restarts = i.restarts > 0 ? ` (restarted ${i.restarts} time${i.restarts === 1 ? '' : 's'} before)` : '';
    ctx.add('blocking', i, { kind: 'crashed', message: `${who} ${what}${restarts}`, evidence: end });
  }
}

/** A live instance: failing probe, crash loop, draining, or on its way. */
function explainAlive(i: Instance, who: string, ctx: SlotContext): void {
  const s = i.status;
  const probe = failingProbe(i);
  if (i.desiredState === 'shutdown') {
    const drain = s.drain;
    if (drain && drain.endedAt === undefined) {
      ctx.add('progress', i, { kind: 'draining', message: `${who} is draining (${i.desiredReason ?? 'stopping'}): ${drain.connections} open connection(s)`, evidence: { state: s.state, connections: drain.connections } });
    } else {
      ctx.add('progress', i, { kind: 'starting', message: `${who} is stopping (${i.desiredReason ?? 'asked to stop'})`, evidence: { state: s.state } });
    }
    return;
  }
  if (probe && s.state === 'running') {
    ctx.add('blocking', i, { kind: 'probe_failing', message: probeMessage(who, probe), evidence: { state: s.state, probe: probeEvidence(probe), restarts: i.restarts } });
    return;
  }
  const previous = (ctx.bySlot.get(i.slot) ?? []).find((x) => x.id !== i.id && isTerminal(x.status.state) && x.createdAt <= i.createdAt);
  const started = Date.parse(s.startedAt ?? i.createdAt);
  // Within the span that resets the restart back-off (restartPolicy.window, else 10 min).
  const recent = ctx.now === undefined || ctx.now - started < backoffResetAfterMs(i.spec.restartPolicy);
  if (i.restarts > 0 && previous && previous.status.state !== 'shutdown' && recent) {
    // One restart in the last 10 min is worth a warning; more is a crash loop even while it happens to be up.
    const weight: Weight = isReady(i) && i.restarts < 2 ? 'warning' : 'blocking';
    const message = `${who} is crash-looping: restarted ${i.restarts} time${i.restarts === 1 ? '' : 's'}; the last run ${describeEnd(previous)}`;
    ctx.add(weight, i, { kind: 'crashed', message, evidence: { state: s.state, message: previous.status.message, ...exitOf(previous), restarts: i.restarts } });
    return;
  }
  if (!isReady(i)) {
    const waiting = s.state === 'running' ? `running, waiting for its ${pendingProbe(i)}` : `${s.state}`;
    ctx.add('progress', i, { kind: 'starting', message: `${who} is ${waiting}`, evidence: { state: s.state } });
  }
}

function failedUpdateOf(service: Service, events: readonly ServiceEvent[]): FailedUpdate | undefined {
  if (service.deployment?.cause !== 'auto-rollback') return undefined;
  // The rollback the failure action started carries rollbackTo; a rollout's own start event does not.
  const tripped = [...events].reverse().find((e) => e.type === 'service.rollback_started' && e.data?.['rollbackTo'] !== undefined);
  const generation = typeof tripped?.data?.['generation'] === 'number' ? tripped.data['generation'] : undefined;
  const instances = events
    .filter((e) => e.type === 'service.update_failed_instance' && e.instance !== undefined && (generation === undefined || e.data?.['generation'] === generation))
    .map((e) => e.instance as string);
  return { generation, message: tripped?.message ?? '', instances };
}

function rolloutReason(service: Service, update: UpdateStatus | undefined, failed: FailedUpdate | undefined): Weighed | undefined {
  const deployment = service.deployment;
  if (!deployment) return undefined;
  if (!update) {
    if (service.status.phase !== 'deploying') return undefined;
    return { weight: 'progress', reason: { kind: 'rollout', message: `deploying generation ${deployment.generation}: ${service.status.message}`, evidence: {} } };
  }
  const progress = `${update.updatedInstances}/${update.totalInstances} updated`;
  const evidence: ExplanationEvidence = { message: update.message };
  switch (update.state) {
    // The controller's messages name the rollout already ("update to generation 4 paused: …").
    case 'paused':
    case 'rollback_paused':
      return { weight: 'blocking', reason: { kind: 'rollout', message: `${update.message || `${update.state.replace('_', ' ')} at generation ${update.generation}`} (${progress})`, evidence } };
    case 'rollback_started':
      return { weight: 'progress', reason: { kind: 'rollout', message: failed?.message && failed.message !== update.message ? `${failed.message}; ${update.message}` : update.message || `rolling back to generation ${deployment.rollbackTo ?? '?'} (${progress})`, evidence } };
    case 'rollback_completed':
      if (!failed) return undefined;
      return { weight: 'warning', reason: { kind: 'rollout', message: failed.message ? `${failed.message}; ${update.message}` : update.message, evidence } };
    case 'updating':
      return { weight: 'progress', reason: { kind: 'rollout', message: update.message || `updating to generation ${update.generation} (${progress})`, evidence } };
    default:
      return undefined;
  }
}

function verdictOf(sorted: readonly Weighed[], s: { update: UpdateStatus | undefined; service: Service; ready: number; desired: number }): ExplanationVerdict {
  if (s.update?.state === 'paused' || s.update?.state === 'rollback_paused') return 'paused';
  if (s.update?.state === 'rollback_completed' && s.service.deployment?.cause === 'auto-rollback') return 'rolled_back';
  if (sorted.some((w) => w.weight === 'blocking')) return s.ready === 0 && s.desired > 0 ? 'failed' : 'degraded';
  if (sorted.some((w) => w.weight === 'progress') || s.service.status.phase === 'deploying') return 'converging';
  // The controller has done what it can; slots wait for their node (warnings): not healthy.
  if (s.service.status.phase === 'degraded') return 'degraded';
  return 'healthy';
}

/**
 * The controller's per-slot notes in the status message ("1/3 running; web-2 exited with code 1;
 * restarting in 4s (back-off 4000 ms)"): a note starts at "<name>-<slot> " and runs to the next one.
 */
function slotNotes(name: string, message: string): string[] {
  const notes: string[] = [];
  // Service names are DNS labels ([a-z0-9-]): nothing to escape.
  const start = new RegExp(`^${name}-\\d+ `);
  for (const part of message.split('; ')) {
    if (start.test(part)) notes.push(part);
    else if (notes.length > 0) notes[notes.length - 1] += `; ${part}`;
  }
  return notes;
}

function intent(message: string): ExplanationReason {
  return { kind: 'intent', message, evidence: {} };
}

function probeMessage(who: string, p: ProbeStatus): string {
  const times = p.consecutiveFailures === 1 ? 'once' : `${p.consecutiveFailures} times`;
  return `${who} failed its ${p.kind} probe ${p.target} ${times}: ${probeOutputLine(p.lastOutput)}`;
}

function probeEvidence(p: ProbeStatus): NonNullable<ExplanationEvidence['probe']> {
  return { kind: p.kind, container: p.container, target: p.target, lastOutput: p.lastOutput, consecutiveFailures: p.consecutiveFailures };
}

/** "readiness probe GET http://…" while probes have not passed yet, or "readiness probes". */
function pendingProbe(i: Instance): string {
  const p = i.status.health?.probes.find((x) => x.result !== 'success');
  return p ? `${p.kind} probe ${p.target}` : 'probes';
}

function exitOf(i: Instance): Pick<ExplanationEvidence, 'exitCode' | 'signal'> {
  return { ...(i.status.exitCode === undefined ? {} : { exitCode: i.status.exitCode }), ...(i.status.signal ? { signal: i.status.signal } : {}) };
}

function eventEvidence(e: ServiceEvent): NonNullable<ExplanationEvidence['event']> {
  return { id: e.id, time: e.time, type: e.type, severity: e.severity, message: e.message };
}

/** Every live instance, and each slot's newest instance when it ended but is still meant to run. */
function overviewOf(bySlot: ReadonlyMap<number, Instance[]>, readyNow: (i: Instance) => boolean): ExplainedInstance[] {
  const rows: ExplainedInstance[] = [];
  for (const [slot, list] of [...bySlot.entries()].sort(([a], [b]) => a - b)) {
    const shown = list.filter((i, k) => !isTerminal(i.status.state) || (k === 0 && i.desiredState === 'running'));
    for (const i of shown.reverse()) {
      rows.push({ slot, id: i.id, generation: i.generation, state: i.status.state, desiredState: i.desiredState, health: healthWord(i), ready: readyNow(i) });
    }
  }
  return rows;
}
