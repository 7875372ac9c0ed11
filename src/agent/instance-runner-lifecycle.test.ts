import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FakeDriver } from '../drivers/index.js';
import { dataDir, harness } from '../../test/runner-harness.js';
import { until } from '../../test/until.js';

/** A FakeDriver that notes, at each stop, how many statuses had been reported by then. */
class StopOrderDriver extends FakeDriver {
  readonly stopsAfterReports: number[] = [];
  reports = (): number => 0;
  override stop(h: Parameters<FakeDriver['stop']>[0], options: Parameters<FakeDriver['stop']>[1]): ReturnType<FakeDriver['stop']> {
    this.stopsAfterReports.push(this.reports());
    return super.stop(h, options);
  }
}

void describe('InstanceRunner: a container that exits', () => {
  void it('takes the instance out of the endpoints before it stops the other containers, then reports it failed', async () => {
    const driver = new StopOrderDriver();
    const h = harness({ command: ['x'] }, { driver, containers: [{ name: 'app', command: ['srv'] }, { name: 'side', command: ['helper'] }] });
    driver.reports = () => h.statuses.length;
    await h.settle();
    assert.equal(h.record().status.state, 'running');
    const before = h.statuses.length;
    driver.crash(h.record().id, 3, 'app');
    await until('a kick', () => h.kicks() > 0);
    await h.settle();
    const after = h.statuses.slice(before);
    assert.equal(after[0]?.state, 'running', 'first: still running (the side container is)…');
    assert.equal(after[0]?.health?.ready, false, '…but not ready: the proxy and DNS drop it now');
    assert.match(after[0]?.message ?? '', /container app exited with code 3; stopping the instance/);
    assert.equal(after.at(-1)?.state, 'failed');
    assert.deepEqual(driver.stopsAfterReports, [before + 1], 'the side container was stopped after the not-ready report');
  });

  void it('reports a single container\'s exit as one failed status (nothing else to stop)', async () => {
    const h = harness({ command: ['srv'] });
    await h.settle();
    const before = h.statuses.length;
    h.driver.crash(h.record().id, 2);
    await until('a kick', () => h.kicks() > 0);
    await h.settle();
    assert.deepEqual(h.statuses.slice(before).map((s) => s.state), ['failed']);
  });
});

/** A FakeDriver that keeps the user each container was started as. */
class UserRecordingDriver extends FakeDriver {
  readonly users: (string | undefined)[] = [];
  override start(config: Parameters<FakeDriver['start']>[0]): ReturnType<FakeDriver['start']> {
    this.users.push(config.user);
    return super.start(config);
  }
}

void describe('InstanceRunner: who runs what', () => {
  void it('starts a container without user as the node\'s instance user, and keeps a user the spec names', async () => {
    const driver = new UserRecordingDriver();
    const h = harness({ command: ['x'] }, { driver, instanceUser: 'berth', containers: [{ name: 'a', command: ['x'] }, { name: 'b', command: ['x'], user: 'alice' }] });
    await h.settle();
    assert.equal(h.record().status.state, 'running');
    assert.deepEqual(driver.users, ['berth', 'alice']);
    h.runner.detach();
    // A service's containers all have images or none has (they share a sandbox): images get their own instance.
    const images = new UserRecordingDriver();
    const hi = harness({ command: ['x'] }, { driver: images, instanceUser: 'berth', containers: [{ name: 'c', image: 'nginx' }, { name: 'd', image: 'nginx', user: 'alice' }] });
    await hi.settle();
    assert.equal(hi.record().status.state, 'running');
    assert.deepEqual(images.users, [undefined, 'alice'], 'an image container keeps its image\'s user');
    hi.runner.detach();
  });

  void it('leaves the user to the driver when the node has no instance user (the server is not root)', async () => {
    const driver = new UserRecordingDriver();
    const h = harness({ command: ['x'] }, { driver });
    await h.settle();
    assert.deepEqual(driver.users, [undefined]);
    h.runner.detach();
  });

  void it('hands a stateful slot\'s data directory to the instance user, 0700', { skip: process.getuid?.() !== 0 && 'needs root to chown' }, async () => {
    const h = harness({ command: ['x'] }, { instanceUser: 'nobody', stateful: true });
    await h.settle();
    const dir = join(dataDir, h.record().spec.dataDir ?? '');
    const st = statSync(dir);
    assert.equal(st.uid, 65534);
    assert.equal(st.mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, '..')).mode & 0o777, 0o711, 'the directories on the way are passable, not listable');
    h.runner.detach();
  });
});
