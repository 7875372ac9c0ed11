import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BIN, tempDir } from './harness.js';

/*
 * A client command loads the client, not the server (app/main.ts imports the server, the agent and
 * the control plane only when it runs one): `berth service ls` took 0.57 s and 130 MB with all of them
 * loaded, 0.21 s and 74 MB without (docs/cli.md). Checked by the modules the binary resolves.
 */

const RECORDER = fileURLToPath(new URL('../programs/record-modules.mjs', import.meta.url));
/** What only a server, an agent or a control plane needs. */
const SERVER_SIDE = [/\/dist\/app\/server\.js$/, /\/dist\/app\/control-plane\.js$/, /\/dist\/app\/remote-agent\.js$/, /\/dist\/store\//, /\/dist\/api\//, /\/node_modules\/(fastify|better-sqlite3|etcd3|dockerode)\//];

function modulesOf(args: readonly string[]): { status: number | null; stderr: string; modules: string[] } {
  const file = join(tempDir(), 'modules.txt');
  const r = spawnSync(process.execPath, ['--import', RECORDER, BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', BERTH_CONFIG: join(tempDir(), 'config'), BERTH_RECORD_MODULES: file, BERTH_HOST: 'http://127.0.0.1:9' },
    timeout: 30_000,
  });
  let modules: string[] = [];
  try {
    modules = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
  } catch {}
  return { status: r.status, stderr: r.stderr, modules };
}

describe('the CLI starts without the server', () => {
  it('--help and a client command load no server-side module; a server command does', () => {
    for (const args of [['--help'], ['service', 'ls'], ['node', 'ls']]) {
      const r = modulesOf(args);
      assert.ok(r.modules.some((m) => m.endsWith('/dist/cli/index.js')), `berth ${args.join(' ')}: the recorder saw the CLI load (${r.modules.length} modules)`);
      const loaded = r.modules.filter((m) => SERVER_SIDE.some((p) => p.test(m)));
      assert.deepEqual(loaded, [], `berth ${args.join(' ')} loaded server-side modules`);
    }
    // The control: a server command loads them (here the store, before it refuses --dns on etcd).
    const server = modulesOf(['server', '--data-dir', tempDir(), '--store', 'etcd://127.0.0.1:9', '--dns', '127.0.0.1:9']);
    assert.notEqual(server.status, 0);
    assert.match(server.stderr, /--dns: a server on etcd runs no node/);
    assert.ok(server.modules.some((m) => /\/dist\/store\/index\.js$/.test(m)), 'the server command loaded the store');
  });
});
