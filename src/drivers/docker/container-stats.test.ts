import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type Dockerode from 'dockerode';
import { forgetContainerStats, sampleContainerStats, sampleStatsFromEngine } from './container-stats.js';
import { engineGate, importBusyboxImage, removeContainer, removeImage, runContainer, TEST_PREFIX, waitExited } from './io-test-support.js';

const gate = engineGate('container-stats.test.ts');

describe('sampleContainerStats, with real containers', { skip: gate.skip, timeout: 120_000 }, () => {
  const docker = gate.docker as Dockerode;
  const image = `${TEST_PREFIX}-stats/bb:1`;
  const containers: Dockerode.Container[] = [];
  const run = async (name: string, script: string): Promise<Dockerode.Container> => {
    const c = await runContainer(docker, image, name, ['sh', '-c', script]);
    containers.push(c);
    return c;
  };
  let ticks = 0;
  const now = (): number => ++ticks * 1000;

  before(async () => {
    await importBusyboxImage(docker, image);
  });

  after(async () => {
    for (const c of containers) await removeContainer(c);
    await removeImage(docker, image);
  });

  it('sees the CPU time of a busy container grow, its memory and its one process', async () => {
    const c = await run('burn', 'while :; do :; done');
    const first = await sampleContainerStats(docker, c.id, now);
    assert.ok(first, 'a sample of a running container');
    assert.equal(first.sampledAt, ticks * 1000);
    assert.ok(first.memoryBytes > 0);
    assert.equal(first.processes, 1);
    const t0 = performance.now();
    let second = first;
    // Bounded: CPU time moves within a scheduler tick or two of a busy loop.
    for (let i = 0; i < 100 && second.cpuTimeMs <= first.cpuTimeMs + 50; i++) {
      await new Promise((r) => setTimeout(r, 20));
      second = (await sampleContainerStats(docker, c.id, now)) ?? assert.fail('still running');
    }
    const elapsed = performance.now() - t0;
    const used = second.cpuTimeMs - first.cpuTimeMs;
    assert.ok(used > 50, `cpu ${first.cpuTimeMs} → ${second.cpuTimeMs} ms`);
    assert.ok(used <= elapsed * 1.1 + 20, `one busy loop cannot use more than one core: ${used} ms in ${elapsed} ms`);
  });

  it('counts every process of the container and agrees with the engine’s stats API', async () => {
    const c = await run('two-sleeps', 'sleep 1000 & sleep 1000 & wait');
    let sample = await sampleContainerStats(docker, c.id, now);
    for (let i = 0; i < 100 && sample?.processes !== 3; i++) {
      await new Promise((r) => setTimeout(r, 20));
      sample = await sampleContainerStats(docker, c.id, now);
    }
    assert.equal(sample?.processes, 3);
    // A container that just started still faults pages in (a CI run saw 216 KiB more a moment later):
    // wait until its memory stands still, then bracket the engine's answer with a sample of ours on each
    // side (its sample comes from its collector's tick, up to a second before it answers).
    let previous = sample?.memoryBytes ?? 0;
    for (let i = 0; i < 100; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const m = (await sampleContainerStats(docker, c.id, now))?.memoryBytes ?? 0;
      if (Math.abs(m - previous) <= 4096) break;
      previous = m;
    }
    const before = await sampleContainerStats(docker, c.id, now);
    const engine = await sampleStatsFromEngine(docker, c.id, now);
    sample = await sampleContainerStats(docker, c.id, now);
    assert.ok(engine && sample && before);
    assert.equal(engine.processes, 3);
    // An idle container: CPU time stands still, memory barely moves.
    assert.ok(Math.abs(engine.cpuTimeMs - sample.cpuTimeMs) < 5, `cpu: engine ${engine.cpuTimeMs}, cgroup ${sample.cpuTimeMs}`);
    const low = Math.min(before.memoryBytes, sample.memoryBytes);
    const high = Math.max(before.memoryBytes, sample.memoryBytes);
    const slack = Math.max(64 * 1024, high * 0.1);
    assert.ok(engine.memoryBytes >= low - slack && engine.memoryBytes <= high + slack, `memory: engine ${engine.memoryBytes}, cgroup ${before.memoryBytes} before and ${sample.memoryBytes} after`);
  });

  it('takes well under the engine API’s second per sample', async () => {
    const c = await run('timed', 'sleep 1000');
    await sampleContainerStats(docker, c.id, now); // locates the cgroup (one inspect)
    const n = 50;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) assert.ok(await sampleContainerStats(docker, c.id, now));
    const each = (performance.now() - t0) / n;
    console.log(`sampleContainerStats: ${each.toFixed(2)} ms a sample (cgroup files)`);
    assert.ok(each < 20, `${each} ms a sample`);
  });

  it('is undefined once the container has exited, sampled before or not, and for an unknown one', async () => {
    const c = await run('exits', 'sleep 1000');
    assert.ok(await sampleContainerStats(docker, c.id, now));
    await c.kill();
    await waitExited(c);
    assert.equal(await sampleContainerStats(docker, c.id, now), undefined);
    assert.equal(await sampleContainerStats(docker, c.id, now), undefined);
    const never = await run('exits-unsampled', 'true');
    await waitExited(never);
    assert.equal(await sampleContainerStats(docker, never.id, now), undefined);
    assert.equal(await sampleStatsFromEngine(docker, never.id, now), undefined);
    assert.equal(await sampleContainerStats(docker, `${TEST_PREFIX}-nosuch`, now), undefined);
  });

  it('finds a container started again under the same id', async () => {
    const c = await run('restarts', 'sleep 1000');
    const before = await sampleContainerStats(docker, c.id, now);
    assert.ok(before);
    await c.kill();
    await waitExited(c);
    await c.start();
    // pids.current counts tasks: for a moment after the start returns, runc's init (a Go program with
    // several threads) may still be there before it execs the command (CI saw 6 once). The container's
    // own cgroup settles at 1 (sleep); a wrong cgroup (a parent's) would not.
    let again = await sampleContainerStats(docker, c.id, now);
    for (let i = 0; i < 50 && again !== undefined && again.processes !== 1; i++) {
      await new Promise((r) => setTimeout(r, 100));
      again = await sampleContainerStats(docker, c.id, now);
    }
    assert.ok(again, 'running again');
    assert.equal(again.processes, 1);
    forgetContainerStats(docker, c.id);
    assert.ok(await sampleContainerStats(docker, c.id, now), 'located afresh');
  });
});
