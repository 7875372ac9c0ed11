import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { inRange } from '../../src/lib/index.js';
import { cleanup, startBerth, tempDir, waitFor } from './harness.js';

/*
 * Issue #9 §2: two berth servers with different data directories on one machine handed out the same
 * default address ranges. Each test uses a registry of its own (BERTH_RANGES_DIR), so that it sees
 * only the servers it started.
 */

/** No range asked for: the server takes the defaults (or, when another server holds them, alternatives). */
const defaultsIn = (registry: string): Record<string, string> => ({ BERTH_RANGES_DIR: registry, BERTH_INSTANCE_RANGE: '', BERTH_SERVICE_RANGE: '', BERTH_NODE_PORT_RANGE: '' });

const sleeper = (name: string) => ({
  name,
  replicas: 1,
  type: 'NodePort' as const,
  ports: [{ port: 80, targetPort: 8080 }],
  containers: [{ command: ['sleep', '100000'], stopGracePeriod: '1s' }],
});

describe('address ranges of several servers on one machine', () => {
  it('a second server with the default ranges takes free ones, says which and why, and hands out only those', { timeout: 60_000 }, async () => {
    const registry = tempDir('berth-ranges-');
    const first = await startBerth({ instanceRange: '127.11.58.0/24', env: defaultsIn(registry) });
    try {
      const second = await startBerth({ instanceRange: '127.11.58.0/24', env: defaultsIn(registry) });
      try {
        assert.doesNotMatch(first.stderr(), /warning: another berth server/, 'the first server keeps the defaults quietly');
        const says = (range: string, alternative: string, variable: string): RegExp =>
          new RegExp(`warning: another berth server \\(data directory ${first.dataDir}, pid ${first.proc.pid}\\) uses the ${range}; this server takes ${alternative} instead \\(set ${variable} to choose one\\)`);
        assert.match(second.stderr(), says('instance range 127.10.0.0/16', '127.65.0.0/16', 'BERTH_INSTANCE_RANGE'));
        assert.match(second.stderr(), says('service range 127.96.0.0/16', '127.129.0.0/16', 'BERTH_SERVICE_RANGE'));
        assert.match(second.stderr(), says('node port range 30000-32767', '29000-29999', 'BERTH_NODE_PORT_RANGE'));

        const svc = await second.client.createService('default', sleeper('apart'), { deploy: true });
        assert.ok(inRange(svc.spec.clusterIP ?? '', '127.129.0.0/16'), `VIP ${svc.spec.clusterIP} in the second server's service range`);
        const nodePort = svc.spec.ports[0]?.nodePort ?? 0;
        assert.ok(nodePort >= 29000 && nodePort <= 29999, `node port ${nodePort} in the second server's range`);
        const [inst] = await waitFor('an instance', async () => {
          const list = await second.client.listInstances('default', 'apart', { active: true });
          return list.length > 0 ? list : undefined;
        });
        assert.ok(inRange(inst?.spec.address ?? '', '127.65.0.0/16'), `instance address ${inst?.spec.address} in the second server's range`);

        // Restarted, the second server keeps the ranges its store holds addresses from, even though the
        // defaults would be free now.
        await cleanup(first);
        await second.stop();
        const again = await startBerth({ dataDir: second.dataDir, instanceRange: '127.11.58.0/24', env: defaultsIn(registry) });
        try {
          assert.doesNotMatch(again.stderr(), /warning: another berth server/);
          const more = await again.client.createService('default', sleeper('again'), { deploy: true });
          assert.ok(inRange(more.spec.clusterIP ?? '', '127.129.0.0/16'), `VIP ${more.spec.clusterIP} still from 127.129.0.0/16`);
        } finally {
          await cleanup(again);
        }
      } finally {
        if (second.proc.exitCode === null && second.proc.signalCode === null) await cleanup(second);
      }
    } finally {
      if (first.proc.exitCode === null && first.proc.signalCode === null) await cleanup(first);
      rmSync(registry, { recursive: true, force: true });
    }
  });

  it('refuses to start a server whose ranges overlap those of a running server, naming the range, the other data directory and the variable', { timeout: 60_000 }, async () => {
    const registry = tempDir('berth-ranges-');
    const env = { BERTH_RANGES_DIR: registry };
    const first = await startBerth({ instanceRange: '127.11.59.0/24', env });
    try {
      await assert.rejects(
        startBerth({ instanceRange: '127.11.59.0/24', env: { ...env, BERTH_SERVICE_RANGE: '127.98.59.0/24', BERTH_NODE_PORT_RANGE: '32500-32519' } }),
        (e: Error) => {
          assert.match(e.message, /the instance range 127\.11\.59\.0\/24 \(from BERTH_INSTANCE_RANGE\) overlaps 127\.11\.59\.0\/24 of another berth server/);
          assert.ok(e.message.includes(`data directory ${first.dataDir}, pid ${first.proc.pid}`), e.message);
          assert.match(e.message, /set BERTH_INSTANCE_RANGE=127\.65\.0\.0\/16 \(free\)/);
          return true;
        },
      );
    } finally {
      await cleanup(first);
      rmSync(registry, { recursive: true, force: true });
    }
  });

  it('keeps the ranges of a server that was killed while its instances run, and frees them once they are gone', { timeout: 60_000 }, async () => {
    const registry = tempDir('berth-ranges-');
    const env = { BERTH_RANGES_DIR: registry };
    const dataDir = tempDir();
    const first = await startBerth({ dataDir, instanceRange: '127.11.60.0/24', env });
    await first.client.createService('default', sleeper('held'), { deploy: true });
    await waitFor('running', async () => (await first.client.listInstances('default', 'held', { active: true })).some((i) => i.status.state === 'running'));
    await first.kill();
    const otherDir = tempDir();
    try {
      await assert.rejects(startBerth({ dataDir: otherDir, instanceRange: '127.11.60.0/24', env }), /overlaps 127\.11\.60\.0\/24 of another berth server/);
    } finally {
      const back = await startBerth({ dataDir, instanceRange: '127.11.60.0/24', env });
      await cleanup(back); // removes its services; their instances end
    }
    const second = await startBerth({ dataDir: otherDir, instanceRange: '127.11.60.0/24', env });
    try {
      assert.doesNotMatch(second.stderr(), /another berth server/);
    } finally {
      await cleanup(second);
      rmSync(registry, { recursive: true, force: true });
    }
  });
});
