import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hasCode } from '../../lib/index.js';
import type { ContainerHandle, ContainerLogLine, LogReadOptions } from '../driver.js';
import { runDriverConformance, type ConformanceProgram } from '../driver-conformance.js';
import { ProcessDriver } from './process-driver.js';
import { toProcessHandle } from './process-handle.js';
import { ProcScanner, scanSubtree } from './proc-table.js';
import { containerTree } from './process-tree.js';
import { alive, buildShim, eventually, processConfig, scratchDir } from './test-support.js';

buildShim();
const scratch = scratchDir('process-driver');
after(() => scratch.dispose());

const programs: Record<ConformanceProgram, string[]> = {
  runs: ['sleep', '1000'],
  'exits-3': ['sh', '-c', 'exit 3'],
  // `trap ""` sets SIG_IGN, which its children (the sleeps) inherit: the whole group ignores SIGTERM.
  'ignores-stop': ['sh', '-c', 'trap "" TERM; echo ready; while :; do sleep 1; done'],
  'bad-command': ['berth-no-such-command'],
  'writes-logs': ['sh', '-c', 'echo one; echo two; echo oops >&2; echo three'],
};

runDriverConformance<ProcessDriver>({
  name: 'process',
  makeDriver: () => new ProcessDriver({ logPollMs: 50 }),
  makeConfig: (program) => processConfig(scratch.path, programs[program]),
  execArgv: (program) => (program === 'hangs' ? ['sh', '-c', 'sleep 30 & sleep 30'] : ['sh', '-c', 'echo "$PROBE_VAR"; pwd; exit 3']),
  disposeDriver: (driver) => driver.dispose(),
});

const TIMEOUT = { timeout: 20_000 };

async function collect(driver: ProcessDriver, handle: ContainerHandle, options: LogReadOptions = {}): Promise<ContainerLogLine[]> {
  const out: ContainerLogLine[] = [];
  for await (const line of driver.logs(handle, options)) out.push(line);
  return out;
}

void describe('ProcessDriver', () => {
  const drivers: ProcessDriver[] = [];
  const handles: { driver: ProcessDriver; handle: ContainerHandle }[] = [];
  /** A driver that this suite disposes; a "berth restart" is simply a second one. */
  const newDriver = (): ProcessDriver => {
    const d = new ProcessDriver({ pollMs: 200, logPollMs: 50 });
    drivers.push(d);
    return d;
  };
  const start = async (driver: ProcessDriver, argv: string[], overrides = {}): Promise<ContainerHandle> => {
    const handle = await driver.start(processConfig(scratch.path, argv, overrides));
    handles.push({ driver, handle });
    return handle;
  };
  after(async () => {
    for (const { driver, handle } of handles) await driver.stop(handle, { signal: 'SIGKILL', timeoutMs: 0 }).catch(() => {});
    for (const d of drivers) d.dispose();
  });

  before(() => newDriver());

  void it('re-adopts a running container from a new driver and reports 137 when its process is killed', TIMEOUT, async () => {
    const first = newDriver();
    const handle = await start(first, ['sleep', '1000']);
    first.dispose(); // berth is gone; the container is not
    const restarted = newDriver();
    assert.deepEqual(await restarted.recover(JSON.parse(JSON.stringify(handle)) as ContainerHandle), { state: 'running' });
    const waiting = restarted.wait(handle);
    process.kill(toProcessHandle(handle).pid, 'SIGKILL');
    const exit = await waiting;
    assert.equal(exit.exitCode, 137);
    assert.equal(exit.signal, 'SIGKILL');
    assert.match(exit.finishedAt ?? '', /Z$/);
  });

  void it('recovers a container killed while berth was down as exited with 137', TIMEOUT, async () => {
    const first = newDriver();
    const handle = toProcessHandle(await start(first, ['sleep', '1000']));
    first.dispose();
    process.kill(handle.pid, 'SIGKILL');
    await eventually(async () => !(await alive(handle.shimPid, handle.shimStartTicks)), 5000, 'the shim to record the exit');
    const recovered = await newDriver().recover(handle);
    assert.equal(recovered.state, 'exited');
    assert.equal(recovered.state === 'exited' && recovered.exit.exitCode, 137);
  });

  void it('reports a lost exit, and kills nothing, when the handle names a recycled pid', TIMEOUT, async () => {
    const driver = newDriver();
    const handle = toProcessHandle(await start(driver, ['sleep', '1000']));
    // Same pids, other start times: what a handle looks like after a reboot recycled them.
    const stale = { ...handle, startTicks: handle.startTicks + 1, shimStartTicks: handle.shimStartTicks + 1 };
    const recovered = await driver.recover(stale);
    assert.deepEqual(recovered, { state: 'exited', exit: { exitCode: 255, message: 'exit status lost: the supervisor ended without recording it' } });
    assert.deepEqual(await driver.recover(handle), { state: 'running' }, 'the real container was not touched');
    assert.equal(await driver.stats(stale), undefined);
  });

  void it('gives the container exactly config.env and config.workingDir', TIMEOUT, async () => {
    const driver = newDriver();
    const handle = await start(driver, ['sh', '-c', 'echo "$FOO|$HOME|$(pwd)"'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', FOO: 'bar' },
      workingDir: '/usr',
    });
    await driver.wait(handle);
    assert.deepEqual((await collect(driver, handle)).map((l) => l.text), ['bar||/usr']);
  });

  void it('runs the container as config.user when berth is root', { ...TIMEOUT, skip: process.getuid?.() !== 0 && 'needs root' }, async () => {
    const driver = newDriver();
    const handle = await start(driver, ['id', '-un'], { user: 'nobody' });
    await driver.wait(handle);
    assert.deepEqual((await collect(driver, handle)).map((l) => l.text), ['nobody']);
    await assert.rejects(start(driver, ['true'], { user: 'no-such-user-here' }), /no-such-user-here: no such user/);
  });

  void it('gives the log to config.user (0600) in a state directory it cannot change, and keeps the exit file 0600', { ...TIMEOUT, skip: process.getuid?.() !== 0 && 'needs root' }, async () => {
    const driver = newDriver();
    const handle = await start(driver, ['sh', '-c', 'echo hi; id -u'], { user: 'nobody' });
    await driver.wait(handle);
    const h = toProcessHandle(handle);
    const log = await stat(h.logPath);
    assert.equal(log.uid, 65534, 'the log belongs to the user the container runs as');
    assert.equal(log.mode & 0o777, 0o600);
    const dir = await stat(dirname(h.logPath));
    assert.equal(dir.uid, 0, 'the state directory stays the shim\'s');
    assert.equal(dir.mode & 0o777, 0o711, 'passable, not listable, not writable by others');
    assert.equal((await stat(h.exitFile)).mode & 0o777, 0o600);
    assert.deepEqual((await collect(driver, handle)).map((l) => l.text), ['hi', '65534']);
  });

  void it('never follows a symbolic link planted where the log goes', TIMEOUT, async () => {
    const driver = newDriver();
    const config = processConfig(scratch.path, ['sh', '-c', 'echo secret-line']);
    await mkdir(join(config.stateDir, 'logs'), { recursive: true }); // where a driver without exitDir logs
    const target = join(scratch.path, `victim-${config.instanceId}`);
    await writeFile(target, 'untouched\n');
    await symlink(target, join(config.stateDir, 'logs', 'main.log'));
    const handle = await driver.start(config);
    handles.push({ driver, handle });
    await driver.wait(handle);
    assert.equal(await readFile(target, 'utf8'), 'untouched\n', 'the shim wrote nothing through the link');
  });

  void it('rejects start with the reason when the working directory does not exist', TIMEOUT, async () => {
    const driver = newDriver();
    await assert.rejects(start(driver, ['true'], { workingDir: '/nonexistent/dir' }), (e: unknown) => {
      assert.ok(hasCode(e, 'CONTAINER_START_FAILED'));
      assert.match((e as Error).message, /working directory \/nonexistent\/dir: No such file or directory/);
      return true;
    });
  });

  void it('rejects start with a hint when the shim is missing', TIMEOUT, async () => {
    const driver = new ProcessDriver({ shimPath: '/nonexistent/berth-shim' });
    await assert.rejects(driver.start(processConfig(scratch.path, ['true'])), (e: unknown) => {
      assert.ok(hasCode(e, 'CONTAINER_START_FAILED'));
      assert.match((e as Error).message, /npm run build/);
      return true;
    });
  });

  void it('timestamps every line in order and tags stderr', TIMEOUT, async () => {
    const driver = newDriver();
    const handle = await start(driver, ['sh', '-c', 'for i in 1 2 3 4 5 6 7 8 9 10; do echo out-$i; done; echo err-1 >&2; printf "no newline"']);
    await driver.wait(handle);
    const lines = await collect(driver, handle);
    const out = lines.filter((l) => l.stream === 'stdout');
    assert.deepEqual(out.map((l) => l.text), [...Array.from({ length: 10 }, (_, i) => `out-${i + 1}`), 'no newline']);
    assert.deepEqual(lines.filter((l) => l.stream === 'stderr').map((l) => l.text), ['err-1']);
    const times = lines.map((l) => l.time);
    assert.deepEqual([...times].sort(), times);
    for (const t of times) assert.ok(Math.abs(Date.parse(t) - Date.now()) < 60_000, `${t} is now`);
  });

  void it('rotates by size, keeps at most maxFiles rotated files, and reads the tail across files', TIMEOUT, async () => {
    const driver = newDriver();
    const handle = toProcessHandle(
      await start(driver, ['sh', '-c', 'i=1; while [ $i -le 500 ]; do echo "line-$i"; i=$((i+1)); done'], {
        log: { maxBytes: 2000, maxFiles: 2 },
      }),
    );
    await driver.wait(handle);
    const dir = handle.logPath.slice(0, handle.logPath.lastIndexOf('/'));
    // Rotated files are numbered upwards for ever and only the newest two are kept.
    const rotated = (await readdir(dir))
      .filter((f) => f !== 'main.log')
      .map((f) => Number(/^main\.log\.([1-9]\d*)$/.exec(f)?.[1]))
      .sort((a, b) => a - b);
    assert.equal(rotated.length, 2);
    const newest = rotated[1] ?? 0;
    assert.ok(newest > 2, `rotated more often than maxFiles (newest: main.log.${newest})`);
    assert.deepEqual(rotated, [newest - 1, newest]);
    assert.ok((await readdir(dir)).includes('main.log'));
    const tail = await collect(driver, handle, { tail: 60 });
    assert.deepEqual(tail.map((l) => l.text), Array.from({ length: 60 }, (_, i) => `line-${441 + i}`));
    const all = await collect(driver, handle);
    assert.ok(all.length < 100, 'older lines were rotated away');
    assert.equal(all.at(-1)?.text, 'line-500');
  });

  void it('follows a log across rotations without losing or repeating lines', TIMEOUT, async () => {
    const driver = newDriver();
    const handle = await start(driver, ['sh', '-c', 'i=1; while [ $i -le 300 ]; do echo "line-$i"; i=$((i+1)); [ $((i % 25)) -eq 0 ] && sleep 0.02; done'], {
      log: { maxBytes: 1500, maxFiles: 100 },
    });
    const lines = await collect(driver, handle, { follow: true, signal: AbortSignal.timeout(15_000) });
    assert.deepEqual(lines.map((l) => l.text), Array.from({ length: 300 }, (_, i) => `line-${i + 1}`));
  });

  void it('returns a 40 KiB line whole', TIMEOUT, async () => {
    const driver = newDriver();
    const handle = await start(driver, ['sh', '-c', 'head -c 40960 /dev/zero | tr "\\0" x; echo; echo after']);
    await driver.wait(handle);
    const lines = await collect(driver, handle);
    assert.deepEqual(lines.map((l) => l.text.length), [40960, 5]);
    assert.ok(lines[0]?.text.split('').every((c) => c === 'x'));
    assert.deepEqual((await collect(driver, handle, { tail: 2 })).map((l) => l.text.length), [40960, 5]);
  });

  void it('shows the CPU time of a busy loop rising, and its memory', TIMEOUT, async () => {
    const driver = newDriver();
    const handle = await start(driver, ['sh', '-c', 'while :; do :; done']);
    await new Promise((r) => setTimeout(r, 100));
    const first = await driver.stats(handle);
    await new Promise((r) => setTimeout(r, 300));
    const second = await driver.stats(handle);
    assert.ok(first && second);
    assert.ok(second.cpuTimeMs > first.cpuTimeMs, `cpu ${first.cpuTimeMs} → ${second.cpuTimeMs} ms`);
    assert.ok(second.cpuTimeMs - first.cpuTimeMs >= 50, 'a busy loop uses most of a core');
    assert.ok(second.memoryBytes > 0);
    assert.equal(second.processes, 1);
    assert.ok(second.sampledAt > first.sampledAt);
  });

  void it('finds the same container tree under its shim as in all of /proc, daemons that left the group included', TIMEOUT, async () => {
    const driver = newDriver();
    // A child in the group, one that left it (setsid), and a daemon whose parent exited (reparented to the shim, the subreaper).
    const handle = toProcessHandle(await start(driver, ['sh', '-c', 'sleep 1000 & setsid sleep 1000 & (setsid sleep 1000 &) ; sleep 1000']));
    const scanner = new ProcScanner(0);
    assert.ok(scanSubtree(handle.shimPid), 'this kernel lists children (/proc/PID/task/TID/children)');
    // The shell forks as it goes (a subshell comes and goes): compare the two reads once the tree is
    // steady, i.e. when both see the same five processes; a subtree read that missed one never would.
    let whole: number[] = [];
    let subtree = scanSubtree(handle.shimPid);
    await eventually(
      async () => {
        whole = containerTree(await scanner.scan(true), handle).sort();
        subtree = scanSubtree(handle.shimPid);
        return whole.length === 5 && subtree !== undefined && JSON.stringify(containerTree(subtree, handle).sort()) === JSON.stringify(whole);
      },
      5000,
      'the same five processes in both reads',
    );
    assert.ok(subtree);
    assert.deepEqual(containerTree(subtree, handle).sort(), whole);
    assert.ok(subtree.entries.size <= whole.length + 1, `only the shim and its tree are read (${subtree.entries.size} entries)`);
    assert.equal((await driver.stats(handle))?.processes, 5);
    await driver.stop(handle, { signal: 'SIGKILL', timeoutMs: 1000 });
  });

  void it('stops the whole tree, including a child that left the process group', TIMEOUT, async () => {
    const driver = newDriver();
    const handle = toProcessHandle(await start(driver, ['sh', '-c', 'sleep 1000 & setsid sleep 1000 & sleep 1000']));
    const scanner = new ProcScanner(0);
    await eventually(async () => (await driver.stats(handle))?.processes === 4, 5000, 'four processes');
    const tree = containerTree(await scanner.scan(), handle);
    const before = await scanner.scan();
    const exit = await driver.stop(handle, { signal: 'SIGTERM', timeoutMs: 5000 });
    assert.equal(exit.exitCode, 143);
    const table = await scanner.scan(true);
    const survivors = tree.filter((pid) => table.entries.get(pid)?.startTicks === before.entries.get(pid)?.startTicks);
    assert.deepEqual(survivors, []);
    assert.deepEqual(table.group(handle.pgid), []);
  });

  void it('destroys the exit file but keeps the logs', TIMEOUT, async () => {
    const driver = newDriver();
    const handle = toProcessHandle(await start(driver, ['sh', '-c', 'echo bye']));
    await driver.wait(handle);
    await driver.destroy(handle);
    const dir = handle.exitFile.slice(0, handle.exitFile.lastIndexOf('/'));
    assert.deepEqual((await readdir(dir)).sort(), ['logs']);
    assert.deepEqual((await readdir(`${dir}/logs`)).sort(), ['main.log']);
  });

  void it('starts 100 containers quickly and idles cheaply while waiting on them', { timeout: 60_000 }, async () => {
    const driver = newDriver();
    const began = performance.now();
    const started = await Promise.all(Array.from({ length: 100 }, () => start(driver, ['sleep', '30'])));
    const took = performance.now() - began;
    console.log(`# 100 containers started in ${took.toFixed(0)} ms`);
    const adopter = newDriver(); // waits like a restarted berth: fs.watch and the liveness poll
    const waits = started.map((h) => adopter.wait(h));
    const cpu = process.cpuUsage();
    const idleFor = 1000;
    await new Promise((r) => setTimeout(r, idleFor));
    const used = process.cpuUsage(cpu);
    const percent = ((used.user + used.system) / 1000 / idleFor) * 100;
    console.log(`# idle CPU with 100 waited containers: ${percent.toFixed(2)} %`);
    assert.ok(percent < 10, `idle CPU ${percent.toFixed(1)} % means polling`);
    const stopBegan = performance.now();
    const exits = await Promise.all(started.map((h) => driver.stop(h, { signal: 'SIGTERM', timeoutMs: 5000 })));
    console.log(`# 100 containers stopped in ${(performance.now() - stopBegan).toFixed(0)} ms`);
    assert.ok(exits.every((e) => e.exitCode === 143));
    assert.ok((await Promise.all(waits)).every((e) => e.exitCode === 143));
  });
});

void describe('ProcessDriver.exec', () => {
  const driver = new ProcessDriver({ logPollMs: 50 });
  let handle: ContainerHandle;
  before(async () => {
    handle = await driver.start(processConfig(scratch.path, ['sleep', '1000']));
  });
  after(async () => {
    await driver.stop(handle, { signal: 'SIGKILL', timeoutMs: 0 }).catch(() => {});
    driver.dispose();
  });
  const options = { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, workingDir: '/', timeoutMs: 5000 };

  void it('resolves a command that cannot run with 127 and the reason, without a shell', TIMEOUT, async () => {
    const result = await driver.exec(handle, ['berth-no-such-command', '$HOME'], options);
    assert.equal(result.exitCode, 127);
    assert.match(result.output, /cannot run "berth-no-such-command".*ENOENT/);
    const literal = await driver.exec(handle, ['echo', '$HOME', '*'], options);
    assert.equal(literal.output, '$HOME *\n', 'arguments reach the command as given');
  });

  void it('keeps the first 4 KiB of a long output and still reads the command to its end', TIMEOUT, async () => {
    const result = await driver.exec(handle, ['sh', '-c', 'head -c 100000 /dev/zero | tr "\\0" x; exit 4'], options);
    assert.equal(result.exitCode, 4);
    assert.equal(result.output.length, 4096);
  });
});
