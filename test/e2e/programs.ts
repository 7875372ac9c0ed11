/** Test programs and the specs that run them. */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { Instance } from '../../src/model/index.js';
import { ROOT } from './harness.js';

export const ECHO = join(ROOT, 'test/programs/echo-server.mjs');
export const echoSpec = (name: string, replicas: number, extra: Record<string, unknown> = {}) => ({
  name,
  replicas,
  containers: [{ command: ['node', ECHO], ports: [{ containerPort: 8080 }], workingDir: ROOT, stopGracePeriod: '2s' }],
  restartPolicy: { delay: '1s' },
  ...extra,
});

/**
 * The trimmed body of GET http://host:port/ on a connection of its own, or undefined when it fails or
 * takes over 2 s. A connection each, since the proxy balances connections (a kept-alive one would reach
 * one instance only); ECHO answers with its instance id.
 */
export function askOnce(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = request({ host, port, path: '/', timeout: 2000, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body.trim()));
      res.on('error', () => resolve(undefined));
    });
    req.once('error', () => resolve(undefined));
    req.once('timeout', () => req.destroy());
    req.end();
  });
}

/** Resolves true when a TCP connect to the instance's first port succeeds. */
export function accepts(i: Instance): Promise<boolean> {
  const port = i.spec.containers[0]?.ports[0]?.containerPort ?? 0;
  return new Promise((resolve) => {
    const s = connect({ host: i.spec.address, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export function pidOf(i: Instance): number {
  const pid = i.status.containers?.[0]?.pid;
  assert.ok(pid, `instance ${i.id} has a pid`);
  return pid;
}


export const SLOW = join(ROOT, 'test/programs/slow-server.mjs');

/** A service of the slow test server with a readiness probe on /health (period 0.5 s). */
export function slowSpec(name: string, replicas: number, o: { env?: Record<string, string>; updateConfig?: Record<string, unknown>; delayMs?: string } = {}) {
  return {
    name,
    replicas,
    containers: [{
      command: ['node', SLOW],
      env: { PORT: '8080', DELAY_MS: o.delayMs ?? '0-0', ...o.env },
      ports: [{ name: 'http', containerPort: 8080 }],
      workingDir: ROOT,
      stopGracePeriod: '2s',
      readinessProbe: { httpGet: { path: '/health', port: 'http' }, periodSeconds: 0.5, failureThreshold: 2 },
    }],
    restartPolicy: { delay: '1s' },
    ...(o.updateConfig ? { updateConfig: o.updateConfig } : {}),
  };
}

