/**
 * Helpers shared by the benches that drive outside tools (wrk, nginx, HAProxy, dnsperf, dnsmasq):
 * checking that a tool is installed, free loopback ports, and child processes that are always ended
 * (by their own pid) when the bench ends.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';

/** Exits with an install hint when a tool is missing. `tools`: [binary, Debian package]. */
export function requireTools(tools: readonly (readonly [string, string])[]): void {
  const missing = tools.filter(([bin]) => !onPath(bin));
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map(([, pkg]) => pkg))].join(' ');
  console.error(`missing: ${missing.map(([bin]) => bin).join(', ')}; install with: apt-get install -y ${packages}`);
  process.exit(2);
}

function onPath(bin: string): boolean {
  if (bin.includes('/')) return existsSync(bin);
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin'])) if (dir !== '' && existsSync(`${dir}/${bin}`)) return true;
  return false;
}

/** Full path of a tool (nginx, haproxy and dnsmasq live in /usr/sbin, which may not be on PATH). */
export function toolPath(bin: string): string {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin'])) if (dir !== '' && existsSync(`${dir}/${bin}`)) return `${dir}/${bin}`;
  return bin;
}

/** A TCP port on `host` that was free a moment ago (and, for DNS, its UDP twin too). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on host:port; rejects after `timeoutMs`. */
export async function waitListening(host: string, port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host, port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Children started by a bench; `stopAll()` ends each by its pid. */
export class Children {
  private readonly procs: ChildProcess[] = [];

  /** Starts a long-running tool; its stderr is kept for error messages. */
  start(bin: string, args: readonly string[]): ChildProcess {
    const proc = spawn(toolPath(bin), args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr?.on('data', (c: Buffer) => {
      if (stderr.length < 4096) stderr += c.toString();
    });
    proc.once('exit', (code, signal) => {
      if (!this.stopping) console.error(`${bin} exited early (${code ?? signal}): ${stderr.trim()}`);
    });
    proc.once('error', (e) => console.error(`${bin}: ${e.message}`));
    this.procs.push(proc);
    return proc;
  }

  private stopping = false;

  async stopAll(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.procs.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.exitCode !== null || p.signalCode !== null || p.pid === undefined) return resolve();
            const timer = setTimeout(() => {
              try {
                process.kill(p.pid as number, 'SIGKILL');
              } catch {}
            }, 3000);
            p.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            try {
              process.kill(p.pid as number, 'SIGTERM');
            } catch {
              clearTimeout(timer);
              resolve();
            }
          }),
      ),
    );
  }
}

/** Runs a bounded tool run (wrk, dnsperf) to completion and returns its stdout; killed after `timeoutMs`. */
export function runTool(bin: string, args: readonly string[], timeoutMs: number): Promise<string> {
  // Asynchronous, so that this process keeps reading the stderr of the servers it started meanwhile.
  return new Promise((resolve, reject) => {
    execFile(toolPath(bin), args, { encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${bin} ${args.join(' ')}: ${error.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

export const pad = (s: string, n: number): string => (s.length >= n ? s : s + ' '.repeat(n - s.length));
export const lpad = (s: string, n: number): string => (s.length >= n ? s : ' '.repeat(n - s.length) + s);
