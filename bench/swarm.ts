/**
 * Docker Swarm as the peer of the rollout, failover and zero-downtime benches, on this machine.
 *
 * `Swarm.open()` says whether Docker can be used at all (CLI on PATH, a daemon that answers, swarm mode
 * active or initialisable on 127.0.0.1) and returns a reason when it cannot, so each bench prints
 * berth's figures alone instead of inventing Swarm's. Nothing is pulled from a registry: the image is
 * imported from a static busybox on this machine (apt-get install -y busybox-static), and services are
 * created by image ID with --no-resolve-image (Swarm would otherwise ask a registry for every task).
 *
 * The image runs busybox httpd on :8080 (`/` answers "ok"; `/cgi-bin/slow?ms=200-500` sends its
 * headers, sleeps 200–500 ms, then the body), under --init: as PID 1 without a signal handler httpd
 * would ignore SIGTERM and every stop would wait out Swarm's 10 s grace period, which would measure
 * the image, not Swarm.
 *
 * Every service, network and container made here is named `berth-bench-*` and removed by `close()`;
 * the swarm is left again only when this module initialised it (and docker_gwbridge, which `swarm
 * init` makes and `swarm leave` keeps, is removed when the init made it).
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toolPath } from './bench-tools.js';

/** The tag of the locally built image; bump the suffix when the rootfs below changes. */
const IMAGE_TAG = 'berth-bench/busybox:3';
export const SWARM_NETWORK = 'berth-bench-net';
/** The bridge `swarm init` creates for containers on overlay networks; `swarm leave` leaves it behind. */
const GWBRIDGE = 'docker_gwbridge';
const BUSYBOX_APPLETS = ['sh', 'httpd', 'sleep', 'usleep', 'cat', 'echo', 'wget', 'timeout', 'touch', 'test', '[', 'printf', 'seq', 'nslookup', 'kill', 'ps', 'tr', 'head'];
const SLOW_CGI = `#!/bin/sh
# As bench/slow-http.mjs: headers at once, the body after a delay drawn from ?ms=LOW-HIGH (default
# 200-500 ms), so a stop cuts an answer in flight short.
q=\${QUERY_STRING#ms=}
case "$q" in *-*) lo=\${q%-*}; hi=\${q#*-} ;; *) lo=200; hi=500 ;; esac
printf 'Content-Type: text/plain\\r\\nContent-Length: 3\\r\\n\\r\\n'
usleep $(( (lo + RANDOM % (hi - lo + 1)) * 1000 ))
printf 'ok\\n'
`;

/** Runs the docker CLI; rejects with its stderr. */
export function docker(args: readonly string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(toolPath('docker'), args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`docker ${args.join(' ')}: ${stderr.trim() || error.message}`));
      else resolve(stdout.trim());
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Options of `docker service create` that the benches vary. */
export interface SwarmServiceOptions {
  readonly replicas: number;
  readonly env?: Readonly<Record<string, string>>;
  /** Attach to the bench's overlay network, load-balanced by a VIP (needs IPVS) or DNS round robin (see `Swarm.network`). */
  readonly overlay?: 'vip' | 'dnsrr';
  /** --restart-delay (Swarm's default: 5s). */
  readonly restartDelay?: string;
  /** --health-cmd with --health-interval 1s, the counterpart of berth's readiness probe (periodSeconds 1). */
  readonly healthCmd?: string;
  /** --update-* flags; absent: Swarm's defaults (parallelism 1, delay 0s, monitor 5s, stop-first). */
  readonly update?: SwarmUpdateConfig;
  /** Another local image, by ID (sha256:…: Swarm asks no registry for it); absent: the bench image. */
  readonly image?: string;
  /** The command and arguments (after the image); absent: the image's CMD. */
  readonly args?: readonly string[];
  /** Return once the CLI returned, without polling for the tasks (the caller times them, e.g. from engine events). */
  readonly noWait?: boolean;
}

export interface SwarmUpdateConfig {
  readonly parallelism: number;
  readonly delay: string;
  readonly monitor: string;
  readonly order: 'stop-first' | 'start-first';
}

/** UpdateStatus of `docker service inspect`, as far as the benches read it. */
export interface SwarmUpdateStatus {
  readonly State?: string;
  readonly StartedAt?: string;
  readonly CompletedAt?: string;
  readonly Message?: string;
}

export function updateFlags(u: SwarmUpdateConfig): string[] {
  return ['--update-parallelism', String(u.parallelism), '--update-delay', u.delay, '--update-monitor', u.monitor, '--update-order', u.order];
}

/** A swarm on this machine that the benches drive; see `openSwarm`. */
export class Swarm {
  private readonly services = new Set<string>();
  private readonly containers = new Set<string>();
  private networkMade = false;

  private constructor(
    /** The image's ID (sha256:…), used for every service. */
    readonly image: string,
    /** "Docker 20.10.24 (swarm on 127.0.0.1)". */
    readonly description: string,
    private readonly initialisedHere: boolean,
    /** Whether `swarm init` made docker_gwbridge (it stays after `swarm leave`; removed again by `close()`). */
    private readonly gwbridgeMadeHere: boolean,
  ) {}

  /** Docker usable → a Swarm; otherwise the reason in words. */
  static async open(): Promise<Swarm | string> {
    try {
      await docker(['--version'], 10_000);
    } catch (e) {
      return `the docker CLI does not run (${firstLine(e)})`;
    }
    let version: string;
    try {
      version = await docker(['info', '--format', '{{.ServerVersion}}'], 15_000);
      if (version === '') throw new Error('no server version');
    } catch (e) {
      return `no Docker daemon answers (${firstLine(e)}); start one with: dockerd >/tmp/dockerd.log 2>&1 &`;
    }
    let initialised = false;
    const gwbridgeBefore = await docker(['network', 'inspect', GWBRIDGE]).then(() => true, () => false);
    try {
      if ((await docker(['info', '--format', '{{.Swarm.LocalNodeState}}'])) !== 'active') {
        await docker(['swarm', 'init', '--advertise-addr', '127.0.0.1']);
        initialised = true;
      }
    } catch (e) {
      return `swarm mode cannot be initialised (${firstLine(e)})`;
    }
    let image: string;
    try {
      image = await ensureImage();
    } catch (e) {
      if (initialised) await docker(['swarm', 'leave', '--force']).catch(() => undefined);
      return `the bench image cannot be built (${firstLine(e)})`;
    }
    const addr = await docker(['info', '--format', '{{.Swarm.NodeAddr}}']);
    return new Swarm(image, `Docker ${version}, swarm on ${addr}`, initialised, initialised && !gwbridgeBefore);
  }

  /**
   * An attachable overlay network for DNS-round-robin services and the client container. Swarm's VIP
   * and ingress mesh need IPVS in the kernel; without it (CONFIG_IP_VS unset here) they refuse or drop
   * connections, and `--endpoint-mode dnsrr` on an overlay is the load balancing Swarm still offers.
   */
  async network(): Promise<string> {
    if (!this.networkMade) {
      const exists = await docker(['network', 'inspect', SWARM_NETWORK]).then(() => true, () => false);
      if (!exists) await docker(['network', 'create', '--driver', 'overlay', '--attachable', SWARM_NETWORK]);
      this.networkMade = true;
    }
    return SWARM_NETWORK;
  }

  /** Whether the kernel has IPVS, which Swarm's VIP and routing mesh need. */
  static ipvs(): boolean {
    return existsSync('/proc/net/ip_vs');
  }

  /** Creates a service (detached) and waits until all its tasks run (unless `noWait`); returns the time that took (ms). */
  async createService(name: string, options: SwarmServiceOptions): Promise<number> {
    const args = ['service', 'create', '--detach', '--no-resolve-image', '--init', '--name', name, '--replicas', String(options.replicas), '--stop-grace-period', '10s'];
    for (const [k, v] of Object.entries(options.env ?? {})) args.push('--env', `${k}=${v}`);
    if (options.overlay !== undefined) args.push('--endpoint-mode', options.overlay, '--network', await this.network());
    if (options.restartDelay !== undefined) args.push('--restart-delay', options.restartDelay);
    if (options.healthCmd !== undefined) args.push('--health-cmd', options.healthCmd, '--health-interval', '1s', '--health-timeout', '1s', '--health-retries', '3');
    if (options.update) args.push(...updateFlags(options.update));
    this.services.add(name);
    const t0 = performance.now();
    await docker([...args, options.image ?? this.image, ...(options.args ?? [])]);
    if (!options.noWait) await this.waitTasks(name, options.replicas);
    return performance.now() - t0;
  }

  /** Waits until exactly `n` containers of the service run (and no others: a scale-down finished). */
  async waitTasks(name: string, n: number, timeoutMs = 180_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const running = await this.containerIds(name);
      const replicas = await docker(['service', 'ls', '--filter', `name=${name}`, '--format', '{{.Name}} {{.Replicas}}']);
      const line = replicas.split('\n').find((l) => l.startsWith(`${name} `));
      if (running.length === n && line?.endsWith(` ${n}/${n}`)) return;
      if (Date.now() > deadline) throw new Error(`swarm service ${name}: ${running.length} containers, replicas ${line ?? '?'} after ${timeoutMs} ms (want ${n})`);
      await sleep(200);
    }
  }

  /** IDs of the service's running containers. */
  async containerIds(name: string): Promise<string[]> {
    const out = await docker(['ps', '-q', '--no-trunc', '--filter', `label=com.docker.swarm.service.name=${name}`, '--filter', 'status=running']);
    return out === '' ? [] : out.split('\n');
  }

  /** The host PID of a container's main process (docker inspect → State.Pid; with --init, docker-init). */
  async pidOf(container: string): Promise<number> {
    return Number(await docker(['inspect', '--format', '{{.State.Pid}}', container]));
  }

  /** Starts `docker service update --detach …`; resolves when the CLI returned (the update runs on). */
  async update(name: string, args: readonly string[]): Promise<void> {
    await docker(['service', 'update', '--detach', '--no-resolve-image', ...args, name]);
  }

  async updateStatus(name: string): Promise<SwarmUpdateStatus | undefined> {
    const out = await docker(['service', 'inspect', '--format', '{{json .UpdateStatus}}', name]);
    return out === '' || out === 'null' ? undefined : (JSON.parse(out) as SwarmUpdateStatus);
  }

  /**
   * Polls `docker service inspect` until UpdateStatus.State is `completed` (or a failure state);
   * returns the poll's time of completion (performance.now()) and Swarm's own status.
   */
  async waitUpdate(name: string, timeoutMs = 300_000): Promise<{ at: number; status: SwarmUpdateStatus }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await this.updateStatus(name);
      if (status?.State === 'completed') return { at: performance.now(), status };
      if (status?.State === 'paused' || status?.State?.startsWith('rollback')) throw new Error(`swarm update of ${name}: ${status.State}: ${status.Message ?? ''}`);
      if (Date.now() > deadline) throw new Error(`swarm update of ${name} not completed after ${timeoutMs} ms (${status?.State ?? 'no status'})`);
      await sleep(50);
    }
  }

  /** `docker events` for the service's containers, from now on; `stop()` ends the stream. */
  containerEvents(name: string, onEvent: (e: DockerEvent) => void): { stop(): void; proc: ChildProcess } {
    const proc = spawn(toolPath('docker'), ['events', '--filter', 'type=container', '--filter', `label=com.docker.swarm.service.name=${name}`, '--format', '{{json .}}'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let buffer = '';
    proc.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        try {
          const raw = JSON.parse(line) as { Action?: string; status?: string; id?: string; timeNano?: number };
          onEvent({ action: raw.Action ?? raw.status ?? '', container: raw.id ?? '', atMs: (raw.timeNano ?? 0) / 1e6 });
        } catch {}
      }
    });
    return {
      proc,
      stop: () => {
        if (proc.exitCode === null && proc.pid !== undefined) process.kill(proc.pid, 'SIGTERM');
      },
    };
  }

  /**
   * Runs a container on the overlay network (for a client that must reach DNS-round-robin tasks);
   * returns the `docker run` child (stdout piped) and its name.
   */
  async runClient(name: string, script: string): Promise<ChildProcess> {
    const network = await this.network();
    this.containers.add(name);
    await docker(['rm', '-f', name]).catch(() => undefined);
    return spawn(toolPath('docker'), ['run', '--rm', '--init', '--name', name, '--network', network, this.image, 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  }

  async removeService(name: string): Promise<void> {
    await docker(['service', 'rm', name]).catch(() => undefined);
    this.services.delete(name);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const left = await docker(['ps', '-aq', '--filter', `label=com.docker.swarm.service.name=${name}`]);
      if (left === '') return;
      await sleep(200);
    }
  }

  /** Removes what this bench made; leaves the swarm when it was initialised here. */
  async close(): Promise<void> {
    for (const c of this.containers) await docker(['rm', '-f', c]).catch(() => undefined);
    for (const s of [...this.services]) await this.removeService(s);
    if (this.networkMade) {
      // The overlay lingers for a moment after its last task; retry briefly.
      for (let k = 0; k < 20; k++) {
        if (await docker(['network', 'rm', SWARM_NETWORK]).then(() => true, () => false)) break;
        await sleep(500);
      }
    }
    if (this.initialisedHere) await docker(['swarm', 'leave', '--force']).catch(() => undefined);
    if (this.gwbridgeMadeHere) await docker(['network', 'rm', GWBRIDGE]).catch(() => undefined);
  }
}

export interface DockerEvent {
  /** "create", "start", "die", "kill", "destroy"… */
  readonly action: string;
  readonly container: string;
  /** The daemon's time of the event, epoch ms (same clock as Date.now() on this machine). */
  readonly atMs: number;
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';
}

/** The image's ID; imports it from a static busybox when the tag is not there yet. */
async function ensureImage(): Promise<string> {
  const existing = await docker(['image', 'inspect', '--format', '{{.Id}}', IMAGE_TAG]).catch(() => '');
  if (existing !== '') return existing;
  const busybox = staticBusybox();
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-rootfs-'));
  try {
    const root = join(dir, 'rootfs');
    for (const d of ['bin', 'tmp', 'www/cgi-bin']) mkdirSync(join(root, d), { recursive: true });
    copyFileSync(busybox, join(root, 'bin', 'busybox'));
    chmodSync(join(root, 'bin', 'busybox'), 0o755);
    for (const applet of BUSYBOX_APPLETS) symlinkSync('busybox', join(root, 'bin', applet));
    writeFileSync(join(root, 'www', 'index.html'), 'ok\n');
    writeFileSync(join(root, 'www', 'cgi-bin', 'slow'), SLOW_CGI, { mode: 0o755 });
    chmodSync(join(root, 'tmp'), 0o1777);
    await new Promise<void>((resolve, reject) => {
      const tar = spawn('tar', ['-C', root, '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
      const imp = spawn(toolPath('docker'), ['import', '--change', 'CMD ["/bin/httpd","-f","-p","8080","-h","/www"]', '-', IMAGE_TAG], { stdio: ['pipe', 'ignore', 'pipe'] });
      let err = '';
      imp.stderr.on('data', (c: Buffer) => (err += c.toString()));
      tar.stdout.pipe(imp.stdin);
      imp.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`docker import exited with ${code}: ${err.trim()}`))));
      imp.once('error', reject);
    });
    return await docker(['image', 'inspect', '--format', '{{.Id}}', IMAGE_TAG]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A statically linked busybox (the image has no libc); Debian's busybox-static puts one at /bin/busybox. */
function staticBusybox(): string {
  for (const candidate of ['/bin/busybox', '/usr/bin/busybox']) {
    // ldd exits 1 for a static binary; its message is what counts.
    const r = spawnSync('ldd', [candidate], { encoding: 'utf8' });
    if (!r.error && /not a dynamic executable|statically linked/.test(`${r.stdout}${r.stderr}`)) return candidate;
  }
  throw new Error('no static busybox; install with: apt-get install -y busybox-static');
}
