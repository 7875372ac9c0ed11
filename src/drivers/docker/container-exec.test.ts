import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type Dockerode from 'dockerode';
import { hasCode } from '../../lib/index.js';
import { execInContainer, MAX_EXEC_OUTPUT } from './container-exec.js';
import { engineGate, importBusyboxImage, removeContainer, removeImage, runContainer, TEST_PREFIX, waitExited } from './io-test-support.js';

const gate = engineGate('container-exec.test.ts');
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

describe('execInContainer, with real containers', { skip: gate.skip, timeout: 120_000 }, () => {
  const docker = gate.docker as Dockerode;
  const image = `${TEST_PREFIX}-exec/bb:1`;
  const made: Dockerode.Container[] = [];
  let box: Dockerode.Container;
  const base = { env: { PATH }, workingDir: '/', timeoutMs: 10_000 };

  /** The container's processes whose command line is `cmd`, from the engine (`docker top`). */
  const processes = async (c: Dockerode.Container, cmd: string): Promise<number> => {
    const top = (await c.top({ ps_args: '-eo pid,stat,args' })) as { Processes: string[][] };
    return top.Processes.filter((p) => p[2] === cmd).length;
  };
  /** Waits (bounded) until `cmd` runs `n` times in the container. */
  const untilProcesses = async (c: Dockerode.Container, cmd: string, n: number): Promise<void> => {
    for (let i = 0; i < 200; i++) {
      if ((await processes(c, cmd)) === n) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.fail(`${cmd} never ran ${n} time(s): ${await processes(c, cmd)}`);
  };

  before(async () => {
    await importBusyboxImage(docker, image);
    // docker-init as pid 1 reaps what the kills orphan, so that `docker top` shows the dead as gone.
    box = await runContainer(docker, image, 'exec-box', ['sleep', '2000'], { HostConfig: { Init: true } });
    made.push(box);
  });

  after(async () => {
    for (const c of made) await removeContainer(c);
    await removeImage(docker, image);
  });

  it('runs with the env and working directory given, both streams interleaved, and reports the exit code', async () => {
    const result = await execInContainer(docker, box.id, ['sh', '-c', 'echo "$PROBE_VAR"; pwd; sleep 0.05; echo oops >&2; sleep 0.05; echo end; exit 3'], {
      env: { PATH, PROBE_VAR: 'probe-42' },
      workingDir: '/tmp',
      timeoutMs: 10_000,
    });
    assert.deepEqual(result, { exitCode: 3, output: 'probe-42\n/tmp\noops\nend\n', timedOut: false });
    assert.equal((await box.inspect()).State.Running, true, 'the container runs on');
  });

  it('runs as the user given', async () => {
    assert.deepEqual(await execInContainer(docker, box.id, ['id', '-u'], { ...base, user: 'nobody' }), { exitCode: 0, output: '65534\n', timedOut: false });
    assert.deepEqual(await execInContainer(docker, box.id, ['id', '-u'], { ...base, user: '1234' }), { exitCode: 0, output: '1234\n', timedOut: false });
  });

  it('kills the command and the child it started at the timeout', async () => {
    const began = performance.now();
    const pending = execInContainer(docker, box.id, ['sh', '-c', 'sleep 1000 & sleep 1000'], { ...base, timeoutMs: 1500 });
    await untilProcesses(box, 'sleep 1000', 2);
    const result = await pending;
    const took = performance.now() - began;
    assert.equal(result.timedOut, true);
    assert.equal(result.exitCode, 137);
    assert.ok(took >= 1450 && took < 5000, `settled after ${took.toFixed(0)} ms with a 1500 ms timeout`);
    assert.equal(await processes(box, 'sleep 1000'), 0, 'both sleeps are gone when the promise settles');
  });

  it('kills at once when aborted, even a descendant that started its own session', async () => {
    const abort = new AbortController();
    const pending = execInContainer(docker, box.id, ['sh', '-c', 'setsid sleep 1003 & sleep 1003'], { ...base, timeoutMs: 60_000, signal: abort.signal });
    await untilProcesses(box, 'sleep 1003', 2);
    const t0 = performance.now();
    abort.abort();
    const result = await pending;
    assert.equal(result.timedOut, true);
    assert.ok(performance.now() - t0 < 3000);
    assert.equal(await processes(box, 'sleep 1003'), 0);
    // Aborted before it began: nothing runs at all.
    assert.deepEqual(await execInContainer(docker, box.id, ['sleep', '1004'], { ...base, signal: abort.signal }), { exitCode: 137, output: '', timedOut: true });
    assert.equal(await processes(box, 'sleep 1004'), 0);
  });

  it('kills what the command left in its group when it exits', async () => {
    const result = await execInContainer(docker, box.id, ['sh', '-c', 'sleep 1001 >/dev/null 2>&1 & echo started'], base);
    assert.deepEqual(result, { exitCode: 0, output: 'started\n', timedOut: false });
    await untilProcesses(box, 'sleep 1001', 0);
    // A leftover that holds the output keeps the stream open until the timeout: then it is killed, and
    // the result is the command's own exit.
    const held = await execInContainer(docker, box.id, ['sh', '-c', 'sleep 1002 & echo started'], { ...base, timeoutMs: 800 });
    assert.deepEqual(held, { exitCode: 0, output: 'started\n', timedOut: false });
    await untilProcesses(box, 'sleep 1002', 0);
  });

  it('reports a command that cannot run as 127 (not found) or 126 (not executable, bad working directory)', async () => {
    const notFound = await execInContainer(docker, box.id, ['nosuch-command'], base);
    assert.equal(notFound.exitCode, 127);
    assert.match(notFound.output, /executable file not found/);
    assert.equal((await execInContainer(docker, box.id, ['/nosuch/bin'], base)).exitCode, 127);
    assert.equal((await execInContainer(docker, box.id, ['/etc/passwd'], base)).exitCode, 126);
    const badDir = await execInContainer(docker, box.id, ['pwd'], { ...base, workingDir: '/nonexistent' });
    assert.equal(badDir.exitCode, 126);
    assert.match(badDir.output, /nonexistent/);
    assert.deepEqual(await execInContainer(docker, box.id, [], base), { exitCode: 127, output: 'no command', timedOut: false });
  });

  it('keeps the first 4 KiB of a long output without blocking the command', async () => {
    // One stream only: the engine copies stdout and stderr separately, so a line on stderr may be framed before stdout written earlier.
    const result = await execInContainer(docker, box.id, ['sh', '-c', "head -c 200000 /dev/zero | tr '\\0' y; echo done"], base);
    assert.equal(result.exitCode, 0);
    assert.equal(result.output, 'y'.repeat(MAX_EXEC_OUTPUT));
  });

  it('refuses a container that is not running with CONTAINER_NOT_RUNNING', async () => {
    const gone = await runContainer(docker, image, 'exec-exited', ['true']);
    made.push(gone);
    await waitExited(gone);
    await assert.rejects(execInContainer(docker, gone.id, ['true'], base), (e: unknown) => {
      assert.ok(hasCode(e, 'CONTAINER_NOT_RUNNING'), String(e));
      assert.match((e as Error).message, /is not running/);
      return true;
    });
    await assert.rejects(execInContainer(docker, `${TEST_PREFIX}-nosuch`, ['true'], base), (e: unknown) => hasCode(e, 'CONTAINER_NOT_RUNNING'));
  });
});
