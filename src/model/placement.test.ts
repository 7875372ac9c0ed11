import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeFacts } from './placement.js';
import { PlacementSchema, constraintHolds, parseConstraint, placementProblems } from './placement.js';
import { parseServiceSpec } from './validate-service-spec.js';

const NODE: NodeFacts = { name: 'n1', id: 'f00dfeed0123456789abcdef0', role: 'manager', os: 'linux', arch: 'x86_64', labels: {}, engineLabels: {} };
const holds = (c: string, node: NodeFacts = NODE): boolean => constraintHolds(parseConstraint(c), node);
const placement = (p: unknown) => PlacementSchema.parse(p);

describe('placement constraints (swarmkit manager/constraint)', () => {
  it('splits at the first operator and trims, with swarmkit\'s messages for what does not parse', () => {
    assert.deepEqual(parseConstraint(' node.role == manager '), { key: 'node.role', operator: '==', value: 'manager' });
    assert.deepEqual(parseConstraint('node.labels.zone!=b'), { key: 'node.labels.zone', operator: '!=', value: 'b' });
    assert.throws(() => parseConstraint('node.role=manager'), /constraint expected one operator from ==, !=/);
    assert.throws(() => parseConstraint('no de==x'), /key 'no de' is invalid/);
    assert.throws(() => parseConstraint('node.role==a<b'), /value 'a<b' is invalid/);
  });

  it('matches this node\'s attributes case-insensitively; node.id takes the id or the name; arch by Go\'s or uname\'s name', () => {
    assert.equal(holds('node.role==manager'), true);
    assert.equal(holds('node.role==Manager'), true);
    assert.equal(holds('node.role!=manager'), false);
    assert.equal(holds('node.hostname==n1'), true);
    assert.equal(holds(`node.id==${NODE.id}`), true);
    assert.equal(holds('node.id==n1'), true);
    assert.equal(holds('node.platform.os==linux'), true);
    assert.equal(holds('node.platform.arch==amd64'), true);
    assert.equal(holds('node.platform.arch==arm64'), false);
  });

  it('never meets a label it does not have (== fails, != holds) nor an unknown key', () => {
    assert.equal(holds('node.labels.zone==a'), false);
    assert.equal(holds('node.labels.zone!=a'), true);
    assert.equal(holds('engine.labels.x==y'), false);
    assert.equal(holds('node.colour==blue'), false);
    assert.equal(holds('node.colour!=blue'), false);
    assert.equal(holds('node.labels.zone==a', { ...NODE, labels: { zone: 'a' } }), true);
  });

  it('names each constraint no node meets, with the nodes\' values; and platforms and replicas per node', () => {
    const p = placement({ constraints: ['node.role==manager', 'node.role==worker', 'node.colour==blue'] });
    assert.deepEqual(placementProblems(p, 1, [NODE], 'spec.placement').map((e) => [e.field, e.detail]), [
      ['spec.placement.constraints[1]', 'no node meets it (node n1 has node.role=manager)'],
      ['spec.placement.constraints[2]', 'no node meets it: "node.colour" is not a node attribute (node.id, node.hostname, node.role, node.platform.os, node.platform.arch, node.labels.<key>, engine.labels.<key>)'],
    ]);
    assert.deepEqual(placementProblems(placement({ platforms: [{ os: 'windows', architecture: 'amd64' }] }), 1, [NODE], 'p').map((e) => e.field), ['p.platforms']);
    assert.deepEqual(placementProblems(placement({ platforms: [{ os: 'linux', architecture: 'amd64' }], constraints: ['node.role==manager'] }), 1, [NODE], 'p'), []);
    assert.deepEqual(placementProblems(placement({ maxReplicasPerNode: 2 }), 3, [NODE], 'p').map((e) => e.field), ['p.maxReplicasPerNode']);
    assert.deepEqual(placementProblems(placement({ maxReplicasPerNode: 2 }), 2, [NODE], 'p'), []);
  });

  it('is refused at parse time when a constraint does not parse, and left out of the spec when empty', () => {
    assert.throws(() => parseServiceSpec({ name: 'web', containers: [{ command: ['x'] }], placement: { constraints: ['node.role'] } }), /spec\.placement\.constraints\[0\]: Invalid value: "node\.role": constraint expected one operator/);
    assert.equal(parseServiceSpec({ name: 'web', containers: [{ command: ['x'] }], placement: {} }).placement, undefined);
    assert.deepEqual(parseServiceSpec({ name: 'web', containers: [{ command: ['x'] }], placement: { constraints: ['node.role==manager'] } }).placement, {
      constraints: ['node.role==manager'],
      preferences: [],
      platforms: [],
      maxReplicasPerNode: 0,
    });
  });
});

describe('placement.moveStatefulSlots', () => {
  it('is kept for a stateful service and refused, with the field, for a stateless one', () => {
    const spec = parseServiceSpec({ name: 'db', stateful: true, placement: { moveStatefulSlots: true }, containers: [{ command: ['db'] }] });
    assert.equal(spec.placement?.moveStatefulSlots, true);
    assert.throws(
      () => parseServiceSpec({ name: 'web', placement: { moveStatefulSlots: true }, containers: [{ command: ['web'] }] }),
      (e: unknown) => /spec\.placement\.moveStatefulSlots: Forbidden: applies to stateful services only/.test(String((e as Error).message)),
    );
    assert.equal(parseServiceSpec({ name: 'db', stateful: true, placement: { moveStatefulSlots: false }, containers: [{ command: ['db'] }] }).placement, undefined, 'false is the default: an empty placement');
  });
});
