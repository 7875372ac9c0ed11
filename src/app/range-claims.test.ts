import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readProcEntry } from '../drivers/index.js';
import { hasCode, silentLogger } from '../lib/index.js';
import type { AddressRanges } from './address-ranges.js';
import { DEFAULT_RANGES } from './address-ranges.js';
import { claimAddressRanges, claimClusterRanges, clusterIdOf } from './range-claims.js';

const root = mkdtempSync(join(tmpdir(), 'berth-range-claims-'));
after(() => rmSync(root, { recursive: true, force: true }));
let seq = 0;

/** A registry and a data directory of their own for one case. */
function setup(): { registry: string; dataDir: string } {
  const dir = join(root, String(++seq));
  mkdirSync(join(dir, 'data'), { recursive: true });
  return { registry: join(dir, 'registry'), dataDir: join(dir, 'data') };
}

/** Writes another server's claim: alive (this very process) or dead (a pid that is not running). */
async function otherClaim(registry: string, ranges: AddressRanges, alive: boolean, dataDir = '/srv/other', cluster?: string): Promise<void> {
  mkdirSync(registry, { recursive: true });
  const ticks = (await readProcEntry(process.pid))?.startTicks ?? 0;
  const claim = { dataDir, exitDir: `${dataDir}/exits`, pid: alive ? process.pid : 2 ** 22 + 1, startTicks: alive ? ticks : 1, ranges, ...(cluster ? { cluster } : {}) };
  writeFileSync(join(registry, `other-${++seq}.json`), JSON.stringify(claim));
}

const claim = (s: { registry: string; dataDir: string }, env: NodeJS.ProcessEnv = {}, shimsRun = false) =>
  claimAddressRanges(s.dataDir, { env, registryDir: s.registry, exitDir: join(s.dataDir, 'exits'), exitDirsInUse: async () => new Set(shimsRun ? ['/srv/other/exits'] : []), logger: silentLogger });

void describe('claimAddressRanges', () => {
  void it('gives a lone server the defaults, quietly, and keeps them in the data directory', async () => {
    const s = setup();
    const got = await claim(s);
    assert.deepEqual(got, { ranges: DEFAULT_RANGES, notices: [] });
    assert.deepEqual(JSON.parse(readFileSync(join(s.dataDir, 'ranges.json'), 'utf8')), DEFAULT_RANGES);
    assert.equal(readdirSync(s.registry).filter((f) => f.endsWith('.json')).length, 1, 'its claim is in the registry');
  });

  void it('moves each default range another running server holds to the first free alternative, and says so', async () => {
    const s = setup();
    await otherClaim(s.registry, DEFAULT_RANGES, true, '/srv/first');
    await otherClaim(s.registry, { instanceRange: '127.65.0.0/16', serviceRange: '127.200.0.0/16', nodePortRange: [40000, 40010] }, true, '/srv/second');
    const got = await claim(s);
    assert.deepEqual(got.ranges, { instanceRange: '127.66.0.0/16', serviceRange: '127.129.0.0/16', nodePortRange: [29000, 29999] });
    assert.equal(got.notices.length, 3);
    assert.match(got.notices[0] ?? '', /data directory \/srv\/(first|second), pid \d+\) uses the instance range 127\.(10|65)\.0\.0\/16; this server takes 127\.66\.0\.0\/16 instead \(set BERTH_INSTANCE_RANGE to choose one\)/);
  });

  void it('refuses a range asked for in the environment that overlaps a running server', async () => {
    const s = setup();
    await otherClaim(s.registry, { ...DEFAULT_RANGES, serviceRange: '127.97.5.0/24' }, true);
    await assert.rejects(claim(s, { BERTH_SERVICE_RANGE: '127.97.0.0/16' }), (e: unknown) => {
      assert.ok(hasCode(e, 'ADDRESS_RANGE_IN_USE'));
      assert.match((e as Error).message, /the service range 127\.97\.0\.0\/16 \(from BERTH_SERVICE_RANGE\) overlaps 127\.97\.5\.0\/24 of another berth server \(data directory \/srv\/other/);
      assert.match((e as Error).message, /set BERTH_SERVICE_RANGE=127\.129\.0\.0\/16 \(free\)/);
      return true;
    });
    assert.throws(() => readFileSync(join(s.dataDir, 'ranges.json')), 'nothing kept for a server that did not start');
  });

  void it('refuses the ranges a data directory took before when another server holds them now', async () => {
    const s = setup();
    await claim(s); // the defaults, kept in ranges.json
    await otherClaim(s.registry, DEFAULT_RANGES, true);
    await assert.rejects(claim(s), /instance range 127\.10\.0\.0\/16 \(this data directory's since an earlier start/);
  });

  void it('drops the claim of a server that is gone with all its containers, and keeps one whose containers run', async () => {
    const s = setup();
    await otherClaim(s.registry, DEFAULT_RANGES, false);
    const held = await claim(s, {}, true);
    assert.equal(held.ranges.instanceRange, '127.65.0.0/16', 'its shims still run: the claim holds');
    const fresh = setup();
    await otherClaim(fresh.registry, DEFAULT_RANGES, false);
    assert.deepEqual((await claim(fresh)).ranges, DEFAULT_RANGES, 'gone for good: the defaults are free again');
    assert.equal(readdirSync(fresh.registry).filter((f) => f.startsWith('other-')).length, 0, 'and its claim was removed');
  });
});

const CLUSTER_RANGES: AddressRanges = { instanceRange: '127.11.88.0/24', serviceRange: '127.97.8.0/24', nodePortRange: [31160, 31179] };

void describe('claimClusterRanges (an agent of a cluster, on etcd or joined to a server)', () => {
  const agentClaim = (s: { registry: string; dataDir: string }, cluster: string, ranges = CLUSTER_RANGES) =>
    claimClusterRanges(s.dataDir, ranges, { env: {}, registryDir: s.registry, exitDir: join(s.dataDir, 'exits'), exitDirsInUse: async () => new Set(), logger: silentLogger, cluster });
  const claimsIn = (registry: string) =>
    readdirSync(registry)
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(readFileSync(join(registry, f), 'utf8')) as { dataDir: string; cluster?: string; ranges: AddressRanges });

  void it('claims the cluster\'s ranges under the cluster\'s id, beside the agents and the server of the same cluster', async () => {
    const s = setup();
    const cluster = clusterIdOf({ signingKey: Buffer.alloc(32, 7) });
    assert.match(cluster, /^key:[0-9a-f]{24}$/);
    await otherClaim(s.registry, CLUSTER_RANGES, true, '/srv/agent-a', cluster);
    await agentClaim(s, cluster);
    const mine = claimsIn(s.registry).find((c) => c.dataDir === s.dataDir);
    assert.deepEqual(mine && { cluster: mine.cluster, ranges: mine.ranges }, { cluster, ranges: CLUSTER_RANGES });
  });

  void it('refuses to start beside another berth whose live claim overlaps, naming the range, the other berth and the fixes', async () => {
    const s = setup();
    await otherClaim(s.registry, { ...DEFAULT_RANGES, instanceRange: '127.11.0.0/16' }, true, '/srv/standalone');
    await assert.rejects(agentClaim(s, 'key:aaaa'), (e: unknown) => {
      assert.ok(hasCode(e, 'ADDRESS_RANGE_IN_USE'));
      assert.match(
        (e as Error).message,
        /^the cluster's instance range 127\.11\.88\.0\/24 \(fixed by its first server\) overlaps 127\.11\.0\.0\/16 of another berth on this machine \(data directory \/srv\/standalone, pid \d+, or containers it started\): this agent's instances and proxy would use the same addresses; stop that berth, or restart it with BERTH_INSTANCE_RANGE=127\.65\.0\.0\/16, or run this agent on another machine$/,
      );
      return true;
    });
    assert.equal(claimsIn(s.registry).some((c) => c.dataDir === s.dataDir), false, 'no claim for an agent that did not start');
    const other = setup();
    await otherClaim(other.registry, CLUSTER_RANGES, true, '/srv/agent-of-another-cluster', 'key:bbbb');
    await assert.rejects(agentClaim(other, 'key:aaaa'), /the cluster's instance range 127\.11\.88\.0\/24 .* overlaps 127\.11\.88\.0\/24 of another berth/, 'an agent of another cluster');
  });

  void it('moves the default ranges of a single-machine server started later aside, unless the agent is of that server\'s own cluster', async () => {
    const s = setup();
    await agentClaim(s, 'key:cccc', DEFAULT_RANGES);
    const later = setup();
    const moved = await claimAddressRanges(later.dataDir, { env: {}, registryDir: s.registry, exitDir: join(later.dataDir, 'exits'), exitDirsInUse: async () => new Set(), logger: silentLogger, cluster: clusterIdOf({ dataDir: later.dataDir }) });
    assert.equal(moved.ranges.instanceRange, '127.65.0.0/16', 'the agent\'s claim is another berth\'s for this server');
    assert.match(moved.notices[0] ?? '', new RegExp(`data directory ${s.dataDir.replace(/[/.]/g, '\\$&')}, pid \\d+\\) uses the instance range 127\\.10\\.0\\.0/16`));
    const own = setup();
    const server = setup();
    const id = clusterIdOf({ dataDir: server.dataDir });
    await agentClaim({ registry: own.registry, dataDir: own.dataDir }, id, DEFAULT_RANGES);
    const kept = await claimAddressRanges(server.dataDir, { env: {}, registryDir: own.registry, exitDir: join(server.dataDir, 'exits'), exitDirsInUse: async () => new Set(), logger: silentLogger, cluster: id });
    assert.deepEqual(kept, { ranges: DEFAULT_RANGES, notices: [] }, 'its own agent on this machine shares its ranges');
  });
});
