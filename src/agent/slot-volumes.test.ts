import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { claimSlotVolume, listSlotVolumes, removeServiceVolumes, sweepRemovedVolumes } from './slot-volumes.js';

describe('slot data directories on a node', () => {
  const root = mkdtempSync(join(tmpdir(), 'berth-volumes-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  let n = 0;
  const fresh = (): string => {
    const d = join(root, String(++n));
    mkdirSync(d);
    return d;
  };
  const slotDir = (data: string, service: string, slot: number): string => join(data, 'volumes', 'default', service, String(slot));
  const where = (data: string, service = 'db') => ({ dataDir: data, node: 'node-1', grid: 'default', service });

  it('lists the slot directories that exist, by service and slot, without hidden or odd names', () => {
    const data = fresh();
    for (const [service, slot] of [['db', 2], ['db', 1], ['db', 10], ['cache', 1]] as const) mkdirSync(slotDir(data, service, slot), { recursive: true });
    mkdirSync(join(data, 'volumes', 'default', 'db', 'notaslot'));
    mkdirSync(join(data, 'volumes', '.removing-x'));
    assert.deepEqual(listSlotVolumes(data, 'node-1').map((v) => `${v.service}/${v.slot}`), ['cache/1', 'db/1', 'db/2', 'db/10']);
    assert.deepEqual(listSlotVolumes(data, 'node-1', { grid: 'default', service: 'db' }).map((v) => v.path), [1, 2, 10].map((s) => slotDir(data, 'db', s)));
    assert.deepEqual(listSlotVolumes(data, 'node-1', { grid: 'default', service: 'gone' }), []);
    assert.deepEqual(listSlotVolumes(fresh(), 'node-1'), [], 'no volumes directory at all');
  });

  it('a new service of the same name finds the data an earlier one left, once', () => {
    const data = fresh();
    assert.equal(claimSlotVolume(slotDir(data, 'db', 1), 'svc-old', where(data)), undefined, 'a first claim finds nothing');
    mkdirSync(slotDir(data, 'db', 1), { recursive: true });
    writeFileSync(join(slotDir(data, 'db', 1), 'PG_VERSION'), '16\n');
    mkdirSync(slotDir(data, 'db', 2), { recursive: true }); // empty: nothing to report
    assert.equal(claimSlotVolume(slotDir(data, 'db', 2), 'svc-old', where(data)), undefined, 'its own data is no news');

    const found = claimSlotVolume(slotDir(data, 'db', 1), 'svc-new', where(data));
    assert.deepEqual(found, { previousServiceId: 'svc-old', slots: [{ grid: 'default', service: 'db', slot: 1, node: 'node-1', path: slotDir(data, 'db', 1) }] });
    assert.equal(claimSlotVolume(slotDir(data, 'db', 2), 'svc-new', where(data)), undefined, 'said once: the directory is the new service\'s now');
  });

  it('removal takes the directory away at once, so a new service of the same name starts empty, and deletes it', async () => {
    const data = fresh();
    mkdirSync(slotDir(data, 'db', 1), { recursive: true });
    writeFileSync(join(slotDir(data, 'db', 1), 'data'), 'x');
    const { removed, done } = removeServiceVolumes(data, 'node-1', 'default', 'db');
    assert.deepEqual(removed.map((v) => v.slot), [1]);
    assert.equal(existsSync(join(data, 'volumes', 'default', 'db')), false, 'gone before the deletion finished');
    mkdirSync(slotDir(data, 'db', 1), { recursive: true });
    await done;
    assert.deepEqual(readdirSync(slotDir(data, 'db', 1)), [], 'the new directory is not touched');
    assert.deepEqual(readdirSync(join(data, 'volumes')).filter((d) => d.startsWith('.')), []);
    assert.deepEqual(removeServiceVolumes(data, 'node-1', 'default', 'never').removed, []);
  });

  it('a deletion a crash interrupted is finished at the next start', async () => {
    const data = fresh();
    mkdirSync(join(data, 'volumes', '.removing-default-db-1234', '1'), { recursive: true });
    mkdirSync(slotDir(data, 'web', 1), { recursive: true });
    await sweepRemovedVolumes(data);
    assert.deepEqual(readdirSync(join(data, 'volumes')), ['default']);
    await sweepRemovedVolumes(fresh());
  });
});
