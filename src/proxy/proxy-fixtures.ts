/* Fixtures for the proxy's tests and load probe: snapshot entities valid by default, and tiny loopback peers. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Endpoint, EndpointsSnapshot, ServiceEndpoints } from '../model/index.js';

export function endpointsOf(overrides: Partial<ServiceEndpoints> = {}): ServiceEndpoints {
  return {
    grid: 'default',
    service: 'web',
    type: 'ClusterIP',
    headless: false,
    externalIPs: [],
    loadBalancerIPs: [],
    ports: [{ name: '', protocol: 'TCP', port: 80 }],
    endpoints: [],
    sessionAffinity: { type: 'None' },
    publishNotReadyAddresses: false,
    ...overrides,
  };
}

export function endpoint(ip: string, port: number, overrides: Partial<Endpoint> = {}): Endpoint {
  return { ip, ports: { '': port }, ready: true, ...overrides };
}

export function snapshotOf(services: readonly ServiceEndpoints[], revision = 1): EndpointsSnapshot {
  return { revision, services };
}

/** A TCP server that answers every connection with `reply` and ends (like an HTTP/1.0 server). */
export async function replyServer(host: string, reply: string): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.end(reply);
  });
  await new Promise<void>((resolve) => server.listen({ host, port: 0 }, resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

/**
 * One reply server per host (answering `backend-<i>`) for a test file's before(); `close()` for its
 * after(). `ports[i]` is the port of `hosts[i]`.
 */
export async function replyServers(hosts: readonly string[]): Promise<{ ports: number[]; close(): void }> {
  const started = await Promise.all(hosts.map((host, i) => replyServer(host, `backend-${i}`)));
  return { ports: started.map((s) => s.port), close: () => started.forEach((s) => s.server.close()) };
}

/** A port on `host` with nothing listening (bound then closed). */
export async function refusedPort(host: string): Promise<number> {
  const { server, port } = await replyServer(host, '');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Connects (optionally from `localAddress`), sends `payload` and half-closes, and resolves with everything read. */
export function exchange(host: string, port: number, options: { localAddress?: string; payload?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, localAddress: options.localAddress, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('end', () => {
      socket.end();
      resolve(Buffer.concat(chunks).toString());
    });
    socket.end(options.payload ?? '');
  });
}

/**
 * A listener on `host` whose connects never complete: python3 listens with a backlog of 0 and never
 * accepts, and one connection made here fills its accept queue, so the kernel drops later SYNs (a
 * connect to it hangs, as to a host that blackholes). `close()` ends both.
 */
export async function stalledListener(host: string): Promise<{ port: number; close(): void }> {
  const script = `import socket, sys\ns = socket.socket()\ns.bind((${JSON.stringify(host)}, 0))\ns.listen(0)\nprint(s.getsockname()[1], flush=True)\nsys.stdin.read()`;
  const child = spawn('python3', ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  const port = Number(line.toString().trim());
  const filler = net.connect({ host, port });
  filler.on('error', () => {});
  await once(filler, 'connect');
  return {
    port,
    close: () => {
      filler.destroy();
      child.stdin.end();
      child.kill();
    },
  };
}

/** Polls `check` every 5 ms until it holds; throws naming `what` after `ms`. */
export async function until(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
