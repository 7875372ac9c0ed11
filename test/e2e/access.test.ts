import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { BIN, ROOT, cleanup, startBerth, tempDir, waitFor } from './harness.js';

const PROBE = join(ROOT, 'test/programs/api-probe.mjs');

function berth(url: string, args: string[], env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, '--host', url, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', BERTH_CONFIG: join(tempDir(), 'config'), ...env }, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('access control, end to end', () => {
  it('an instance\'s own token reads its service but neither reads nor deletes another one', async () => {
    const server = await startBerth({ instanceRange: '127.11.40.0/24' });
    try {
      const S = '/v1/grids/default/services';
      await server.client.createService('default', { name: 'db', containers: [{ command: ['sleep', '300'], env: { DB_PASSWORD: 'hunter2' } }] }, { deploy: true });
      await server.client.createService('default', {
        name: 'prober',
        containers: [{ command: ['node', PROBE, `GET:${S}/prober`, `GET:${S}/db`, `DELETE:${S}/db`, `GET:${S}`], workingDir: ROOT }],
      }, { deploy: true });
      const lines = await waitFor('the probe\'s four answers', async () => {
        const out: string[] = [];
        for await (const line of server.client.logs('default', 'prober')) out.push(line.text);
        return out.filter((l) => l.includes(' -> ')).length === 4 ? out : undefined;
      }, { timeoutMs: 20_000 });
      assert.ok(lines.includes('token present'), lines.join('\n'));
      assert.match(lines.find((l) => l.startsWith(`GET ${S}/prober `)) ?? '', / -> 200 /);
      assert.match(lines.find((l) => l.startsWith(`GET ${S}/db `)) ?? '', / -> 403 .*FORBIDDEN/);
      assert.match(lines.find((l) => l.startsWith(`DELETE ${S}/db `)) ?? '', / -> 403 /);
      assert.match(lines.find((l) => l.startsWith(`GET ${S} `)) ?? '', / -> 403 /);
      assert.ok(!lines.some((l) => l.includes('hunter2')), 'the other service\'s secret never reached the instance');
      assert.equal((await server.client.getService('default', 'db')).desired, 'running');
    } finally {
      await cleanup(server);
    }
  });

  it('the CLI: no token → 401 and exit 1; a viewer token reads and is refused a write with 403; token revoke ends it', async () => {
    const server = await startBerth({ instanceRange: '127.11.41.0/24' });
    try {
      const none = berth(server.url, ['service', 'ls'], { BERTH_DATA_DIR: tempDir() });
      assert.equal(none.status, 1);
      assert.match(none.stderr, /no bearer token/);

      const admin = { BERTH_TOKEN: server.token };
      const created = berth(server.url, ['token', 'create', '--role', 'viewer', '--name', 'dashboards'], admin);
      assert.equal(created.status, 0, created.stderr);
      const viewer = { BERTH_TOKEN: created.stdout.trim() };
      assert.match(berth(server.url, ['whoami'], viewer).stdout, /roles: viewer in grid default/);
      assert.equal(berth(server.url, ['service', 'ls'], viewer).status, 0);
      const write = berth(server.url, ['service', 'create', 'web', '--cmd', 'sleep 1'], viewer);
      assert.equal(write.status, 1);
      assert.match(write.stderr, /forbidden: .* needs the role operator or higher in grid "default"/);
      assert.deepEqual(await server.client.listServices('default'), []);

      const listed = berth(server.url, ['token', 'ls'], admin);
      assert.match(listed.stdout, /dashboards\s+viewer\s+default/);
      const id = /^(\w+)\s+dashboards/m.exec(listed.stdout)?.[1] ?? '';
      assert.equal(berth(server.url, ['token', 'revoke', id], admin).status, 0);
      assert.match(berth(server.url, ['service', 'ls'], viewer).stderr, /unknown or was revoked/);

      assert.equal(berth(server.url, ['grid', 'create', 'shop'], admin).status, 0);
      assert.match(berth(server.url, ['grid', 'ls', '-q'], admin).stdout, /^default\nshop\n$/);
      const unknown = berth(server.url, ['--grid', 'nope', 'service', 'ls'], admin);
      assert.equal(unknown.status, 1);
      assert.match(unknown.stderr, /grid "nope" not found/);
    } finally {
      await cleanup(server);
    }
  });

  it('berth login saves a context that later commands use, and use-context switches back', async () => {
    const server = await startBerth({ instanceRange: '127.11.42.0/24' });
    try {
      const env = { BERTH_CONFIG: join(tempDir(), 'config'), BERTH_DATA_DIR: tempDir() };
      const run = (args: string[], extra: Record<string, string> = {}) => {
        const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env, ...extra }, input: server.token, timeout: 60_000 });
        return { status: r.status, stdout: r.stdout, stderr: r.stderr };
      };
      const login = run(['login', server.url, '--token-stdin', '--name', 'test']);
      assert.equal(login.status, 0, login.stderr);
      assert.match(login.stdout, /context "test" is now current/);
      assert.equal(run(['whoami']).status, 0, 'no --host, no BERTH_TOKEN: the context gives both');
      assert.match(run(['config', 'get-contexts']).stdout, /\*\s+test\s+http:\/\/127\.0\.0\.1/);
      assert.equal(run(['config', 'use-context', 'missing']).status, 1);
      const bad = run(['login', server.url, '--token', 'berth_000000000000_' + 'x'.repeat(43), '--name', 'bad']);
      assert.equal(bad.status, 1, 'a token the server refuses is not saved');
      // No context named bad (the NAME column; a token id's hex may well contain "bad").
      const names = run(['config', 'get-contexts']).stdout.split('\n').slice(1).filter(Boolean).map((l) => l.replace(/^\*?\s+/, '').split(/\s+/)[0]);
      assert.deepEqual(names, ['test']);
    } finally {
      await cleanup(server);
    }
  });

  it('--secret-env: the instance gets the value; the spec, history, events, watch, answers and server log never hold it', async () => {
    const server = await startBerth({ instanceRange: '127.11.43.0/24' });
    try {
      const env = { BERTH_TOKEN: server.token };
      // The program prints a digest of what it got: the command holds no secret, nor do the logs.
      const created = berth(server.url, ['service', 'create', 'api', '--cmd', 'printf %s "$DB_PASSWORD" | md5sum; sleep 300', '--secret-env', 'DB_PASSWORD=s3cr3t-value', '-e', 'PLAIN=1', '--deploy'], env);
      assert.equal(created.status, 0, created.stderr);
      const digest = createHash('md5').update('s3cr3t-value').digest('hex');
      await waitFor('the instance saw the value', async () => {
        for await (const line of server.client.logs('default', 'api')) if (line.text.startsWith(digest)) return true;
        return false;
      }, { timeoutMs: 20_000 });
      const updated = berth(server.url, ['service', 'update', 'api', '--secret-env', 'API_KEY=second-s3cr3t', '--deploy'], env);
      assert.equal(updated.status, 0, updated.stderr);
      const shown = berth(server.url, ['service', 'show', 'api', '-o', 'json'], env).stdout + berth(server.url, ['service', 'show', 'api'], env).stdout;
      assert.match(shown, /<secret api-env\/DB_PASSWORD>/);
      const answers = [
        shown,
        berth(server.url, ['service', 'history', 'api', '-o', 'json'], env).stdout,
        berth(server.url, ['service', 'events', 'api'], env).stdout,
        berth(server.url, ['secret', 'ls'], env).stdout,
        JSON.stringify(await server.client.listInstances('default', 'api')),
        server.stderr(),
      ];
      assert.match(answers[3] ?? '', /api-env\s+API_KEY,DB_PASSWORD/);
      for (const text of answers) assert.doesNotMatch(text, /s3cr3t/);
      const removed = berth(server.url, ['secret', 'rm', 'api-env'], env);
      assert.equal(removed.status, 1);
      assert.match(removed.stderr, /in use by the following service\(s\): api/);
      await server.stop();
      // At rest: only the secrets table holds the values.
      const db = new Database(join(server.dataDir, 'berth.db'), { readonly: true });
      for (const table of ['services', 'instances', 'spec_history', 'changes', 'events']) {
        const dump = JSON.stringify(db.prepare(`SELECT * FROM ${table}`).all());
        assert.doesNotMatch(dump, /s3cr3t/, `table ${table}`);
      }
      assert.match(JSON.stringify(db.prepare('SELECT * FROM secrets').all()), /s3cr3t-value/);
      db.close();
    } finally {
      // Stopped above on success; a failure leaves it running. Start it again to remove what it runs.
      await server.stop();
      const again = await startBerth({ instanceRange: '127.11.43.0/24', dataDir: server.dataDir });
      await cleanup(again);
    }
  });
});
