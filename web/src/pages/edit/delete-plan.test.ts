import { describe, expect, it } from 'vitest';
import type { Instance, Service, ServiceSpec, SlotVolume } from '../../../../src/model/index.js';
import { parseServiceSpec } from '../../../../src/model/index.js';
import { deleteOutcome, deletePlan, deleteRequest } from './delete-plan.js';

const spec = (input: Record<string, unknown>): ServiceSpec => parseServiceSpec({ name: 'db', containers: [{ command: ['sleep', '100'] }], ...input });
const service = (s: ServiceSpec, version = 7): Service => ({ grid: 'default', name: s.name, version, spec: s }) as unknown as Service;
const instance = (slot: number, state = 'running'): Instance =>
  ({ id: `db-${slot}-abcd`, slot, spec: { address: `127.11.14.${slot + 1}` }, status: { state } }) as unknown as Instance;
const volume = (slot: number, service = 'db'): SlotVolume => ({ grid: 'default', service, slot, node: 'n1', path: `/data/volumes/default/${service}/${slot}` });

describe('the delete plan', () => {
  const stateful = service(spec({ stateful: true, replicas: 2, clusterIP: '127.96.0.3', type: 'NodePort', ports: [{ port: 5432, nodePort: 30500 }], externalIPs: ['127.0.0.50'] }));

  it('lists instances, per-slot data, addresses and ports, and DNS names; only the data is optional', () => {
    const plan = deletePlan(stateful, [instance(2), instance(1), instance(3, 'shutdown')], [volume(1), volume(2), volume(1, 'other')]);
    expect(plan.map((r) => [r.kind, r.optional])).toEqual([
      ['instances', false],
      ['data', true],
      ['network', false],
      ['dns', false],
    ]);
    expect(plan[0]?.items).toEqual(['db-1-abcd (slot 1, 127.11.14.2)', 'db-2-abcd (slot 2, 127.11.14.3)']);
    expect(plan[1]?.items).toEqual(['slot 1: n1:/data/volumes/default/db/1', 'slot 2: n1:/data/volumes/default/db/2']);
    expect(plan[2]?.items).toEqual(['virtual IP 127.96.0.3', 'node port 30500/TCP', 'external address 127.0.0.50']);
    expect(plan[3]?.items).toEqual(['db.default.berth.local', 'db-1.default.berth.local', 'db-2.default.berth.local']);
  });

  it('lists hand-set endpoints of a service without containers, and no instances', () => {
    const manual = service(spec({ containers: [], clusterIP: '127.96.0.9', endpoints: ['10.0.0.1:5432'], ports: [{ port: 5432 }] }));
    const plan = deletePlan(manual, [], []);
    expect(plan.map((r) => r.kind)).toEqual(['network', 'dns', 'endpoints']);
    expect(plan.find((r) => r.kind === 'endpoints')?.items).toEqual(['10.0.0.1:5432']);
    expect(plan.find((r) => r.kind === 'network')?.items).toEqual(['virtual IP 127.96.0.9']);
  });

  it('asks the server to delete the data only when it is ticked, always with the version read', () => {
    expect(deleteRequest(stateful, false)).toEqual({ version: 7 });
    expect(deleteRequest(stateful, true)).toEqual({ version: 7, volumes: true });
  });

  it('says what is kept, with the CLI\'s hint, when the data is left unticked', () => {
    const plan = deletePlan(stateful, [instance(1)], [volume(1)]);
    const kept = deleteOutcome('db', plan, false);
    expect(kept.kept).toEqual(['per-slot data, slot 1: n1:/data/volumes/default/db/1']);
    expect(kept.removed).toEqual([
      '1 instance',
      'addresses and ports: virtual IP 127.96.0.3, node port 30500/TCP, external address 127.0.0.50',
      'DNS names: db.default.berth.local, db-1.default.berth.local',
    ]);
    expect(kept.hint).toMatch(/`berth service rm --volumes db` removes a service together with its data/);
    const gone = deleteOutcome('db', plan, true);
    expect(gone.kept).toEqual([]);
    expect(gone.removed).toContain('per-slot data, slot 1: n1:/data/volumes/default/db/1');
    expect(gone.hint).toBeUndefined();
  });
});
