import type Dockerode from 'dockerode';

/*
 * A container whose command cannot run must fail its start, as the process driver's does, with the
 * engine's words ("executable file not found in $PATH"). With Docker's init (tini) as PID 1 the engine
 * starts the container whatever the command is, and tini exits 127 a moment later; so the command the
 * spec names is looked up in the created (not yet started) container's filesystem first: a HEAD of
 * the archive endpoint per candidate path, in parallel, about 5 ms in all. The image's own entrypoint
 * is trusted (its author ran it).
 */

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Why `argv0` cannot run in the created container, in runc's words, or undefined when a file exists
 * at its path (absolute, or found in PATH: the container's env, else the image's, else Docker's default).
 */
export async function missingCommand(docker: Dockerode, container: Dockerode.Container, argv0: string, env: Readonly<Record<string, string>>, image: string): Promise<string | undefined> {
  if (argv0.includes('/')) {
    const path = argv0.startsWith('/') ? argv0 : undefined;
    if (path === undefined) return undefined; // relative to the working directory: leave it to the engine
    return (await exists(container, path)) ? undefined : `exec: "${argv0}": stat ${argv0}: no such file or directory`;
  }
  const pathVar = env.PATH ?? (await imagePath(docker, image)) ?? DEFAULT_PATH;
  const dirs = pathVar.split(':').filter((d) => d.startsWith('/'));
  const found = await Promise.all(dirs.map((d) => exists(container, `${d.replace(/\/$/, '')}/${argv0}`)));
  return found.includes(true) ? undefined : `exec: "${argv0}": executable file not found in $PATH`;
}

/**
 * Whether a file is at `path` in the container (`HEAD /containers/{id}/archive?path=…`). dockerode
 * answers a 200 with the response stream itself; it is drained here, or its socket to the engine
 * would stay in use for good — one leaked connection per start, which also kept the server's process
 * from exiting after its stop.
 */
async function exists(container: Dockerode.Container, path: string): Promise<boolean> {
  let res: unknown;
  try {
    res = await container.infoArchive({ path });
  } catch {
    return false;
  }
  (res as { resume?: () => void } | undefined)?.resume?.();
  return true;
}

async function imagePath(docker: Dockerode, image: string): Promise<string | undefined> {
  try {
    const info = await docker.getImage(image).inspect();
    return info.Config.Env?.find((e) => e.startsWith('PATH='))?.slice(5);
  } catch {
    return undefined;
  }
}
