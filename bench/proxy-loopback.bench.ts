/*
 * A bounded loopback load probe (not a test): `node --import tsx bench/proxy-loopback.bench.ts [seconds] [native|node] [threads]`.
 * Starts 2 HTTP/1.1 backends and the proxy in child processes, then drives 50 connections for a few
 * seconds in keep-alive and in close mode, directly and through the proxy, and prints requests/s and
 * p99. Everything stays on 127.0.0.1/8; every child is ended when the probe ends.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { ServiceProxy } from '../src/proxy/service-proxy.js';
import type { ProxyEngine } from '../src/proxy/service-proxy.js';
import { endpoint, endpointsOf, snapshotOf } from '../src/proxy/proxy-fixtures.js';

const BACKENDS = [
  ['127.21.250.1', 19001],
  ['127.21.250.2', 19001],
] as const;
const VIP = ['127.96.250.1', 19080] as const;
const RESPONSE = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n');
const CLOSE_RESPONSE = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n');

function runBackend(host: string, port: number): void {
  net
    .createServer({ noDelay: true }, (s) => {
      s.on('error', () => {});
      s.on('data', (chunk: Buffer) => {
        // one request per chunk is enough for this client (it sends one and waits)
        if (chunk.includes('close')) s.end(CLOSE_RESPONSE);
        else s.write(RESPONSE);
      });
    })
    .listen({ host, port, backlog: 1024 }, () => process.send?.('ready'));
}

/** A ServiceProxy with the given TCP engine (and relay threads) fed one VIP with both backends. */
async function runProxy(engine: ProxyEngine, threads: number): Promise<void> {
  const proxy = new ServiceProxy({ engine, threads });
  await proxy.start();
  await proxy.sync(
    snapshotOf([endpointsOf({ clusterIP: VIP[0], ports: [{ name: '', protocol: 'TCP', port: VIP[1] }], endpoints: BACKENDS.map(([ip, port]) => endpoint(ip, port)) })]),
  );
  process.send?.('ready');
}

interface Result {
  requests: number;
  p99Ms: number;
}

async function drive(targets: readonly (readonly [string, number])[], close: boolean, seconds: number): Promise<Result> {
  const latencies: number[] = [];
  const deadline = Date.now() + seconds * 1000;
  const request = Buffer.from(`GET / HTTP/1.1\r\nHost: x\r\n${close ? 'Connection: close\r\n' : ''}\r\n`);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (Date.now() < deadline) {
      const [host, port] = targets[next++ % targets.length] as readonly [string, number];
      await new Promise<void>((resolve) => {
        const socket = net.connect({ host, port, noDelay: true });
        let sent = 0;
        const send = (): void => {
          sent = performance.now();
          socket.write(request);
        };
        socket.on('connect', send);
        socket.on('error', () => resolve());
        socket.on('close', () => resolve());
        socket.on('data', () => {
          latencies.push(performance.now() - sent);
          if (close || Date.now() >= deadline) socket.destroy();
          else send();
        });
      });
    }
  };
  await Promise.all(Array.from({ length: 50 }, worker));
  latencies.sort((a, b) => a - b);
  return { requests: latencies.length / seconds, p99Ms: latencies[Math.floor(latencies.length * 0.99)] ?? 0 };
}

function start(role: string, ...args: string[]): Promise<ChildProcess> {
  const child = fork(fileURLToPath(import.meta.url), [role, ...args]);
  return new Promise((resolve, reject) => {
    child.once('message', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`${role} exited with ${code}`)));
  });
}

async function main(): Promise<void> {
  const [role, a, b] = process.argv.slice(2);
  if (role === 'backend') return runBackend(a as string, Number(b));
  if (role === 'proxy') return runProxy(a as ProxyEngine, Number(b));
  const seconds = Number(role ?? 3);
  const engine = a === 'node' ? 'node' : 'native';
  const threads = Number(b ?? 2);
  const children = await Promise.all([...BACKENDS.map(([ip, port]) => start('backend', ip, String(port))), start('proxy', engine, String(threads))]);
  console.log(`engine ${engine}${engine === 'native' ? `, ${threads} relay threads` : ''}`);
  try {
    for (const close of [false, true]) {
      const direct = await drive(BACKENDS, close, seconds);
      const proxied = await drive([VIP], close, seconds);
      const mode = close ? 'close     ' : 'keep-alive';
      console.log(
        `${mode} direct ${direct.requests.toFixed(0)} req/s p99 ${direct.p99Ms.toFixed(2)} ms | proxy ${proxied.requests.toFixed(0)} req/s p99 ${proxied.p99Ms.toFixed(2)} ms | ratio ${(proxied.requests / direct.requests).toFixed(2)}`,
      );
    }
  } finally {
    for (const child of children) child.kill();
  }
}

await main();
