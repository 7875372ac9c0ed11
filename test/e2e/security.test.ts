import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { lookupUser } from '../../src/lib/index.js';
import { BIN, ROOT, cleanup, startBerth, waitFor } from './harness.js';
import { pidOf } from './programs.js';

const isRoot = process.getuid?.() === 0;
const mode = (path: string): number => statSync(path).mode & 0o7777;

/** The real uid of a running process, from /proc/<pid>/status (`Uid: real effective saved fs`). */
function uidOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('Uid:'));
  return Number(line?.split(/\s+/)[1]);
}

/** The first IPv4 address of this machine that is not loopback, or undefined. */
function nonLoopbackAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address;
}

describe('who runs what, and the data directory', () => {
  // Seen: a user `nobody` created a service whose command ran as uid 0 and listed /root.
  it('a server run as root runs instances as the unprivileged berth (or nobody) user, who writes its slot directory and nothing of root\'s', { skip: !isRoot && 'needs root (the server must run as root to switch users)', timeout: 60_000 }, async () => {
    const berth = await startBerth({ instanceRange: '127.11.70.0/24' });
    try {
      assert.match(berth.url, /^http:\/\/127\.0\.0\.1:/, 'loopback stays plain http');
      // Printed on the line after "listening on", which may come in a chunk of its own.
      const named = await waitFor('the server says who instances run as', () => /instances run as (\S+) \(uid (\d+)\)/.exec(berth.stderr()));
      const [, name, uidText] = named;
      const uid = Number(uidText);
      assert.ok(name === 'berth' || name === 'nobody', name);
      assert.notEqual(uid, 0);
      assert.equal(lookupUser(name as string)?.uid, uid);

      await berth.client.createService('default', {
        name: 'slots',
        stateful: true,
        containers: [{ command: 'echo started; id -u > "$BERTH_DATA_DIR/uid" && echo kept > "$BERTH_DATA_DIR/data"; exec sleep 300', stopGracePeriod: '1s' }],
      }, { deploy: true });
      await berth.client.createService('default', {
        name: 'snoop',
        containers: [{ command: 'ls /root; echo "ls exited $?"; exec sleep 300', workingDir: ROOT, stopGracePeriod: '1s' }],
      }, { deploy: true });

      const running = (service: string) => waitFor(`${service} running`, async () => (await berth.client.listInstances('default', service, { active: true })).find((i) => i.status.state === 'running'));
      const slot = await running('slots');
      const snoop = await running('snoop');
      assert.equal(uidOf(pidOf(slot)), uid, 'the stateful instance runs as the instance user (/proc/<pid>/status)');
      assert.equal(uidOf(pidOf(snoop)), uid, 'so does one with a working directory of its own');

      const slotDir = join(berth.dataDir, 'volumes/default/slots/1');
      await waitFor('the instance wrote its slot directory', () => {
        try {
          return readFileSync(join(slotDir, 'data'), 'utf8') === 'kept\n';
        } catch {
          return false;
        }
      });
      assert.equal(readFileSync(join(slotDir, 'uid'), 'utf8').trim(), String(uid));
      assert.equal(statSync(slotDir).uid, uid, 'the slot directory belongs to the instance user');
      assert.equal(mode(slotDir), 0o700);
      const log = join(berth.dataDir, 'instances', slot.id, 'slots.log');
      await waitFor('the log file (made with the first line)', () => statSync(log, { throwIfNoEntry: false }));
      assert.equal(statSync(log).uid, uid, 'so does its log file');
      assert.equal(mode(log), 0o600);

      const lines = await waitFor('snoop logged', async () => {
        const got: string[] = [];
        for await (const l of berth.client.logs('default', 'snoop')) got.push((l as { text?: string }).text ?? '');
        return got.some((t) => t.startsWith('ls exited')) ? got : undefined;
      });
      assert.ok(lines.some((t) => /Permission denied/.test(t)), `listing /root is denied: ${lines.join(' | ')}`);
      assert.ok(lines.includes('ls exited 2'), lines.join(' | '));

      // The data directory: passable to the instance user, listable by nobody but root; the database private.
      assert.equal(mode(berth.dataDir), 0o711);
      for (const f of ['berth.db', 'berth.db-wal', 'berth.db-shm', 'server.pid']) assert.equal(mode(join(berth.dataDir, f)), 0o600, f);
      assert.equal(mode(join(berth.dataDir, 'exits')), 0o700);
      assert.equal(mode(join(berth.dataDir, 'instances', slot.id, 'slots.handle.json')), 0o600);
    } finally {
      await cleanup(berth);
    }
  });

  it('stat of the database shows 0600 for a server run by anyone', { timeout: 30_000 }, async () => {
    const berth = await startBerth({ instanceRange: '127.11.70.0/24' });
    try {
      await berth.client.createService('default', { name: 'one', containers: [{ command: 'sleep 300', stopGracePeriod: '1s' }] });
      const out = spawnSync('stat', ['-c', '%a', join(berth.dataDir, 'berth.db'), join(berth.dataDir, 'berth.db-wal')], { encoding: 'utf8' });
      assert.equal(out.stdout, '600\n600\n');
      assert.equal(mode(berth.dataDir) & 0o077 & ~0o011, 0, 'nobody else can list or write the data directory');
    } finally {
      await cleanup(berth);
    }
  });
});

const outside = nonLoopbackAddress();
describe('listening wider', { skip: outside ? false : 'this machine has no non-loopback IPv4 address to listen on' }, () => {
  it('a non-loopback --listen serves https with a self-signed certificate whose fingerprint the CLI can pin', { timeout: 60_000 }, async () => {
    const berth = await startBerth({ instanceRange: '127.11.71.0/24', listen: `${outside}:0` });
    try {
      assert.match(berth.url, new RegExp(`^https://${(outside as string).replace(/\./g, '\\.')}:\\d+$`), 'the server prints its URL with https');
      assert.match(berth.fingerprint ?? '', /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
      assert.equal(mode(join(berth.dataDir, 'tls', 'key.pem')), 0o600);
      assert.equal((await berth.client.version()).apiVersion, 'v1', 'the typed client with the pinned fingerprint talks to it');

      const cli = (env: Record<string, string>, args: string[] = []) =>
        spawnSync(process.execPath, [BIN, '--host', berth.url, ...args, 'version'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env }, timeout: 30_000 });
      const pinned = cli({ BERTH_TLS_FINGERPRINT: berth.fingerprint ?? '' });
      assert.equal(pinned.status, 0, pinned.stderr);
      const byCa = cli({}, ['--tls-ca', join(berth.dataDir, 'tls', 'cert.pem')]);
      assert.equal(byCa.status, 0, byCa.stderr);
      const untrusted = cli({});
      assert.equal(untrusted.status, 1);
      assert.match(untrusted.stderr, /certificate/);
      assert.match(untrusted.stderr, /BERTH_TLS_FINGERPRINT/);
      const plain = await fetch(berth.url.replace('https:', 'http:') + '/v1/version').then(
        (r) => r.status,
        () => 'refused',
      );
      assert.notEqual(plain, 200, 'no plain http on that address');
    } finally {
      await cleanup(berth);
    }
  });
});
