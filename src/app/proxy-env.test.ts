import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import type { Logger } from '../lib/index.js';
import { proxyFromEnv } from './data-plane.js';

function recordingLogger(): { logger: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const logger: Logger = { debug: () => {}, info: () => {}, warn: (_fields, msg) => warnings.push(msg), error: () => {}, child: () => logger };
  return { logger, warnings };
}

test('the proxy defaults to the native relay with one thread per core, at most 2', () => {
  const { logger, warnings } = recordingLogger();
  assert.deepEqual(proxyFromEnv({}, logger), { engine: 'native', threads: Math.min(2, availableParallelism()) });
  assert.deepEqual(warnings, []);
});

test('BERTH_PROXY_ENGINE and BERTH_PROXY_THREADS choose the engine and the relay threads', () => {
  const { logger, warnings } = recordingLogger();
  assert.deepEqual(proxyFromEnv({ BERTH_PROXY_ENGINE: 'node', BERTH_PROXY_THREADS: '4' }, logger), { engine: 'node', threads: 4 });
  assert.deepEqual(proxyFromEnv({ BERTH_PROXY_ENGINE: ' native ', BERTH_PROXY_THREADS: '1' }, logger), { engine: 'native', threads: 1 });
  assert.deepEqual(warnings, []);
});

test('a bad BERTH_PROXY_ENGINE or BERTH_PROXY_THREADS is logged and the default used', () => {
  const { logger, warnings } = recordingLogger();
  const defaults = { engine: 'native', threads: Math.min(2, availableParallelism()) };
  for (const threads of ['0', '65', '1.5', 'two']) assert.deepEqual(proxyFromEnv({ BERTH_PROXY_THREADS: threads }, logger), defaults);
  assert.deepEqual(proxyFromEnv({ BERTH_PROXY_ENGINE: 'haproxy' }, logger), defaults);
  assert.equal(warnings.length, 5);
  assert.match(warnings[0] as string, /BERTH_PROXY_THREADS is not an integer from 1 to 64/);
  assert.match(warnings[4] as string, /BERTH_PROXY_ENGINE is neither native nor node/);
});
