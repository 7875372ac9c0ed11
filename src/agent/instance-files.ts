import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/*
 * Where the agent keeps an instance on the node: `<data>/instances/<id>/` is the state directory its
 * containers share (the driver's files are named after the container), and
 * `<data>/instances/<id>/<container>.handle.json` holds each container's driver handle, written before
 * the status says running, so a restarted berth can re-adopt it and read its logs after it ended.
 */

export function instanceDir(dataDir: string, instanceId: string): string {
  return join(dataDir, 'instances', instanceId);
}

/** Container names are DNS labels, safe as file names. */
export function handleFile(dataDir: string, instanceId: string, container: string): string {
  return join(instanceDir(dataDir, instanceId), `${container}.handle.json`);
}

/**
 * Writes a container's handle record (`{ name, handle, … }`) off the event loop (a hundred containers
 * starting at once make each file operation wait on the directories their shims are creating), before
 * the status says running. No rename: a file torn by a crash mid-write fails to parse and counts as
 * missing, like no file at all.
 */
export async function writeHandleFile(dataDir: string, instanceId: string, record: { readonly name: string }): Promise<void> {
  const file = handleFile(dataDir, instanceId, record.name);
  try {
    await writeFile(file, JSON.stringify(record));
  } catch {
    await mkdir(instanceDir(dataDir, instanceId), { recursive: true }); // a driver that keeps no files of its own (fake, docker)
    await writeFile(file, JSON.stringify(record));
  }
}

/** The record `writeHandleFile` wrote, or undefined when it is missing or torn. */
export function readHandleFile<T>(dataDir: string, instanceId: string, container: string): T | undefined {
  try {
    return JSON.parse(readFileSync(handleFile(dataDir, instanceId, container), 'utf8')) as T;
  } catch {
    return undefined;
  }
}
