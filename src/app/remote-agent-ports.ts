import type { AgentPorts } from '../agent/index.js';
import type { InstanceCredentials, NodeAgentClient, WatchEvent } from '../client/index.js';
import { isApiError } from '../client/index.js';
import type { Disposable, Logger } from '../lib/index.js';
import type { Instance, InstanceStatus, NewServiceEvent } from '../model/index.js';
import { canAdvance, isTerminal } from '../model/index.js';
import type { ClusterMirror } from './cluster-mirror.js';

/** Reports kept while the server cannot be reached; past it the oldest are dropped (the next status of an instance replaces them anyway). */
const MAX_QUEUED_REPORTS = 10_000;
/**
 * Most statuses, and most events, one request carries when queued reports are merged: the server's
 * StatusReportBody takes 5,000 of each (api/request-schemas.ts).
 */
const MAX_MERGED = 2_000;
/** Most bytes (as JSON) of statuses and events one merged request carries: the API's body limit is 1 MiB. */
const MAX_MERGED_BYTES = 512 * 1024;

type Report = { updates: { id: string; status: InstanceStatus }[]; events: NewServiceEvent[] };

/**
 * The reports at the head of `queue` merged into one request, as kubelet's status manager sends a pod's
 * latest status rather than each one it went through: each instance's most advanced status (the last
 * one, unless it would move the state backwards, which the server would refuse: `canAdvance`), and
 * every event in order, up to MAX_MERGED of each and MAX_MERGED_BYTES. `count`: how many reports it
 * takes (at least one, whatever its size).
 */
export function mergeReports(queue: readonly Report[]): { readonly report: Report; readonly count: number } {
  const latest = new Map<string, InstanceStatus>();
  const events: NewServiceEvent[] = [];
  let bytes = 0;
  let count = 0;
  for (const r of queue) {
    const size = Buffer.byteLength(JSON.stringify(r));
    const fresh = r.updates.filter((u) => !latest.has(u.id)).length;
    if (count > 0 && (latest.size + fresh > MAX_MERGED || events.length + r.events.length > MAX_MERGED || bytes + size > MAX_MERGED_BYTES)) break;
    for (const u of r.updates) {
      const kept = latest.get(u.id);
      if (kept === undefined || canAdvance(kept.state, u.status.state)) latest.set(u.id, u.status);
    }
    events.push(...r.events);
    bytes += size;
    count++;
  }
  return { report: { updates: [...latest].map(([id, status]) => ({ id, status })), events }, count };
}

type InstanceListener = (instance: Instance, op: 'put' | 'delete') => void;
type RemovedListener = (removed: { readonly grid: string; readonly name: string; readonly deleteVolumes: boolean }) => void;

/**
 * The agent's ports over HTTP, for an agent on another machine (`berth agent --join`), as kubelet's:
 * list the node's instances (ended ones too), then take the changes of the node's cluster mirror
 * (app/cluster-mirror.ts: one watch stream for the agent and the data plane), listing again when the
 * mirror resynced after a compaction, so no change is missed or seen twice. A new instance is handed to the agent
 * only once its credentials (API token, secret values) are fetched, so its start needs no network.
 * Status reports are sent in order, one request at a time, retried until the server takes them; the
 * reports that queued meanwhile go in the next request, merged (mergeReports).
 */
export class RemoteAgentPorts implements AgentPorts {
  private readonly mirror = new Map<string, Instance>();
  private readonly credentials = new Map<string, InstanceCredentials>();
  /** `grid/name` → the server's SECRET_UNREADABLE message (a key its --encryption-key-file lacks): said when an instance needs that secret. */
  private readonly unreadable = new Map<string, string>();
  private readonly instanceListeners = new Set<InstanceListener>();
  private readonly removedListeners = new Set<RemovedListener>();
  private readonly reports: Report[] = [];
  private sending = false;
  private readonly stopped = new AbortController();
  private readonly subscriptions: Disposable[] = [];
  /** Deliveries in order: a new instance waits for its credentials, and whatever follows waits for it. */
  private delivery: Promise<void> = Promise.resolve();

  constructor(
    private readonly client: NodeAgentClient,
    private readonly node: string,
    private readonly logger: Logger,
  ) {}

  /** Lists the node's instances (and fetches the credentials of the live ones); call before the agent starts. */
  async sync(): Promise<void> {
    const listed = await this.client.instances(this.node);
    const seen = new Set<string>();
    for (const inst of listed.items) {
      seen.add(inst.id);
      if (!isTerminal(inst.status.state)) await this.fetchCredentials(inst);
      const known = this.mirror.get(inst.id);
      this.mirror.set(inst.id, inst);
      if (!known || known.version !== inst.version) this.emit(inst, 'put');
    }
    for (const [id, inst] of this.mirror) {
      if (seen.has(id)) continue;
      this.mirror.delete(id);
      this.credentials.delete(id);
      this.emit(inst, 'delete');
    }
  }

  /** Takes the mirror's changes (call after sync(), before the agent starts); lists again when the mirror resynced. */
  follow(mirror: ClusterMirror): void {
    this.subscriptions.push(mirror.subscribe((change) => this.onChange(change)));
    this.subscriptions.push(
      mirror.onResync(() => {
        this.delivery = this.delivery.then(() => this.sync().catch((e: unknown) => this.logger.warn({ err: e }, "listing the node's instances failed")));
      }),
    );
  }

  stop(): void {
    this.stopped.abort();
    for (const d of this.subscriptions.splice(0)) void d.dispose();
  }

  apiToken(instance: Instance): string | undefined {
    return this.credentials.get(instance.id)?.apiToken;
  }

  secretValue(grid: string, name: string, key: string): string | undefined {
    for (const [id, creds] of this.credentials) {
      if (this.mirror.get(id)?.grid !== grid) continue;
      const value = creds.secrets[`${name}/${key}`];
      if (value !== undefined) return value;
    }
    // Not "has no key": the server could not decrypt it, and says which key it needs.
    const why = this.unreadable.get(`${grid}/${name}`);
    if (why !== undefined) throw new Error(why);
    return undefined;
  }

  /** An instance assigned to this node (ended ones too), by id. */
  instance(id: string): Instance | undefined {
    const inst = this.mirror.get(id);
    return inst && inst.node === this.node ? inst : undefined;
  }

  // ---- AgentPorts ----

  listInstances(node: string): readonly Instance[] {
    return [...this.mirror.values()].filter((i) => i.node === node);
  }

  watchInstances(_node: string, listener: InstanceListener): Disposable {
    this.instanceListeners.add(listener);
    return { dispose: () => void this.instanceListeners.delete(listener) };
  }

  watchRemovedServices(listener: RemovedListener): Disposable {
    this.removedListeners.add(listener);
    return { dispose: () => void this.removedListeners.delete(listener) };
  }

  reportStatuses(updates: readonly { id: string; status: InstanceStatus }[], events: readonly NewServiceEvent[]): void {
    this.reports.push({ updates: [...updates], events: [...events] });
    while (this.reports.length > MAX_QUEUED_REPORTS) this.reports.shift();
    void this.send();
  }

  // ---- internals ----

  private emit(inst: Instance, op: 'put' | 'delete'): void {
    for (const l of this.instanceListeners) l(inst, op);
  }

  private async fetchCredentials(inst: Instance): Promise<void> {
    if (this.credentials.has(inst.id)) return;
    try {
      this.credentials.set(inst.id, await this.client.credentials(this.node, inst.id));
      for (const c of inst.spec.containers) for (const e of c.env) if ('valueFrom' in e) this.unreadable.delete(`${inst.grid}/${e.valueFrom.secretKeyRef.name}`);
    } catch (error) {
      // An instance that ended meanwhile has none; it starts without them only if the server is gone (logged).
      if (isApiError(error, 'SECRET_UNREADABLE') && typeof error.details['name'] === 'string') this.unreadable.set(`${inst.grid}/${error.details['name']}`, error.message);
      if (!(isApiError(error) && error.code === 'INSTANCE_NOT_FOUND')) this.logger.warn({ instance: inst.id, err: error }, 'could not fetch the credentials of an instance');
    }
  }

  private onChange(change: WatchEvent): void {
    if (change.kind === 'service' && change.op === 'delete') {
      const removed = { grid: change.object.grid, name: change.object.name, deleteVolumes: change.object.deleteVolumes === true };
      this.delivery = this.delivery.then(() => {
        for (const l of this.removedListeners) l(removed);
      });
      return;
    }
    if (change.kind !== 'instance') return;
    const inst = change.object;
    if (inst.node !== this.node && !this.mirror.has(inst.id)) return;
    const op = change.op;
    const known = this.mirror.has(inst.id);
    this.delivery = this.delivery.then(async () => {
      if (op === 'put' && !known && !isTerminal(inst.status.state)) await this.fetchCredentials(inst);
      if (op === 'delete' || inst.node !== this.node) {
        this.mirror.delete(inst.id);
        this.credentials.delete(inst.id);
        this.emit(inst, 'delete');
        return;
      }
      this.mirror.set(inst.id, inst);
      if (isTerminal(inst.status.state)) this.credentials.delete(inst.id);
      this.emit(inst, 'put');
    });
  }

  private async send(): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    let backoffMs = 200;
    let alone = false;
    try {
      while (this.reports.length > 0 && !this.stopped.signal.aborted) {
        // What queued while the last request was out goes in one request (mergeReports); after a
        // refusal, the head report goes alone, so that one bad report does not take good ones with it.
        const { report: batch, count } = mergeReports(alone ? this.reports.slice(0, 1) : this.reports);
        try {
          await this.client.reportStatuses(this.node, batch.updates, batch.events);
          this.reports.splice(0, count);
          alone = false;
          backoffMs = 200;
        } catch (error) {
          if (isApiError(error) && error.status >= 400 && error.status < 500 && error.status !== 401) {
            if (count > 1) {
              alone = true;
              continue;
            }
            this.logger.warn({ err: error, count: batch.updates.length }, 'the server refused a status report; dropping it');
            this.reports.splice(0, count);
            alone = false;
            continue;
          }
          await new Promise((r) => setTimeout(r, backoffMs).unref());
          backoffMs = Math.min(backoffMs * 2, 5000);
        }
      }
    } finally {
      this.sending = false;
    }
  }
}
