import { mkdir } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type Dockerode from 'dockerode';
import type { ContainerConfig, ContainerMount } from '../driver.js';
import { mountDirName } from '../driver.js';

/**
 * The bind mounts that keep a stateful slot's image volumes (`ContainerConfig.imageVolumesDir`): one
 * per path the image declares with `VOLUME` (its config's `Volumes`) that none of `config.mounts`
 * targets, from `<imageVolumesDir>/<mountDirName(path)>`, made here (mode 0755) when missing — the
 * engine refuses a bind whose source does not exist. Without `imageVolumesDir`: none, and the engine
 * gives such a path an anonymous volume, removed with the container (`remove -v`). The paths come from
 * the image, which anyone may have built: each is normalized first, and one that is not absolute or is
 * `/` itself (`/..`) is left to the engine, so that no bind reaches above the slot's directory.
 * @param imageId  the local image (`sha256:…`) the container is created from
 * @throws the engine client's error when the image cannot be inspected; the file system's when a directory cannot be made
 */
export async function imageVolumeMounts(docker: Dockerode, imageId: string, config: Pick<ContainerConfig, 'imageVolumesDir' | 'mounts'>): Promise<ContainerMount[]> {
  const dir = config.imageVolumesDir;
  if (dir === undefined) return [];
  const info = await docker.getImage(imageId).inspect();
  const declared = Object.keys(info.Config?.Volumes ?? {});
  const covered = new Set((config.mounts ?? []).map((m) => normalTarget(m.target)));
  const mounts: ContainerMount[] = [];
  for (const declaredPath of declared) {
    const target = normalTarget(posix.normalize(declaredPath));
    if (!target.startsWith('/') || target === '/' || covered.has(target)) continue;
    const source = join(dir, mountDirName(target));
    await mkdir(source, { recursive: true, mode: 0o755 });
    mounts.push({ type: 'bind', source, target });
  }
  return mounts;
}

/** `/data/` and `/data` are one path. */
function normalTarget(target: string): string {
  return target.length > 1 ? target.replace(/\/+$/, '') : target;
}
