import { join } from 'node:path';
import type { ContainerSpec, Instance } from '../model/index.js';
import { slotName } from '../model/index.js';
import type { ContainerConfig, ContainerMount, Driver, SandboxConfig } from '../drivers/index.js';
import { mountDirName } from '../drivers/index.js';

/*
 * An instance with images runs in a sandbox (a Kubernetes pod's): one network namespace with the
 * instance's address, hostname and resolv.conf, which its containers join. This file says what the
 * sandbox and each image container get from the spec (docs/drivers.md, "Docker driver").
 */

/** True when the instance's containers share a sandbox: they have images, and the driver makes sandboxes. */
export function usesSandbox(inst: Instance, driver: Driver): boolean {
  return driver.runSandbox !== undefined && inst.spec.containers.some((c) => c.image !== undefined);
}

/**
 * The sandbox of `inst`: its address, hostname (the first container's `hostname`, else the slot
 * name, e.g. web-2), and berth's DNS with the search domains `<grid>.berth.local` and `berth.local`,
 * so that a container reaches `database:3306` by the short name (as the Kubernetes page's
 * `nslookup my-nginx` does).
 */
export function sandboxConfig(inst: Instance, network: { readonly dnsServers: readonly string[] } | undefined): SandboxConfig {
  const first = inst.spec.containers[0];
  return {
    instanceId: inst.id,
    address: inst.spec.address,
    hostname: first?.hostname ?? slotName(inst.service, inst.slot),
    ...(network && network.dnsServers.length > 0 ? { dns: { servers: network.dnsServers, searches: [`${inst.grid}.berth.local`, 'berth.local'], options: ['ndots:2'] } } : {}),
    labels: berthLabels(inst),
  };
}

/** grid, service and slot labels of everything an instance runs (`docker ps --filter label=io.berth.service=web`). */
export function berthLabels(inst: Instance): Record<string, string> {
  return { 'io.berth.grid': inst.grid, 'io.berth.service': inst.service, 'io.berth.slot': String(inst.slot) };
}

/**
 * The image fields of one container's start: pull policy, labels (its own and berth's), mounts and
 * resources. In a stateful service a `volume` mount without a source is the slot's own: a directory
 * under the slot's data directory, bind-mounted, kept across restarts and redeploys and removed by
 * `rm --volumes` with the slot's data (slot-volumes.ts); so is each path the image itself declares a
 * VOLUME that no mount covers (`imageVolumesDir`: Kontena's `service create --stateful redis
 * redis:latest` keeps /data), in the same directory a mount without a source at that path would use.
 */
export function imageFields(c: ContainerSpec, inst: Instance, slotDataDir: string | undefined): Partial<ContainerConfig> {
  if (!c.image) return {};
  const spec = c;
  const mounts = (spec.mounts ?? []).map((m): ContainerMount => {
    if (m.type === 'volume' && m.source === undefined && slotDataDir) return { type: 'bind', source: slotMountDir(slotDataDir, m.target), target: m.target, ...(m.readOnly ? { readOnly: true } : {}) };
    return { type: m.type, target: m.target, ...(m.source !== undefined ? { source: m.source } : {}), ...(m.readOnly ? { readOnly: true } : {}), ...(m.tmpfsSize !== undefined ? { tmpfsSize: m.tmpfsSize } : {}) };
  });
  return {
    imagePullPolicy: spec.imagePullPolicy ?? 'IfNotPresent',
    labels: { ...spec.labels, ...berthLabels(inst) },
    ...(mounts.length > 0 ? { mounts } : {}),
    ...(slotDataDir ? { imageVolumesDir: join(slotDataDir, 'mounts') } : {}),
    ...(spec.resources ? { resources: spec.resources } : {}),
  };
}

/** The directory of a slot's own volume at `target`: `<slot data>/volumes/<target with / as _>`. */
export function slotMountDir(slotDataDir: string, target: string): string {
  return join(slotDataDir, 'mounts', mountDirName(target));
}

/** The slot directories an instance's containers bind (made before the start: the engine refuses a missing bind source). */
export function slotMountDirs(inst: Instance, slotDataDir: string | undefined): string[] {
  if (!slotDataDir) return [];
  return inst.spec.containers.flatMap((c) => (c.mounts ?? []).filter((m) => m.type === 'volume' && m.source === undefined).map((m) => slotMountDir(slotDataDir, m.target)));
}
