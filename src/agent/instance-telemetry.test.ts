import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { ContainerHandle, ContainerLogLine, Driver, LogReadOptions } from '../drivers/index.js';
import type { Instance } from '../model/index.js';
import { writeHandleFile } from './instance-files.js';
import { InstanceTelemetry, toNanoIso } from './instance-telemetry.js';

const dataDir = mkdtempSync(join(tmpdir(), 'berth-telemetry-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

function instance(id: string, slot: number): Instance {
  return { id, slot, service: 'web', grid: 'default', spec: { containers: [{ name: 'web' }] }, status: { state: 'running' } } as unknown as Instance;
}

/** A driver whose containers write what `script` gives them, read by `logs` only (all the telemetry needs here). */
function scriptedDriver(script: (id: string, signal: AbortSignal) => AsyncIterable<ContainerLogLine>): Driver {
  return {
    // No history: every line is written while following.
    logs: (handle: ContainerHandle, options: LogReadOptions) => (options.follow && options.signal ? script((handle as unknown as { id: string }).id, options.signal) : (async function* () {})()),
  } as unknown as Driver;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('InstanceTelemetry.logs (follow)', () => {
  it('finds an instance that starts while following within a scan, and its watermarks never pass a line still to come', async () => {
    const driver = scriptedDriver(async function* (id, signal) {
      if (id === 'web-1-a') {
        for (let k = 0; k < 40 && !signal.aborted; k++) {
          yield { time: toNanoIso(Date.now()), stream: 'stdout', text: `a${k}` };
          await sleep(25);
        }
      } else {
        // The new instance wrote its first line just before its handle was saved (a process starts first).
        yield { time: toNanoIso(Date.now() - 120), stream: 'stdout', text: 'b-first' };
      }
      await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
    });
    const telemetry = new InstanceTelemetry(driver, dataDir);
    const instances = [instance('web-1-a', 1)];
    const handleOf = (id: string): { name: string; handle: { id: string } } => ({ name: 'web', handle: { id } });
    await writeHandleFile(dataDir, 'web-1-a', handleOf('web-1-a'));
    const abort = new AbortController();
    const seen: { kind: 'line' | 'mark'; time: string; text?: string; at: number }[] = [];
    const following = (async () => {
      const lines = telemetry.logs(() => instances, { follow: true, signal: abort.signal, onWatermark: (time) => seen.push({ kind: 'mark', time, at: Date.now() }) });
      for await (const line of lines) seen.push({ kind: 'line', time: line.time, text: line.text, at: Date.now() });
    })();
    await sleep(300);
    const addedAt = Date.now();
    instances.push(instance('web-2-b', 2));
    await writeHandleFile(dataDir, 'web-2-b', handleOf('web-2-b'));
    await sleep(700);
    abort.abort();
    await following;

    const b = seen.find((s) => s.text === 'b-first');
    assert.ok(b, 'the new instance\'s line was followed');
    assert.ok(b.at - addedAt < 600, `found within a scan, not the old 1 s rescan (${b.at - addedAt} ms)`);
    let mark = '';
    for (const s of seen) {
      if (s.kind === 'mark') {
        assert.ok(s.time >= mark, 'watermarks only advance');
        mark = s.time;
      } else assert.ok(s.time >= mark, `line ${s.text} at ${s.time} came after the watermark ${mark} had passed it`);
    }
    const lines = seen.filter((s) => s.kind === 'line').map((s) => s.time);
    assert.deepEqual([...lines].sort(), lines, 'lines in time order');
    assert.ok(seen.filter((s) => s.kind === 'mark').length > 5, 'watermarks advance while following');
  });
});
