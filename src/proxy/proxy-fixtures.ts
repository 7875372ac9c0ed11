/* Fixtures for the proxy's tests and load probe: snapshot entities valid by default, and tiny loopback peers. */
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
