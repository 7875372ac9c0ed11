import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Instance, SlotVolume } from '../model/index.js';
import { slotName } from '../model/index.js';
import { prepareSlotDir } from './instance-files.js';
import { slotMountDirs } from './instance-sandbox.js';

/*
 * The per-slot data directories of stateful services on this node (node-local storage):
 * `<data>/volumes/<grid>/<service>/<slot>/`, named by the controller in the instance spec and made by
 * the agent when a slot's instance is prepared. They outlive the instances of the slot and — unless the
 * service is removed with its volumes — the service itself, as a Docker named volume or a
 * StatefulSet's PersistentVolumeClaim does (whenDeleted: Retain).
 *
 * Which service a service directory belongs to is recorded in `<service dir>/.berth-service` (its
 * service id, written when a slot is prepared), so that a new service of the same name finding data
 * an earlier one left says so instead of reusing it silently. Removal renames the service directory
 * out of the way first (`volumes/.removing-…`, atomic), so a service of the same name created right
 * after never starts in a directory that is being deleted; a crash mid-delete leaves only such
 * renamed directories, which the next agent deletes at start.
 */

export const VOLUMES_DIR = 'volumes';
const OWNER_FILE = '.berth-service';
const REMOVING_PREFIX = '.removing-';

function volumesRoot(dataDir: string): string {
  return join(dataDir, VOLUMES_DIR);
}

function serviceDir(dataDir: string, grid: string, service: string): string {
  return join(volumesRoot(dataDir), grid, service);
}

/** Directory names of one level, without hidden ones; [] when the directory does not exist. */
function children(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
      .map((d) => d.name);
  } catch {
    return [];
  }
}

/**
 * The slot data directories that exist on this node, sorted by grid, service and slot.
 * @param filter.service  one service's (it need not exist any more)
 */
export function listSlotVolumes(dataDir: string, node: string, filter: { readonly grid?: string; readonly service?: string } = {}): SlotVolume[] {
  const out: SlotVolume[] = [];
  const grids = filter.grid !== undefined ? [filter.grid] : children(volumesRoot(dataDir)).sort();
  for (const grid of grids) {
    const services = filter.service !== undefined ? [filter.service] : children(join(volumesRoot(dataDir), grid)).sort();
    for (const service of services) {
      const dir = serviceDir(dataDir, grid, service);
      const slots = children(dir)
        .filter((name) => /^[1-9]\d*$/.test(name))
        .map(Number)
        .sort((a, b) => a - b);
      for (const slot of slots) out.push({ grid, service, slot, node, path: join(dir, String(slot)) });
    }
  }
  return out;
}

/** Data an earlier service of the same name left: its id and its slot directories that hold anything. */
export interface FoundData {
  readonly previousServiceId: string;
  readonly slots: readonly SlotVolume[];
}

/**
 * Records that the service directory of `slotDir` (`…/<grid>/<service>/<slot>`) belongs to `serviceId`.
 * @returns what an earlier service left when the directory was another service's; undefined when it is
 *   this service's already, new, or older than this record (no owner file: claimed silently)
 */
export function claimSlotVolume(slotDir: string, serviceId: string, where: { readonly dataDir: string; readonly node: string; readonly grid: string; readonly service: string }): FoundData | undefined {
  const dir = join(slotDir, '..');
  const ownerFile = join(dir, OWNER_FILE);
  let previous: string | undefined;
  try {
    previous = (JSON.parse(readFileSync(ownerFile, 'utf8')) as { serviceId?: string }).serviceId;
  } catch {
    previous = undefined;
  }
  if (previous === serviceId) return undefined;
  const slots = previous === undefined ? [] : listSlotVolumes(where.dataDir, where.node, { grid: where.grid, service: where.service }).filter((v) => hasContent(v.path));
  // Passable, not listable (docs/security.md): instances of another user go through to their slot.
  mkdirSync(dir, { recursive: true, mode: 0o711 });
  writeFileSync(ownerFile, `${JSON.stringify({ serviceId })}\n`, { mode: 0o600 });
  return previous !== undefined && slots.length > 0 ? { previousServiceId: previous, slots } : undefined;
}

function hasContent(dir: string): boolean {
  try {
    return readdirSync(dir).length > 0;
  } catch {
    return false;
  }
}

/**
 * The absolute data directory of `instance`'s stateful slot: its spec's `dataDir`, a relative one under
 * the node's data directory `nodeDataDir`; undefined for an instance without one (stateless).
 */
export function slotDataDir(instance: Instance, nodeDataDir: string): string | undefined {
  const d = instance.spec.dataDir;
  if (!d) return undefined;
  return d.startsWith('/') ? d : join(nodeDataDir, d);
}

/**
 * Makes the slot's data directory of `instance` before its start (nothing for a stateless instance):
 * claims it for its service (claimSlotVolume), makes it owned by `node.user`, the user the instance's
 * first container runs as (prepareSlotDir), and makes the directories its slot mounts name.
 * @returns the data an earlier service of the same name left there, to be said (describeFoundData)
 */
export function prepareSlotVolume(instance: Instance, node: { readonly dataDir: string; readonly node: string; readonly user: string | undefined }): FoundData | undefined {
  const data = slotDataDir(instance, node.dataDir);
  if (!data) return undefined;
  const { grid, service, serviceId } = instance;
  const found = claimSlotVolume(data, serviceId, { dataDir: node.dataDir, node: node.node, grid, service });
  prepareSlotDir(data, node.user);
  for (const dir of slotMountDirs(instance, data)) mkdirSync(dir, { recursive: true, mode: 0o755 });
  return found;
}

/**
 * Deletes a service's data directories: renames `<data>/volumes/<grid>/<service>` out of the way at
 * once (synchronously, so nothing new starts in it), then deletes it in the background.
 * @returns the slots that were there, and a promise of the deletion
 */
export function removeServiceVolumes(dataDir: string, node: string, grid: string, service: string): { readonly removed: readonly SlotVolume[]; readonly done: Promise<void> } {
  const dir = serviceDir(dataDir, grid, service);
  if (!existsSync(dir)) return { removed: [], done: Promise.resolve() };
  const removed = listSlotVolumes(dataDir, node, { grid, service });
  const trash = join(volumesRoot(dataDir), `${REMOVING_PREFIX}${grid}-${service}-${randomBytes(4).toString('hex')}`);
  renameSync(dir, trash);
  return { removed, done: rm(trash, { recursive: true, force: true }) };
}

/** Deletes what a removal interrupted by a crash left renamed (`volumes/.removing-…`). */
export async function sweepRemovedVolumes(dataDir: string): Promise<void> {
  let names: string[];
  try {
    names = readdirSync(volumesRoot(dataDir)).filter((n) => n.startsWith(REMOVING_PREFIX));
  } catch {
    return;
  }
  await Promise.all(names.map((n) => rm(join(volumesRoot(dataDir), n), { recursive: true, force: true })));
}

/** "db-1 found data an earlier service named db left …": a new service reusing old data says so. */
export function describeFoundData(instance: Instance, found: FoundData): string {
  const slots = found.slots.map((v) => v.slot).join(', ');
  const where = found.slots.map((v) => v.path).join(', ');
  return `${slotName(instance.service, instance.slot)} found data that an earlier service named ${instance.service} left (slot${found.slots.length === 1 ? '' : 's'} ${slots}: ${where}); it is used as it is. \`berth service rm --volumes ${instance.service}\` removes a service together with its data`;
}
