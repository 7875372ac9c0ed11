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

async function exists(container: Dockerode.Container, path: string): Promise<boolean> {
  try {
    // dockerode hands the HEAD's response over as a stream: unread, it never ends, and its socket stays
    // busy and referenced (until the engine drops it minutes later), keeping a stopping server alive.
    const response = (await container.infoArchive({ path })) as unknown as NodeJS.ReadableStream;
    response.resume();
    return true;
  } catch {
    return false;
  }
}

async function imagePath(docker: Dockerode, image: string): Promise<string | undefined> {
  try {
    const info = await docker.getImage(image).inspect();
    return info.Config.Env?.find((e) => e.startsWith('PATH='))?.slice(5);
  } catch {
    return undefined;
  }
}
