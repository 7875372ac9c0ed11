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
